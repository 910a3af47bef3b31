import { builtinToken } from "../../app/model/builtin.js";
import type { ApiClient } from "./api-client.js";
import type { MeshProcess } from "./mesh-process.js";
import { query } from "./services.js";
import { waitFor } from "./wait.js";

/** The output the deterministic builtin model gives an input, uninterrupted. */
export function expectedOutput(input: string, tokens: number): string {
  return Array.from({ length: tokens }, (_, index) => builtinToken(input, index)).join("");
}

/** How many times each run's body ran to its end, per the logs of these processes (executor IDs). */
export function completionsByRun(processes: MeshProcess[]): Map<string, string[]> {
  const completions = new Map<string, string[]>();
  for (const mesh of processes) {
    for (const line of mesh.logs) {
      if (!line.startsWith("{")) continue;
      try {
        const entry = JSON.parse(line) as { msg?: string; runId?: string };
        if (entry.msg === "run body finished" && entry.runId) {
          completions.set(entry.runId, [...(completions.get(entry.runId) ?? []), mesh.executorId]);
        }
      } catch {
        // not a log line of ours
      }
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

/** Checkpoints per run: a run whose steps were recorded more than once would show more rows. */
export async function stepCounts(databaseUrl: string): Promise<Map<string, number>> {
  const rows = await query<{ workflow_uuid: string; steps: string }>(
    databaseUrl,
    "SELECT workflow_uuid, count(*)::text AS steps FROM dbos.operation_outputs GROUP BY workflow_uuid",
  );
  return new Map(rows.map((row) => [row.workflow_uuid, Number(row.steps)]));
}
