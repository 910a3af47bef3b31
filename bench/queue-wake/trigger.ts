import { query } from "../../test/support/services.js";

/** The NOTIFY channel the experiment's trigger signals and hook.ts listens on. */
export const WAKE_CHANNEL = "dbos_queue_wake";

/**
 * A trigger on DBOS's workflow_status that NOTIFYs the queue's name whenever that queue may have gained
 * a startable run: a run enqueued (or re-enqueued by recovery), or a run of the queue leaving PENDING
 * (its concurrency slot, and its partition, are free again). NOTIFY is delivered at commit, so a
 * listener never polls before the run is visible. Installed only in the benchmark's own databases.
 */
export async function installWakeTrigger(databaseUrl: string): Promise<void> {
  await query(
    databaseUrl,
    `CREATE OR REPLACE FUNCTION dbos.bench_queue_wake() RETURNS trigger LANGUAGE plpgsql AS $$
     DECLARE
       queue text := coalesce(NEW.queue_name, CASE WHEN TG_OP = 'UPDATE' THEN OLD.queue_name END);
     BEGIN
       IF queue IS NULL THEN RETURN NULL; END IF;
       IF (NEW.status = 'ENQUEUED' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'ENQUEUED'))
          OR (TG_OP = 'UPDATE' AND OLD.status = 'PENDING' AND NEW.status <> 'PENDING') THEN
         PERFORM pg_notify('${WAKE_CHANNEL}', queue);
       END IF;
       RETURN NULL;
     END $$`,
  );
  await query(
    databaseUrl,
    `CREATE TRIGGER bench_queue_wake AFTER INSERT OR UPDATE OF status ON dbos.workflow_status
       FOR EACH ROW EXECUTE FUNCTION dbos.bench_queue_wake()`,
  );
}
