import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface NatsArgs {
  mode: "helm" | "external";
  namespace: pulumi.Input<string>;
  k8sProvider: k8s.Provider;
  /** NATS URL (mode external), a secret. */
  externalUrl?: pulumi.Output<string>;
  /** Server replicas: 1, or 3+ for a JetStream cluster. Default 1. */
  replicas?: number;
  /** Version of the official chart (https://nats-io.github.io/k8s/helm/charts/). */
  chartVersion: string;
  /** JetStream file store PVC size. Default 10Gi. */
  fileStorageSize?: string;
  /** JetStream memory store limit. Default 256Mi. */
  memoryStorageSize?: string;
  storageClassName?: string;
}

export const NATS_RELEASE = "nats";

/** NATS with JetStream for run output: the official Helm chart in the namespace, or an external server. */
export class Nats extends pulumi.ComponentResource {
  readonly natsUrl: pulumi.Output<string>;

  constructor(name: string, args: NatsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mesh:infra:Nats", name, {}, opts);
    if (args.mode === "external") {
      if (!args.externalUrl) throw new Error("mode external needs externalUrl");
      this.natsUrl = args.externalUrl;
    } else {
      const replicas = args.replicas ?? 1;
      // helm.v4.Chart registers every rendered object as its own resource: previews diff them one by one.
      new k8s.helm.v4.Chart(
        `${name}-chart`,
        {
          name: NATS_RELEASE,
          namespace: args.namespace,
          chart: "nats",
          version: args.chartVersion,
          repositoryOpts: { repo: "https://nats-io.github.io/k8s/helm/charts/" },
          values: {
            config: {
              cluster: { enabled: replicas >= 3, replicas },
              jetstream: {
                enabled: true,
                fileStore: {
                  enabled: true,
                  pvc: {
                    enabled: true,
                    size: args.fileStorageSize ?? "10Gi",
                    ...(args.storageClassName ? { storageClassName: args.storageClassName } : {}),
                  },
                },
                memoryStore: { enabled: true, maxSize: args.memoryStorageSize ?? "256Mi" },
              },
            },
            podTemplate: {
              topologySpreadConstraints: {
                "topology.kubernetes.io/zone": { maxSkew: 1, whenUnsatisfiable: "ScheduleAnyway" },
              },
            },
            natsBox: { enabled: false },
          },
        },
        { parent: this, provider: args.k8sProvider },
      );
      this.natsUrl = pulumi.interpolate`nats://${NATS_RELEASE}.${args.namespace}.svc.cluster.local:4222`;
    }
    this.registerOutputs({ natsUrl: this.natsUrl });
  }
}
