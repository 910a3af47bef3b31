import { builtinToken } from "../../app/model/builtin.js";
import type { ApiClient } from "./api-client.js";
import type { MeshProcess } from "./mesh-process.js";
import { waitFor } from "./wait.js";

/** The output the deterministic builtin model gives an input, uninterrupted. */
export function expectedOutput(input: string, tokens: number): string {
  return Array.from({ length: tokens }, (_, index) => builtinToken(input, index)).join("");
}

interface LogEntry {
  msg?: string;
  runId?: string;
  segment?: number;
}

/** The JSON log entries of a process, skipping lines that are not ours. */
function* logEntries(mesh: MeshProcess): Generator<LogEntry> {
  for (const line of mesh.logs) {
    if (!line.startsWith("{")) continue;
    try {
      yield JSON.parse(line) as LogEntry;
    } catch {
      // not a log line of ours
    }
  }
}

/** How many times each run's body ran to its end, per the logs of these processes (executor IDs). */
export function completionsByRun(processes: MeshProcess[]): Map<string, string[]> {
  const completions = new Map<string, string[]>();
  for (const mesh of processes) {
    for (const entry of logEntries(mesh)) {
      if (entry.msg === "run body finished" && entry.runId)
        completions.set(entry.runId, [...(completions.get(entry.runId) ?? []), mesh.executorId]);
    }
  }
  return completions;
}

export async function waitForAllSucceeded(client: ApiClient, runIds: string[], timeoutMs = 90_000) {
  return waitFor(
    `${runIds.length} runs to succeed`,
    async () => {
      const runs = await Promise.all(runIds.map((runId) => client.getRun(runId)));
      const failed = runs.find((run) => run.status === "ERROR" || run.status === "CANCELLED");
      if (failed) throw new Error(`run ${failed.runId} ended ${failed.status}: ${failed.error}`);
      return runs.every((run) => run.status === "SUCCESS") ? runs : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** One execution of a run's segment (a DBOS step that really ran, not a replayed checkpoint). */
export interface SegmentExecution {
  runId: string;
  segment: number;
  executorId: string;
}

/**
 * Every segment execution these processes logged ("segment executed"), per run, in log order. A segment
 * executed twice shows twice; DBOS's operation_outputs cannot show that (its primary key forbids it).
 */
export function segmentExecutions(processes: MeshProcess[]): Map<string, SegmentExecution[]> {
  const executions = new Map<string, SegmentExecution[]>();
  for (const mesh of processes) {
    for (const entry of logEntries(mesh)) {
      if (entry.msg === "segment executed" && entry.runId && entry.segment !== undefined) {
        const execution = { runId: entry.runId, segment: entry.segment, executorId: mesh.executorId };
        executions.set(entry.runId, [...(executions.get(entry.runId) ?? []), execution]);
      }
    }
  }
  return executions;
}

/** Segments of a run executed more than once, as "segment N on a, b". */
export function segmentsExecutedTwice(executions: SegmentExecution[] = []): string[] {
  const bySegment = new Map<number, string[]>();
  for (const { segment, executorId } of executions)
    bySegment.set(segment, [...(bySegment.get(segment) ?? []), executorId]);
  return [...bySegment]
    .filter(([, executors]) => executors.length > 1)
    .map(([segment, executors]) => `segment ${segment} on ${executors.join(", ")}`);
}
