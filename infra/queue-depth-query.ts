import { SCALER_QUERY } from "../app/durability/scaler-role.js";

/**
 * The SQL KEDA's postgresql trigger runs to size the worker Deployment: runs waiting (ENQUEUED) plus
 * running (PENDING) on mesh's run queues, read through the view the migration creates for KEDA's own
 * least-privilege role (app/durability/scaler-role.ts).
 */
export function queueDepthQuery(): string {
  return SCALER_QUERY;
}
