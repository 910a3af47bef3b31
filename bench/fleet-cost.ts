import { connect } from "@nats-io/transport-node";
import { ApiClient } from "../test/support/api-client.js";
import { NATS_URL, query } from "../test/support/services.js";
import { waitFor } from "../test/support/wait.js";
import { withTopology } from "./topology.js";

/** Cumulative activity of one database, from pg_stat_database (every backend's commits and rollbacks). */
async function databaseActivity(databaseUrl: string): Promise<{ transactions: number; tuplesRead: number }> {
  const name = new URL(databaseUrl).pathname.slice(1);
  const [row] = await query<{ transactions: string; tuples_read: string }>(
    databaseUrl,
    `SELECT (xact_commit + xact_rollback)::text AS transactions, (tup_returned + tup_fetched)::text AS tuples_read
       FROM pg_stat_database WHERE datname = $1`,
    [name],
  );
  return { transactions: Number(row?.transactions ?? 0), tuplesRead: Number(row?.tuples_read ?? 0) };
}

/**
 * pg_stat_database is fed by each backend's pending statistics, flushed when the backend goes idle, at
 * most once a second. A backend that goes idle less than a second after its last flush reschedules the
 * flush for PGSTAT_IDLE_INTERVAL (10 s) later: a connection that polls keeps flushing every second or so,
 * but one that was busy only during a burst can hold its last transactions back for 10 s.
 */
const STATS_FLUSH_MS = 1_200;
/** Longer than PGSTAT_IDLE_INTERVAL, so every backend's transactions of a burst have been flushed. */
const STATS_SETTLE_MS = 11_000;

/** How the idle fleet dispatches: mesh as shipped (the wake-up, a slow safety-net poll) or polling alone. */
export interface IdleSetup {
  /** The report's row and the headline figure's name, e.g. "wake-up + poll 1000 ms". */
  name: string;
  pollMs: number;
  wake: boolean;
}

export interface IdleCostPoint {
  setup: string;
  pollMs: number;
  workers: number;
  transactionsPerSecond: number;
  tuplesReadPerSecond: number;
}

export interface IdleCostResult {
  points: IdleCostPoint[];
  /** Least-squares slope of transactions/s over the idle worker count, per set-up. */
  slopes: Array<{ setup: string; pollMs: number; wake: boolean; transactionsPerSecondPerWorker: number }>;
}

/** Postgres load of an idle fleet: one api and N idle workers, per set-up. */
export async function idleCost(
  workerCounts: number[],
  setups: IdleSetup[],
  idleMs: number,
  onPoint: (point: IdleCostPoint) => void = () => undefined,
): Promise<IdleCostResult> {
  const points: IdleCostPoint[] = [];
  for (const { name, pollMs, wake } of setups) {
    for (const workers of workerCounts) {
      const env = { MESH_QUEUE_POLL_MS: String(pollMs), MESH_QUEUE_WAKE: String(wake) };
      const point = await withTopology({ kind: "split", workers, env }, async (topology) => {
        await new Promise((resolve) => setTimeout(resolve, STATS_FLUSH_MS));
        const before = await databaseActivity(topology.databaseUrl);
        const started = Date.now();
        await new Promise((resolve) => setTimeout(resolve, idleMs));
        const after = await databaseActivity(topology.databaseUrl);
        const seconds = (Date.now() - started) / 1000;
        return {
          setup: name,
          pollMs,
          workers,
          transactionsPerSecond: (after.transactions - before.transactions) / seconds,
          tuplesReadPerSecond: (after.tuplesRead - before.tuplesRead) / seconds,
        };
      });
      onPoint(point);
      points.push(point);
    }
  }
  const slopes = setups.map(({ name, pollMs, wake }) => {
    const series = points.filter((point) => point.setup === name);
    return {
      setup: name,
      pollMs,
      wake,
      transactionsPerSecondPerWorker: leastSquaresSlope(
        series.map((point) => [point.workers, point.transactionsPerSecond]),
      ),
    };
  });
  return { points, slopes };
}

