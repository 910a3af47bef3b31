import { ApiClient } from "../test/support/api-client.js";
import { type Summary, summarize } from "./stats.js";
import type { RunningTopology } from "./topology.js";

/** CPU-heavy agent runs: 120 tokens of 2.5 ms CPU each (0.3 s of CPU per run). */
export const HEAVY_RUN_ENV = {
  MESH_BUILTIN_TOKENS: "120",
  MESH_BUILTIN_TOKEN_CPU_US: "2500",
  MESH_BUILTIN_TOKEN_DELAY_MS: "0",
  MESH_CHECKPOINT_EVERY: "20",
  MESH_WORKER_CONCURRENCY: "4",
};

export interface IsolationPhase {
  get: Summary;
  post: Summary;
}

export interface IsolationResult {
  idle: IsolationPhase;
  loaded: IsolationPhase;
}

/**
 * api latency at a fixed request rate (open loop: requests go out on schedule whether or not earlier
 * ones have answered), idle and while CPU-heavy runs saturate whatever executes them. POSTs reuse
 * one idempotency key, so they take the whole enqueue path without adding work.
 */
export async function apiIsolation(
  topology: RunningTopology,
  options: { ratePerSecond: number; phaseMs: number; heavyRuns: number },
): Promise<IsolationResult> {
  const client = new ApiClient(topology.api.url);
  const probeRun = await client.createRun("probe", "probe run", "probe-key");
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const idle = await probe(client, probeRun, options);

  await Promise.all(
    Array.from({ length: options.heavyRuns }, (_, index) =>
      client.createRun(`heavy-${index}`, `heavy ${index}`),
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const loaded = await probe(client, probeRun, options);
  return { idle, loaded };
}

async function probe(
  client: ApiClient,
  runId: string,
  options: { ratePerSecond: number; phaseMs: number },
): Promise<IsolationPhase> {
  const get: number[] = [];
  const post: number[] = [];
  const pending: Promise<void>[] = [];
  const interval = 1000 / options.ratePerSecond;
  const start = performance.now();
  for (let index = 0; performance.now() - start < options.phaseMs; index++) {
    const due = start + index * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const isGet = index % 2 === 0;
    pending.push(
      (async () => {
        const sent = performance.now();
        const { status } = isGet
          ? await client.request("GET", `/v1/runs/${runId}`)
          : await client.request("POST", "/v1/threads/probe/runs", {
              input: "probe run",
              idempotencyKey: "probe-key",
            });
        // Latency from when the request was due, so a stalled client loop counts against the server too.
        const latency = performance.now() - Math.min(sent, due);
        if (status >= 400) throw new Error(`probe answered ${status}`);
        (isGet ? get : post).push(latency);
      })(),
    );
  }
  await Promise.all(pending);
  return { get: summarize(get), post: summarize(post) };
}
