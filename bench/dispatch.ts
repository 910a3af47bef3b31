import { ApiClient } from "../test/support/api-client.js";
import { query } from "../test/support/services.js";
import { waitFor } from "../test/support/wait.js";
import { type Summary, summarize } from "./stats.js";
import type { RunningTopology } from "./topology.js";

/** A trivial run: one token, no CPU, no delay (the mesh overhead alone). */
export const TRIVIAL_RUN_ENV = {
  MESH_BUILTIN_TOKENS: "1",
  MESH_BUILTIN_TOKEN_CPU_US: "0",
  MESH_BUILTIN_TOKEN_DELAY_MS: "0",
};

interface RunTimes {
  workflow_uuid: string;
  created_at: string;
  started_at_epoch_ms: string | null;
  completed_at: string | null;
  status: string;
}

async function runTimes(databaseUrl: string, runIds: string[]): Promise<RunTimes[]> {
  return query<RunTimes>(
    databaseUrl,
    `SELECT workflow_uuid, created_at::text, started_at_epoch_ms::text, completed_at::text, status
       FROM dbos.workflow_status WHERE workflow_uuid = ANY($1)`,
    [runIds],
  );
}

async function waitFinished(databaseUrl: string, runIds: string[], timeoutMs: number): Promise<RunTimes[]> {
  return waitFor(
    `${runIds.length} runs to finish`,
    async () => {
      const rows = await runTimes(databaseUrl, runIds);
      return rows.length === runIds.length && rows.every((row) => row.status === "SUCCESS")
        ? rows
        : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/**
 * Enqueue → start latency at light load: one run at a time, spaced so the queue is empty each time.
 * Both ends are stamped by Postgres (created_at at enqueue, started_at at dequeue).
 */
export async function dispatchLatency(
  topology: RunningTopology,
  runs: number,
  spacingMs: number,
): Promise<Summary> {
  const client = new ApiClient(topology.api.url);
  const runIds: string[] = [];
  for (let index = 0; index < runs; index++) {
    runIds.push(await client.createRun(`light-${index}`, `light ${index}`));
    // Jitter, so arrivals do not line up with the polling period.
    await new Promise((resolve) => setTimeout(resolve, spacingMs + Math.random() * spacingMs));
  }
  const rows = await waitFinished(topology.databaseUrl, runIds, 60_000);
  return summarize(rows.map((row) => Number(row.started_at_epoch_ms) - Number(row.created_at)));
}

/** Posts `runs` runs, each on its own thread `<label>-<index>`, from `concurrency` clients at once; their IDs. */
export async function submitRuns(
  apiUrl: string,
  runs: number,
  concurrency: number,
  label: string,
): Promise<string[]> {
  const client = new ApiClient(apiUrl);
  const runIds: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < runs) {
        const index = next++;
        runIds.push(await client.createRun(`${label}-${index}`, `${label} ${index}`));
      }
    }),
  );
  return runIds;
}

/**
 * How fast one api accepts runs (POST /v1/runs answered) from `concurrency` clients, nothing dequeuing
 * them: the enqueue path alone, where the wake-up's trigger adds a NOTIFY to every enqueue's commit.
 */
export async function enqueueThroughput(
  topology: RunningTopology,
  runs: number,
  concurrency: number,
): Promise<number> {
  const started = performance.now();
  await submitRuns(topology.api.url, runs, concurrency, "enqueue");
  return (runs / (performance.now() - started)) * 1000;
}

/** Maximum sustained throughput of trivial runs: submit `runs` with `concurrency` HTTP clients, time to the last completion. */
export async function dispatchThroughput(
  topology: RunningTopology,
  runs: number,
  concurrency: number,
): Promise<number> {
  const runIds = await submitRuns(topology.api.url, runs, concurrency, "burst");
  const rows = await waitFinished(topology.databaseUrl, runIds, 600_000);
  const first = Math.min(...rows.map((row) => Number(row.created_at)));
  const last = Math.max(...rows.map((row) => Number(row.completed_at)));
  return (runs / (last - first)) * 1000;
}

/**
 * Enqueue → the first instruction of the workflow body, at light load: one run at a time with jittered
 * spacing, so the queue is empty at each arrival. Both stamps are wall-clock times on this machine: the
 * api's at enqueue and the worker's in its "run body started" log line (the processes must log at info).
 */
export async function dispatchToBody(
  topology: RunningTopology,
  runs: number,
  spacingMs: number,
): Promise<Summary> {
  const client = new ApiClient(topology.api.url);
  const runIds = new Set<string>();
  for (let index = 0; index < runs; index++) {
    runIds.add(await client.createRun(`body-${index % 64}`, `body ${index}`));
    await new Promise((resolve) => setTimeout(resolve, spacingMs + Math.random() * spacingMs));
  }
  await waitFinished(topology.databaseUrl, [...runIds], 120_000);
  const samples: number[] = [];
  for (const worker of topology.workers) {
    for (const line of worker.logs) {
      if (!line.includes('"run body started"')) continue;
      const entry = JSON.parse(line) as { runId: string; enqueuedAt: number; bodyStartedAt: number };
      if (runIds.has(entry.runId)) samples.push(entry.bodyStartedAt - entry.enqueuedAt);
    }
  }
  if (samples.length !== runs)
    throw new Error(`dispatch to body: ${samples.length} "run body started" lines for ${runs} runs`);
  return summarize(samples);
}
