import type pg from "pg";
import { readVersionLoad, type VersionQueueLoad } from "../durability/workflow-versions.js";
import { RUN_QUEUES } from "../queue-names.js";

/** An executor is live while its heartbeat is younger than $1 ms and it has not stopped. */
const LIVE_EXECUTOR =
  "stopped_at IS NULL AND last_seen > now() - make_interval(secs => $1::double precision / 1000)";

export interface QueueStats {
  name: string;
  enqueued: number;
  pending: number;
  /** Live executors that dequeue this queue (heartbeat fresh, not stopped). */
  listeners: number;
  listenerIds: string[];
  /** The same per workflow version, with the runs stranded at a version no live executor runs. */
  versions: VersionQueueLoad[];
}

/**
 * Per run queue: waiting and running workflows, and the live executors dequeuing it. An executor
 * with no listen_queues (role `all`) listens to every queue.
 */
export async function readQueueStats(pool: pg.Pool, executorTimeoutMs: number): Promise<QueueStats[]> {
  const [depth, listeners, versions] = await Promise.all([
    pool.query<{ queue_name: string; status: string; count: string }>(
      `SELECT queue_name, status, count(*)::text AS count
         FROM dbos.workflow_status
        WHERE queue_name = ANY($1) AND status IN ('ENQUEUED', 'PENDING')
        GROUP BY queue_name, status`,
      [RUN_QUEUES],
    ),
    pool.query<{ executor_id: string; listen_queues: string[] | null; role: string }>(
      `SELECT executor_id, listen_queues, role
         FROM mesh.executors
        WHERE ${LIVE_EXECUTOR}`,
      [executorTimeoutMs],
    ),
    readVersionLoad(pool, executorTimeoutMs),
  ]);
  return RUN_QUEUES.map((name) => {
    const count = (status: string) =>
      Number(depth.rows.find((row) => row.queue_name === name && row.status === status)?.count ?? 0);
    const listenerIds = listeners.rows
      .filter((row) => row.listen_queues === null || row.listen_queues.includes(name))
      .map((row) => row.executor_id)
      .sort();
    return {
      name,
      enqueued: count("ENQUEUED"),
      pending: count("PENDING"),
      listeners: listenerIds.length,
      listenerIds,
      versions: versions[name] ?? [],
    };
  });
}

/** Seconds since the oldest waiting (ENQUEUED) run of each run queue was enqueued; 0 when none waits. */
export async function readOldestEnqueuedAges(pool: pg.Pool): Promise<Record<string, number>> {
  // The database's clock on both sides: a pod's clock skew does not age the queue.
  const result = await pool.query<{ queue_name: string; age_ms: string }>(
    `SELECT queue_name, ((extract(epoch from now()) * 1000)::bigint - min(created_at))::text AS age_ms
       FROM dbos.workflow_status
      WHERE queue_name = ANY($1) AND status = 'ENQUEUED'
      GROUP BY queue_name`,
    [RUN_QUEUES],
  );
  return Object.fromEntries(
    RUN_QUEUES.map((name) => {
      const row = result.rows.find((entry) => entry.queue_name === name);
      return [name, row ? Math.max(0, Number(row.age_ms)) / 1000 : 0];
    }),
  );
}

/** Live executors per role, for /metrics. */
export async function readLiveExecutors(
  pool: pg.Pool,
  executorTimeoutMs: number,
): Promise<Record<string, number>> {
  const result = await pool.query<{ role: string; count: string }>(
    `SELECT role, count(*)::text AS count FROM mesh.executors
      WHERE ${LIVE_EXECUTOR}
      GROUP BY role`,
    [executorTimeoutMs],
  );
  return Object.fromEntries(result.rows.map((row) => [row.role, Number(row.count)]));
}

/** Runs on the run queues by status, for /metrics (terminal statuses included). */
export async function readRunsByStatus(pool: pg.Pool): Promise<Record<string, number>> {
  const result = await pool.query<{ status: string; count: string }>(
    `SELECT status, count(*)::text AS count FROM dbos.workflow_status WHERE queue_name = ANY($1) GROUP BY status`,
    [RUN_QUEUES],
  );
  return Object.fromEntries(result.rows.map((row) => [row.status, Number(row.count)]));
}

export interface ExecutorView {
  executorId: string;
  role: string;
  version: string;
  /** null: every queue (role `all`). */
  listenQueues: string[] | null;
  lastSeen: string;
}

/** The live executors, api and workers alike, with their role and workflow version. */
export async function readExecutors(pool: pg.Pool, executorTimeoutMs: number): Promise<ExecutorView[]> {
  const result = await pool.query<{
    executor_id: string;
    role: string;
    version: string;
    listen_queues: string[] | null;
    last_seen: Date;
  }>(
    `SELECT executor_id, role, version, listen_queues, last_seen FROM mesh.executors
      WHERE ${LIVE_EXECUTOR}
      ORDER BY role, executor_id`,
    [executorTimeoutMs],
  );
  return result.rows.map((row) => ({
    executorId: row.executor_id,
    role: row.role,
    version: row.version,
    listenQueues: row.listen_queues,
    lastSeen: row.last_seen.toISOString(),
  }));
}
