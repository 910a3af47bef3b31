import type { MeshConfig } from "./config.js";
import { AUTOMATIONS_QUEUE, THREAD_GATE_QUEUE } from "./queue-names.js";

/** The registration options mesh uses (a subset of DBOS's RegisterQueueOptions, which it does not export). */
interface RegisterQueueOptions {
  workerConcurrency: number;
  minPollingIntervalMs: number;
  partitionConcurrency?: number;
  onConflict?: "always_update" | "never_update";
}

/**
 * The automations queue polls at least this slowly. Its runs are fired by cron schedules (1-s resolution
 * at best) and nobody waits on them, while every idle worker pays each queue's poll rate in Postgres
 * transactions: at the 50-ms default a second fast-polled queue doubles an idle worker's cost
 * (docs/benchmarks.md, idle fleet). API runs (thread-gate) keep MESH_QUEUE_POLL_MS.
 */
export const AUTOMATIONS_MIN_POLL_MS = 1_000;

/**
 * The settings of the run queues. DBOS 5 keeps one shared row per queue in Postgres that every process
 * dispatches by, so the settings need one owner: the release's migration (`main.js migrate`, the
 * Kubernetes Job, from the stack config) writes them; processes only create a missing row (a local run
 * that migrates itself) and never overwrite one, so the order in which pods start changes nothing.
 */
export function runQueueSettings(config: Pick<MeshConfig, "workerConcurrency" | "queuePollMs">) {
  const shared = { workerConcurrency: config.workerConcurrency, minPollingIntervalMs: config.queuePollMs };
  return [
    // One active run per thread: the thread ID is the partition key.
    { name: THREAD_GATE_QUEUE, options: { ...shared, partitionConcurrency: 1 } },
    {
      name: AUTOMATIONS_QUEUE,
      options: { ...shared, minPollingIntervalMs: Math.max(config.queuePollMs, AUTOMATIONS_MIN_POLL_MS) },
    },
  ] satisfies { name: string; options: RegisterQueueOptions }[];
}

interface QueueRegistrar {
  registerQueue(name: string, options: RegisterQueueOptions): Promise<unknown>;
}

/** The owner (the migration): writes the settings, replacing whatever the row held. */
export async function writeQueueSettings(
  registrar: QueueRegistrar,
  config: Parameters<typeof runQueueSettings>[0],
) {
  for (const { name, options } of runQueueSettings(config))
    await registrar.registerQueue(name, { ...options, onConflict: "always_update" });
}

/** Every process at launch: creates a missing row with its own settings, never changes an existing one. */
export async function ensureQueuesRegistered(
  registrar: QueueRegistrar,
  config: Parameters<typeof runQueueSettings>[0],
) {
  for (const { name, options } of runQueueSettings(config))
    await registrar.registerQueue(name, { ...options, onConflict: "never_update" });
}