export function leastSquaresSlope(pairs: Array<[number, number]>): number {
  const n = pairs.length;
  const meanX = pairs.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = pairs.reduce((sum, [, y]) => sum + y, 0) / n;
  const covariance = pairs.reduce((sum, [x, y]) => sum + (x - meanX) * (y - meanY), 0);
  const variance = pairs.reduce((sum, [x]) => sum + (x - meanX) ** 2, 0);
  return variance === 0 ? Number.NaN : covariance / variance;
}

export interface BusyCostPoint {
  checkpoints: number;
  runs: number;
  /** Postgres transactions per completed run, net of the idle fleet's own polling over the same time. */
  transactionsPerRun: number;
  /** NATS messages on the runs' subjects per completed run (chunks and done, as published). */
  natsMessagesPerRun: number;
}

/**
 * What one completed run costs, for runs of K checkpoints (K segments of one token each): Postgres
 * transactions (pg_stat_database, minus the idle rate measured just before on the same processes) and
 * NATS messages on the run subjects (counted by a wildcard subscriber).
 */
export async function busyCost(checkpointCounts: number[], runs: number): Promise<BusyCostPoint[]> {
  const points: BusyCostPoint[] = [];
  for (const checkpoints of checkpointCounts) {
    const env = {
      MESH_BUILTIN_TOKENS: String(checkpoints),
      MESH_CHECKPOINT_EVERY: "1",
      MESH_BUILTIN_TOKEN_CPU_US: "0",
      MESH_BUILTIN_TOKEN_DELAY_MS: "0",
    };
    points.push(
      await withTopology({ kind: "split", workers: 1, env }, async (topology) => {
        // Start-up's burst (migrations, pool connections) must be flushed before the idle rate is taken.
        const idleMs = 10_000;
        await new Promise((resolve) => setTimeout(resolve, STATS_SETTLE_MS));
        const idleStart = await databaseActivity(topology.databaseUrl);
        await new Promise((resolve) => setTimeout(resolve, idleMs));
        const idleEnd = await databaseActivity(topology.databaseUrl);
        const idleRate = (idleEnd.transactions - idleStart.transactions) / idleMs;

        const nats = await connect({ servers: NATS_URL });
        let messages = 0;
        const subscription = nats.subscribe("mesh.*.runs.>", {
          callback: () => {
            messages++;
          },
        });
        await nats.flush();
        const client = new ApiClient(topology.api.url);
        const started = Date.now();
        const before = await databaseActivity(topology.databaseUrl);
        const runIds: string[] = [];
        for (let index = 0; index < runs; index++)
          runIds.push(await client.createRun(`cost-${index % 8}`, `cost ${index}`));
        await waitFor(
          `${runs} runs to finish`,
          async () => {
            const rows = await query<{ done: string }>(
              topology.databaseUrl,
              "SELECT count(*)::text AS done FROM dbos.workflow_status WHERE workflow_uuid = ANY($1) AND status = 'SUCCESS'",
              [runIds],
            );
            return Number(rows[0]?.done) === runs;
          },
          { timeoutMs: 300_000, intervalMs: 250 },
        );
        const finished = Date.now();
        // The burst's pool connections go idle right after it: wait out their 10-s flush (see above).
        await new Promise((resolve) => setTimeout(resolve, STATS_SETTLE_MS));
        const after = await databaseActivity(topology.databaseUrl);
        const elapsed = Date.now() - started;
        subscription.unsubscribe();
        await nats.close();
        // The waitFor's count queries and the two readings are transactions too.
        const ownQueries = Math.ceil((finished - started) / 250) + 2;
        const net = after.transactions - before.transactions - idleRate * elapsed - ownQueries;
        return { checkpoints, runs, transactionsPerRun: net / runs, natsMessagesPerRun: messages / runs };
      }),
    );
  }
  return points;
}
