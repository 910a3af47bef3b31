import type { WorkflowStatus } from "@dbos-inc/dbos-sdk";
import { AGENT_RUN_WORKFLOW } from "../workflows/agent-run.js";
import {
  AUTOMATION_RUN_WORKFLOW,
  type AutomationContext,
  automationThreadId,
} from "../workflows/automation-run.js";
import { isRunResult, type RunRequest, type RunResult } from "../workflows/run-types.js";

export const RUN_WORKFLOW_NAMES = [AGENT_RUN_WORKFLOW, AUTOMATION_RUN_WORKFLOW];

/** A run as the HTTP API shows it (DESIGN §2.4). */
export interface RunView {
  runId: string;
  threadId: string;
  status: string;
  input: string;
  output?: string;
  error?: string;
  executorId?: string;
  createdAt: string;
  startedAt?: string;
  completedAt?: string;
}

export const TERMINAL_STATUSES = new Set(["SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"]);

export function isTerminal(status: string): boolean {
  return TERMINAL_STATUSES.has(status);
}

function iso(epochMs: number | undefined): string | undefined {
  return epochMs === undefined || epochMs === null ? undefined : new Date(Number(epochMs)).toISOString();
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "object" && error !== null && "message" in error) return String(error.message);
  return String(error);
}

/** The stored chunks of a finished run, or undefined when it has none (not finished, or failed). */
export function storedChunks(status: WorkflowStatus): string[] | undefined {
  return isRunResult(status.output) ? (status.output as RunResult).chunks : undefined;
}

export function toRunView(status: WorkflowStatus): RunView {
  const [first, second] = status.input ?? [];
  let threadId = "";
  let input = "";
  if (status.workflowName === AUTOMATION_RUN_WORKFLOW) {
    const context = second as AutomationContext | undefined;
    threadId = automationThreadId(context?.name ?? "unknown");
    input = context?.input ?? "";
  } else {
    const request = first as RunRequest | undefined;
    threadId = request?.threadId ?? status.queuePartitionKey ?? "";
    input = request?.input ?? "";
  }
  const chunks = storedChunks(status);
  const started = status.status !== "ENQUEUED";
  return {
    runId: status.workflowID,
    threadId,
    status: status.status,
    input,
    output: chunks?.join(""),
    error: status.error === undefined || status.error === null ? undefined : describeError(status.error),
    executorId: started ? status.executorId : undefined,
    createdAt: iso(status.createdAt) ?? new Date(0).toISOString(),
    startedAt: started ? iso(status.dequeuedAt ?? status.createdAt) : undefined,
    completedAt: isTerminal(status.status) ? iso(status.completedAt ?? status.updatedAt) : undefined,
  };
}
