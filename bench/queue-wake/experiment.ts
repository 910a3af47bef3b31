import { fileURLToPath } from "node:url";
import { dispatchThroughput, dispatchToBody } from "../dispatch.js";
import { type IdleCostResult, idleCost } from "../fleet-cost.js";
import type { Summary } from "../stats.js";
import { type TopologyVariant, withTopology } from "../topology.js";
import { installWakeTrigger } from "./trigger.js";

const HOOK = fileURLToPath(new URL("./hook.ts", import.meta.url));

/** What the experiment adds to a topology: the trigger in the database and the hook in every worker. */
export const QUEUE_WAKE: TopologyVariant = {
  workerPreload: [HOOK],
  afterApiReady: installWakeTrigger,
};

export interface QueueWakeResult {
  /** The queues' polling interval with the wake-up: the safety net for a lost notification. */
  pollMs: number;
  idleCost: IdleCostResult;
  toBodyMs: Summary;
  throughputRunsPerSecond: number;
}

/**
 * The queue-wake experiment: idle workers poll at `pollMs` and a Postgres NOTIFY at enqueue wakes them.
 * Measures the same three things as the default set-up beside it — idle cost per worker, enqueue →
 * body latency at light load, burst throughput of one worker — so the report can put them side by side.
 */
export async function queueWakeExperiment(options: {
  pollMs: number;
  workerCounts: number[];
  idleMs: number;
  bodyRuns: number;
  burstRuns: number;
  runEnv: Record<string, string>;
  onIdlePoint?: Parameters<typeof idleCost>[3];
}): Promise<QueueWakeResult> {
  const env = { ...options.runEnv, MESH_QUEUE_POLL_MS: String(options.pollMs) };
  const fleet = await idleCost(
    options.workerCounts,
    [options.pollMs],
    options.idleMs,
    options.onIdlePoint,
    QUEUE_WAKE,
  );
  const toBodyMs = await withTopology(
    { kind: "split", workers: 1, env: { ...env, LOG_LEVEL: "info" }, ...QUEUE_WAKE },
    (topology) => dispatchToBody(topology, options.bodyRuns, 50),
  );
  const throughputRunsPerSecond = await withTopology(
    { kind: "split", workers: 1, env, ...QUEUE_WAKE },
    (topology) => dispatchThroughput(topology, options.burstRuns, 32),
  );
  return { pollMs: options.pollMs, idleCost: fleet, toBodyMs, throughputRunsPerSecond };
}
