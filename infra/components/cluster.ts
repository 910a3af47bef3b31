import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface ClusterArgs {
  /** `eks`: read an existing EKS cluster by name; `kubeconfig`: the ambient kubeconfig (kind, minikube). */
  mode: "eks" | "kubeconfig";
  /** EKS cluster name (mode eks). */
  name?: string;
  /** AWS region for `aws eks get-token`; default: the AWS CLI's own. */
  region?: string;
  /** kubeconfig context (mode kubeconfig); default: the current context. */
  context?: string;
}

/**
 * Secrets change in place. By default the provider replaces a Secret whose data changes, and the engine
 * then replaces every resource that depends on it — the Deployments: all pods deleted at once. Found by
 * the real-engine suite (a rotated apiToken); in place, the Secret's new resourceVersion rolls the pods.
 */
const PROVIDER_BEHAVIOUR = { enableSecretMutable: true };

/** The network facts of an EKS cluster that RDS needs. */
export interface ClusterNetwork {
  vpcId: pulumi.Output<string>;
  clusterSecurityGroupId: pulumi.Output<string>;
  /** The EKS cluster's name and ARN: Pod Identity associations name the one, trust policies the other. */
  clusterName: pulumi.Output<string>;
  clusterArn: pulumi.Output<string>;
}

/**
 * A kubeconfig for an EKS cluster that carries no credentials: it runs `aws eks get-token` as whoever
 * uses it. Values are plain (the preflight) or Outputs (the provider).
 */
export function eksKubeconfig<T>(clusterName: string, endpoint: T, certificateAuthority: T, region?: string) {
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: clusterName,
        cluster: { server: endpoint, "certificate-authority-data": certificateAuthority },
      },
    ],
    contexts: [{ name: clusterName, context: { cluster: clusterName, user: clusterName } }],
    "current-context": clusterName,
    users: [
      {
        name: clusterName,
        user: {
          exec: {
            apiVersion: "client.authentication.k8s.io/v1beta1",
            command: "aws",
            args: [
              "eks",
              "get-token",
              "--cluster-name",
              clusterName,
              ...(region ? ["--region", region] : []),
            ],
          },
        },
      },
    ],
  };
}

/**
 * The Kubernetes cluster mesh deploys into, and a provider for it. For EKS the kubeconfig carries no
 * credentials: it runs `aws eks get-token`, so the stack state holds none either.
 */
export class Cluster extends pulumi.ComponentResource {
  readonly provider: k8s.Provider;
  /** Present for mode eks. */
  readonly network?: ClusterNetwork;

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mesh:infra:Cluster", name, {}, opts);
    if (args.mode === "eks") {
      const clusterName = args.name ?? "";
      const eks = aws.eks.getClusterOutput({ name: clusterName }, { parent: this });
      const kubeconfig = pulumi.jsonStringify(
        eksKubeconfig(clusterName, eks.endpoint, eks.certificateAuthorities[0]?.data, args.region),
      );
      this.provider = new k8s.Provider(
        `${name}-eks`,
        { kubeconfig, ...PROVIDER_BEHAVIOUR },
        { parent: this },
      );
      this.network = {
        vpcId: eks.vpcConfig.vpcId,
        clusterSecurityGroupId: eks.vpcConfig.clusterSecurityGroupId,
        clusterName: eks.name,
        clusterArn: eks.arn,
      };
    } else {
      this.provider = new k8s.Provider(
        `${name}-kubeconfig`,
        { context: args.context, ...PROVIDER_BEHAVIOUR },
        { parent: this },
      );
    }
    this.registerOutputs({ mode: args.mode });
  }
}
