import type pg from "pg";
import { RUN_QUEUES, THREAD_GATE_QUEUE } from "../queue-names.js";

// Which workflow-code version runs what, across a version upgrade (docs/operations.md "Upgrading the
// workflow version"). DBOS 5.3.0 dequeues only runs stamped with the dequeuing process's own
// applicationVersion, so a run queued at a version no live executor has is stranded. mesh splits runs in two:
// - a run with recorded steps must finish on its own version's code: the stack keeps that version's workers
//   (a draining worker Deployment) until none is left;
// - a version-free run (ENQUEUED, no step recorded) can run on any version: it is dispatched to the dispatch
//   version, the newest released version that a live executor serves, and moved there if it was queued at
//   another one.

/** An executor is live while its heartbeat is younger than $1 ms and it has not stopped. */
const LIVE_EXECUTOR =
  "e.stopped_at IS NULL AND e.last_seen > now() - make_interval(secs => $1::double precision / 1000)";
/** A live executor dequeues queue $2: role `all` (no listen_queues) dequeues every queue. */
const SERVES_QUEUE = "(e.listen_queues IS NULL OR $2 = ANY(e.listen_queues))";

/**
 * Records a release's workflow-code version. `promote` (the release's migration Job) makes it the newest
 * even if it shipped before (a rollback to an older image promotes its version again); processes migrating
 * at launch (local runs) only add a version never seen, so an old process restarting does not demote a newer
 * one.
 */
export async function recordRelease(
  client: pg.ClientBase,
  version: string,
  { promote }: { promote: boolean },
): Promise<void> {
  await client.query(
    `INSERT INTO mesh.workflow_versions (version) VALUES ($1)
       ON CONFLICT (version) DO ${promote ? "UPDATE SET released_at = now()" : "NOTHING"}`,
    [version],
  );
}

/**
 * The version new and version-free runs of `queue` go to: of the versions a live executor dequeuing the queue
 * runs, the most recently released (versions no release recorded rank last, then by name). Undefined when no
 * live executor dequeues the queue.
 */
export async function readDispatchVersion(
  pool: pg.Pool | pg.ClientBase,
  executorTimeoutMs: number,
  queue = THREAD_GATE_QUEUE,
): Promise<string | undefined> {
  const { rows } = await pool.query<{ version: string }>(
    `SELECT e.version
       FROM mesh.executors e LEFT JOIN mesh.workflow_versions r ON r.version = e.version
      WHERE ${LIVE_EXECUTOR} AND ${SERVES_QUEUE}
      ORDER BY r.released_at DESC NULLS LAST, e.version DESC
      LIMIT 1`,
    [executorTimeoutMs, queue],
  );
  return rows[0]?.version;
}

/**
 * Restamps every version-free run of `queue` queued at another version to the dispatch version (one
 * statement per queue). Race-free against dequeuers of the old version: the UPDATE and DBOS's dequeue both
 * lock the row and re-check `status = 'ENQUEUED'`, so a run an old worker claimed first keeps its version and
 * runs there, and a run moved first no longer matches the old worker's `application_version = $own`.
 * DBOS's public API has no equivalent (resume keeps the version, rewind needs a terminal run, fork makes a
 * new workflow ID): see docs/operations.md. Returns the IDs it moved.
 */
export async function moveVersionFreeRuns(
  pool: pg.Pool | pg.ClientBase,
  executorTimeoutMs: number,
): Promise<{ runId: string; from: string; to: string }[]> {
  const moved: { runId: string; from: string; to: string }[] = [];
  for (const queue of RUN_QUEUES) {
    const target = await readDispatchVersion(pool, executorTimeoutMs, queue);
    if (!target) continue;
    const { rows } = await pool.query<{ workflow_uuid: string; from_version: string }>(
      `UPDATE dbos.workflow_status ws
          SET application_version = $2,
              updated_at = (EXTRACT(EPOCH FROM now()) * 1000)::bigint
         FROM (SELECT workflow_uuid, application_version AS from_version
                 FROM dbos.workflow_status
                WHERE queue_name = $1 AND status = 'ENQUEUED' AND application_version IS DISTINCT FROM $2) old
        WHERE ws.workflow_uuid = old.workflow_uuid
          AND ws.status = 'ENQUEUED' AND ws.queue_name = $1
          AND NOT EXISTS (SELECT 1 FROM dbos.operation_outputs o WHERE o.workflow_uuid = ws.workflow_uuid)
      RETURNING ws.workflow_uuid, old.from_version`,
      [queue, target],
    );
    for (const row of rows) moved.push({ runId: row.workflow_uuid, from: row.from_version, to: target });
  }
  return moved;
}

export interface VersionQueueLoad {
  version: string;
  /** Runs of this version waiting on the queue. */
  enqueued: number;
  /** Runs of this version executing. */
  pending: number;
  /** Live executors of this version dequeuing the queue. */
  listeners: number;
  /** Waiting runs of this version that no live executor can take: stranded until one of its version comes. */
  stranded: number;
}

/** Per run queue and workflow version: waiting, running, live listeners and stranded runs. */
export async function readVersionLoad(
  pool: pg.Pool,
  executorTimeoutMs: number,
): Promise<Record<string, VersionQueueLoad[]>> {
  const [runs, listeners] = await Promise.all([
    pool.query<{ queue_name: string; version: string | null; status: string; count: string }>(
      `SELECT queue_name, application_version AS version, status, count(*)::text AS count
         FROM dbos.workflow_status
        WHERE queue_name = ANY($1) AND status IN ('ENQUEUED', 'PENDING')
        GROUP BY queue_name, application_version, status`,
      [RUN_QUEUES],
    ),
    pool.query<{ version: string; listen_queues: string[] | null }>(
      `SELECT e.version, e.listen_queues FROM mesh.executors e
        WHERE e.stopped_at IS NULL AND e.last_seen > now() - make_interval(secs => $1::double precision / 1000)`,
      [executorTimeoutMs],
    ),
  ]);
  const byQueue: Record<string, VersionQueueLoad[]> = {};
  for (const queue of RUN_QUEUES) {
    const versions = new Set<string>();
    for (const row of runs.rows) if (row.queue_name === queue) versions.add(row.version ?? "");
    for (const row of listeners.rows)
      if (row.listen_queues === null || row.listen_queues.includes(queue)) versions.add(row.version);
    byQueue[queue] = [...versions].sort().map((version) => {
      const count = (status: string) =>
        Number(
          runs.rows.find(
            (row) => row.queue_name === queue && (row.version ?? "") === version && row.status === status,
          )?.count ?? 0,
        );
      const listening = listeners.rows.filter(
        (row) => row.version === version && (row.listen_queues === null || row.listen_queues.includes(queue)),
      ).length;
      const enqueued = count("ENQUEUED");
      return {
        version,
        enqueued,
        pending: count("PENDING"),
        listeners: listening,
        stranded: listening === 0 ? enqueued : 0,
      };
    });
  }
  return byQueue;
}
