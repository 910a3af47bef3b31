import { createHash, randomUUID } from "node:crypto";
import { DBOS, type WorkflowStatus } from "@dbos-inc/dbos-sdk";
import { THREAD_GATE_QUEUE } from "../queue-names.js";
import { agentRun } from "../workflows/agent-run.js";
import { RUN_WORKFLOW_NAMES, type RunView, toRunView } from "./run-view.js";

export class RunConflictError extends Error {
  override name = "RunConflictError";
}

export interface EnqueueRunRequest {
  threadId: string;
  input: string;
  idempotencyKey?: string;
  /** DBOS applicationVersion to stamp (the dispatch version, app/durability/dispatch-version.ts). */
  applicationVersion?: string;
}

/** The run ID for a request: derived from the idempotency key when there is one, so retries land on one run. */
export function runIdFor(threadId: string, idempotencyKey: string | undefined): string {
  if (idempotencyKey === undefined) return `run-${randomUUID()}`;
  const digest = createHash("sha256").update(threadId).update("\0").update(idempotencyKey).digest("hex");
  return `run-${digest.slice(0, 32)}`;
}

/** Puts an agent run on the thread-gate queue (one active run per thread) and returns it. */
export async function enqueueRun(request: EnqueueRunRequest): Promise<RunView> {
  const runId = runIdFor(request.threadId, request.idempotencyKey);
  await DBOS.startWorkflow(agentRun, {
    workflowID: runId,
    queueName: THREAD_GATE_QUEUE,
    enqueueOptions: {
      queuePartitionKey: request.threadId,
      ...(request.applicationVersion ? { applicationVersion: request.applicationVersion } : {}),
    },
  })({ threadId: request.threadId, input: request.input, enqueuedAt: Date.now() });

  const run = await readRun(runId);
  if (!run) throw new Error(`run ${runId} vanished right after it was enqueued`);
  if (request.idempotencyKey !== undefined && run.input !== request.input) {
    throw new RunConflictError(
      `idempotencyKey ${JSON.stringify(request.idempotencyKey)} was already used on this thread with a different input`,
    );
  }
  return run;
}

export async function readRunStatus(runId: string): Promise<WorkflowStatus | undefined> {
  const [status] = await DBOS.listWorkflows({ workflowIDs: [runId], loadInput: true, loadOutput: true });
  if (!status || !RUN_WORKFLOW_NAMES.includes(status.workflowName)) return undefined;
  return status;
}

export async function readRun(runId: string): Promise<RunView | undefined> {
  const status = await readRunStatus(runId);
  return status ? toRunView(status) : undefined;
}

/** Cancels a run; false when there is no such run. Cancelling a finished run changes nothing. */
export async function cancelRun(runId: string): Promise<RunView | undefined> {
  const run = await readRun(runId);
  if (!run) return undefined;
  if (run.status === "ENQUEUED" || run.status === "PENDING") await DBOS.cancelWorkflow(runId);
  return (await readRun(runId)) ?? run;
}

/** The most recent runs, newest first (outputs included: a console shows them at a glance). */
export async function listRecentRuns(limit: number): Promise<RunView[]> {
  const statuses = await DBOS.listWorkflows({
    workflowName: RUN_WORKFLOW_NAMES,
    limit,
    sortDesc: true,
    loadInput: true,
    loadOutput: true,
  });
  return statuses.map(toRunView);
}
