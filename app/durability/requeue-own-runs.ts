import { DBOSClient } from "@dbos-inc/dbos-sdk";
import { log } from "../log.js";
import { RUN_QUEUES } from "../queue-names.js";

/**
 * Puts the runs an executor still has PENDING back on their original queues, so a live worker
 * continues them from their last checkpoint. Uses DBOS's public client API (listWorkflows +
 * resumeWorkflows with queueName). Returns how many runs were put back.
 */
export async function requeuePendingRuns(databaseUrl: string, executorId: string): Promise<number> {
  const client = await DBOSClient.create({ systemDatabaseUrl: databaseUrl, applicationName: "mesh" });
  try {
    const pending = await client.listWorkflows({ status: "PENDING", executorId, queueName: [...RUN_QUEUES] });
    const byQueue = new Map<string, string[]>();
    for (const run of pending) {
      if (!run.queueName) continue;
      byQueue.set(run.queueName, [...(byQueue.get(run.queueName) ?? []), run.workflowID]);
    }
    for (const [queueName, ids] of byQueue) await client.resumeWorkflows(ids, { queueName });
    if (pending.length > 0)
      log.info({ executorId, runs: pending.length }, "re-enqueued runs still pending here");
    return pending.length;
  } finally {
    await client.destroy();
  }
}
