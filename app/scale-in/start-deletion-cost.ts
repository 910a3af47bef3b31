import type { InClusterPod } from "../config.js";
import type { ExecutionGate } from "../durability/execution-gate.js";
import { log } from "../log.js";
import { DeletionCostReporter } from "./deletion-cost.js";
import { InClusterApi } from "./in-cluster-api.js";

/**
 * Starts keeping this pod's pod-deletion-cost equal to the run bodies executing here. Failing to read the
 * ServiceAccount's CA (no token mounted) is said once and leaves scale-in to Kubernetes' default order.
 */
export function startDeletionCost(pod: InClusterPod, gate: ExecutionGate): DeletionCostReporter | undefined {
  let api: InClusterApi;
  try {
    api = new InClusterApi({ host: pod.apiHost, port: pod.apiPort });
  } catch (error) {
    log.error(
      { err: (error as Error).message },
      "MESH_POD_DELETION_COST is on but this pod has no ServiceAccount token: scale-in may pick a busy worker",
    );
    return undefined;
  }
  const reporter = new DeletionCostReporter({
    patch: (annotations) => api.patchPodAnnotations(pod.namespace, pod.podName, annotations),
  });
  gate.watchRunning((running) => reporter.update(running));
  reporter.start();
  return reporter;
}
