import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  DATABASE_CA_REVISION_ANNOTATION,
  databaseCaConfigMap,
  databaseCaRevision,
  databaseCaVolume,
  databaseCaVolumeMount,
} from "./database-ca.js";

export interface KedaArgs {
  k8sProvider: k8s.Provider;
  /** Version of the official chart (https://kedacore.github.io/charts). */
  chartVersion: string;
  /**
   * The database's CA bundle: KEDA's operator runs the scaler's query over its own connection, whose URL
   * names the bundle at DATABASE_CA_PATH (infra/database-tls.ts), so the operator mounts it there too.
   */
  databaseCaBundle?: string;
}

/**
 * KEDA, for worker.autoscaling.mode=queueDepth on clusters that do not run it yet (keda.install=true).
 * It is cluster-wide, so it gets its own namespace; install it from one stack per cluster only.
 */
export class Keda extends pulumi.ComponentResource {
  readonly chart: k8s.helm.v4.Chart;

  constructor(name: string, args: KedaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mesh:infra:Keda", name, {}, opts);
    const namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      { metadata: { name: "keda" } },
      { parent: this, provider: args.k8sProvider },
    );
    const caConfigMap = args.databaseCaBundle
      ? databaseCaConfigMap(
          `${name}-database-ca`,
          namespace.metadata.name,
          args.databaseCaBundle,
          { "app.kubernetes.io/part-of": "mesh" },
          { parent: this, provider: args.k8sProvider },
        )
      : undefined;
    this.chart = new k8s.helm.v4.Chart(
      `${name}-chart`,
      {
        name: "keda",
        namespace: namespace.metadata.name,
        chart: "keda",
        version: args.chartVersion,
        repositoryOpts: { repo: "https://kedacore.github.io/charts" },
        ...(args.databaseCaBundle
          ? {
              // The chart's own keys for the operator's extra volumes (values.yaml `volumes.keda`).
              values: {
                volumes: {
                  keda: { extraVolumes: [databaseCaVolume], extraVolumeMounts: [databaseCaVolumeMount] },
                },
                podAnnotations: {
                  keda: { [DATABASE_CA_REVISION_ANNOTATION]: databaseCaRevision(args.databaseCaBundle) },
                },
              },
            }
          : {}),
      },
      { parent: this, provider: args.k8sProvider, dependsOn: caConfigMap ? [caConfigMap] : [] },
    );
    this.registerOutputs({});
  }
}
