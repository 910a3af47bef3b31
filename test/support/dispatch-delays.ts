import { query } from "./services.js";

export interface RunTiming {
  runId: string;
  threadId: string | null;
  status: string;
  createdAt: number;
  /** When a dispatcher claimed the run (DBOS's started_at_epoch_ms); undefined while ENQUEUED. */
  startedAt?: number;
  completedAt?: number;
}

/** DBOS's own timestamps of these runs (all on Postgres's and the executors' clocks: one machine here). */
export async function runTimings(databaseUrl: string, runIds: string[]): Promise<RunTiming[]> {
  const rows = await query<{
    workflow_uuid: string;
    queue_partition_key: string | null;
    status: string;
    created_at: string;
    started_at_epoch_ms: string | null;
    completed_at: string | null;
  }>(
    databaseUrl,
    `SELECT workflow_uuid, queue_partition_key, status, created_at::text, started_at_epoch_ms::text,
            completed_at::text
       FROM dbos.workflow_status WHERE workflow_uuid = ANY($1) ORDER BY created_at`,
    [runIds],
  );
  return rows.map((row) => ({
    runId: row.workflow_uuid,
    threadId: row.queue_partition_key,
    status: row.status,
    createdAt: Number(row.created_at),
    startedAt: row.started_at_epoch_ms === null ? undefined : Number(row.started_at_epoch_ms),
    completedAt: row.completed_at === null ? undefined : Number(row.completed_at),
  }));
}

/** Enqueue → claim of each started run, in ms. */
export function dispatchDelays(timings: RunTiming[]): number[] {
  return timings.flatMap((run) => (run.startedAt === undefined ? [] : [run.startedAt - run.createdAt]));
}
