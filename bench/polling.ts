import { query } from "../test/support/services.js";
import { dispatchLatency } from "./dispatch.js";
import type { Summary } from "./stats.js";
import type { RunningTopology } from "./topology.js";

export interface PollingResult {
  pollMs: number;
  latency: Summary;
  /** Postgres transactions per second on the mesh database while idle (polling, heartbeats, reaper). */
  idleTransactionsPerSecond: number;
}

async function transactions(databaseUrl: string): Promise<number> {
  const name = new URL(databaseUrl).pathname.slice(1);
  const [row] = await query<{ total: string }>(
    databaseUrl,
    "SELECT (xact_commit + xact_rollback)::text AS total FROM pg_stat_database WHERE datname = $1",
    [name],
  );
  return Number(row?.total ?? 0);
}

/** The cost of a polling interval: idle query load on Postgres, and the dispatch latency it buys. */
export async function pollingTradeOff(
  topology: RunningTopology,
  pollMs: number,
  options: { idleMs: number; runs: number },
): Promise<PollingResult> {
  const before = await transactions(topology.databaseUrl);
  const started = Date.now();
  await new Promise((resolve) => setTimeout(resolve, options.idleMs));
  // pg_stat_database is updated by backends at most every 500 ms or so; the window is long enough.
  const after = await transactions(topology.databaseUrl);
  const idleTransactionsPerSecond = ((after - before) / (Date.now() - started)) * 1000;
  const latency = await dispatchLatency(topology, options.runs, 150);
  return { pollMs, latency, idleTransactionsPerSecond };
}
