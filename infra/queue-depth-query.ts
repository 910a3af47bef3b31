import { versionScalerQuery } from "../app/durability/scaler-role.js";

/**
 * The SQL KEDA's postgresql trigger runs to size a worker Deployment: its workflow version's runs waiting
 * (ENQUEUED) plus running (PENDING) on mesh's run queues, read through the view the migration creates for
 * KEDA's own least-privilege role (app/durability/scaler-role.ts). `current`: the release's own workers
 * (mesh-worker), as opposed to a draining version's.
 */
export function queueDepthQuery(workflowVersion: string, current: boolean): string {
  return versionScalerQuery(workflowVersion, { current });
}
