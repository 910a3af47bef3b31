import { setTimeout as sleep } from "node:timers/promises";
import type { ControlPlane } from "../../control-plane/control-plane.js";
import { waitFor } from "../../support/wait.js";

interface PodList {
  items: {
    metadata: { name: string; namespace: string; deletionTimestamp?: string };
    spec: { nodeName?: string };
    status: { phase?: string };
  }[];
}

interface DeploymentList {
  items: {
    metadata: { name: string };
    spec: { replicas?: number };
    status: {
      updatedReplicas?: number;
      readyReplicas?: number;
      availableReplicas?: number;
      replicas?: number;
    };
  }[];
}

/** `kubectl cordon` / `uncordon`. */
export async function setUnschedulable(cluster: ControlPlane, node: string, unschedulable: boolean) {
  const response = await cluster.api("PATCH", `/api/v1/nodes/${node}`, { spec: { unschedulable } });
  if (response.status !== 200)
    throw new Error(`cordon ${node}: ${response.status} ${JSON.stringify(response.body)}`);
}

/**
 * `kubectl drain`: cordon, then evict every pod of the namespace on the node through the Eviction API, each
 * retried while a PodDisruptionBudget refuses it (429), all at once as kubectl does; waits until the pods
 * are gone and every Deployment of the namespace is fully available again elsewhere; then uncordons.
 * Returns how many evictions the budgets refused before they were allowed.
 */
export async function drainNode(cluster: ControlPlane, node: string, namespace: string): Promise<number> {
  await setUnschedulable(cluster, node, true);
  const podsOnNode = async () =>
    (
      await cluster.api<PodList>(
        "GET",
        `/api/v1/namespaces/${namespace}/pods?fieldSelector=spec.nodeName=${node}`,
      )
    ).body.items.filter((pod) => pod.status.phase !== "Succeeded" && pod.status.phase !== "Failed");
  let refused = 0;
  const evict = async (name: string) => {
    for (;;) {
      const response = await cluster.api("POST", `/api/v1/namespaces/${namespace}/pods/${name}/eviction`, {
        apiVersion: "policy/v1",
        kind: "Eviction",
        metadata: { name, namespace },
      });
      if (response.status === 201 || response.status === 200 || response.status === 404) return;
      if (response.status !== 429)
        throw new Error(`evict ${name}: ${response.status} ${JSON.stringify(response.body)}`);
      refused += 1;
      await sleep(1_000);
    }
  };
  await Promise.all((await podsOnNode()).map((pod) => evict(pod.metadata.name)));
  await waitFor(`the pods of ${node} to be gone`, async () => (await podsOnNode()).length === 0, {
    timeoutMs: 240_000,
    intervalMs: 500,
  });
  await waitForDeploymentsAvailable(cluster, namespace);
  await setUnschedulable(cluster, node, false);
  return refused;
}

/** Every Deployment of the namespace has all its replicas updated, ready and available. */
export async function waitForDeploymentsAvailable(cluster: ControlPlane, namespace: string): Promise<void> {
  await waitFor(
    `the Deployments of ${namespace} to be available`,
    async () => {
      const deployments = (
        await cluster.api<DeploymentList>("GET", `/apis/apps/v1/namespaces/${namespace}/deployments`)
      ).body.items;
      return deployments.every(({ spec, status }) => {
        const want = spec.replicas ?? 1;
        return (
          status.updatedReplicas === want &&
          status.readyReplicas === want &&
          status.availableReplicas === want &&
          status.replicas === want
        );
      });
    },
    { timeoutMs: 240_000, intervalMs: 500 },
  );
}

/** Which node each running mesh pod is on (for the report). */
export async function podPlacement(cluster: ControlPlane, namespace: string): Promise<string[]> {
  const pods = (await cluster.api<PodList>("GET", `/api/v1/namespaces/${namespace}/pods`)).body.items;
  return pods
    .filter((pod) => !pod.metadata.deletionTimestamp && pod.status.phase === "Running")
    .map((pod) => `${pod.metadata.name}@${pod.spec.nodeName}`)
    .sort();
}
