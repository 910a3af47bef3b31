import { RUN_QUEUES } from "../app/queue-names.js";

/** The DBOS application name mesh registers with (`DBOS.setConfig({ name })`). */
export const DBOS_APPLICATION_NAME = "mesh";

/**
 * The SQL KEDA's postgresql trigger runs to size the worker Deployment: runs waiting (ENQUEUED) plus
 * running (PENDING) on mesh's run queues. It uses DBOS's in-flight index on (queue_name, status).
 * Queue names come from app/queue-names.ts, the same module the service reads.
 */
export function queueDepthQuery(): string {
  const queues = RUN_QUEUES.map((queue) => `'${queue.replaceAll("'", "''")}'`).join(", ");
  return (
    "SELECT count(*) FROM dbos.workflow_status" +
    ` WHERE queue_name IN (${queues})` +
    " AND status IN ('ENQUEUED', 'PENDING')" +
    ` AND application_name = '${DBOS_APPLICATION_NAME}'`
  );
}
