import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface KedaArgs {
  k8sProvider: k8s.Provider;
  /** Version of the official chart (https://kedacore.github.io/charts). */
  chartVersion: string;
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
    this.chart = new k8s.helm.v4.Chart(
      `${name}-chart`,
      {
        name: "keda",
        namespace: namespace.metadata.name,
        chart: "keda",
        version: args.chartVersion,
        repositoryOpts: { repo: "https://kedacore.github.io/charts" },
      },
      { parent: this, provider: args.k8sProvider },
    );
    this.registerOutputs({});
  }
}
