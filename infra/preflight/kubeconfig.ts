import { KubeConfig } from "@kubernetes/client-node";
import * as aws from "@pulumi/aws";
import { eksKubeconfig } from "../components/cluster.js";
import type { MeshConfig } from "../config.js";

/**
 * The kubeconfig the preflight reads the cluster with: the one the stack's Kubernetes provider uses (the
 * ambient kubeconfig and context, or the EKS cluster's, authenticating with `aws eks get-token` as the
 * identity running pulumi).
 */
export async function preflightKubeConfig(cluster: MeshConfig["cluster"]): Promise<KubeConfig> {
  const kubeConfig = new KubeConfig();
  if (cluster.mode === "eks") {
    const eks = await aws.eks.getCluster({ name: cluster.name ?? "" });
    const document = eksKubeconfig(
      eks.name,
      eks.endpoint,
      eks.certificateAuthorities[0]?.data ?? "",
      cluster.region,
    );
    kubeConfig.loadFromString(JSON.stringify(document));
  } else {
    kubeConfig.loadFromDefault();
    if (cluster.context) kubeConfig.setCurrentContext(cluster.context);
  }
  return kubeConfig;
}
