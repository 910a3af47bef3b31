import { DBOSClient, type GetWorkflowsInput, type WorkflowStatus } from "@dbos-inc/dbos-sdk";
import { log } from "../log.js";
import { RUN_QUEUES } from "../queue-names.js";

/** The two DBOS calls re-enqueueing needs; both the launched `DBOS` class and a `DBOSClient` have them. */
export interface WorkflowAdmin {
  listWorkflows(input: GetWorkflowsInput): Promise<WorkflowStatus[]>;
  resumeWorkflows(workflowIDs: string[], options?: { queueName?: string }): Promise<unknown>;
}

/**
 * Puts the runs an executor has PENDING back on their original queues (DBOS's public API:
 * listWorkflows + resumeWorkflows with queueName; the thread partition is kept), so a live worker
 * continues each from its last checkpoint. Returns the IDs it put back.
 */
export async function requeuePendingRunsOf(
  admin: WorkflowAdmin,
  executorId: string,
  except: ReadonlySet<string> = new Set(),
): Promise<string[]> {
  const pending = (
    await admin.listWorkflows({ status: "PENDING", executorId, queueName: [...RUN_QUEUES] })
  ).filter((run) => !except.has(run.workflowID));
  const byQueue = new Map<string, string[]>();
  for (const run of pending) {
    if (run.queueName) byQueue.set(run.queueName, [...(byQueue.get(run.queueName) ?? []), run.workflowID]);
  }
  for (const [queueName, ids] of byQueue) await admin.resumeWorkflows(ids, { queueName });
  return pending.map((run) => run.workflowID);
}

/**
 * On shutdown: re-enqueues what this executor still has PENDING, through a short-lived DBOSClient, except
 * the runs whose bodies ended here (`finishedHere`: DBOS records their outcome; re-running one would
 * execute it twice). Returns how many runs were put back.
 */
export async function requeuePendingRuns(
  databaseUrl: string,
  executorId: string,
  finishedHere: ReadonlySet<string> = new Set(),
): Promise<number> {
  const client = await DBOSClient.create({ systemDatabaseUrl: databaseUrl, applicationName: "mesh" });
  try {
    const runs = await requeuePendingRunsOf(client, executorId, finishedHere);
    if (runs.length > 0) log.info({ executorId, runs: runs.length }, "re-enqueued runs still pending here");
    return runs.length;
  } finally {
    await client.destroy();
  }
}
