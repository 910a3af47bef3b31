import type pg from "pg";

/** The channel the trigger NOTIFYs with a queue's name and every dispatching process LISTENs on. */
export const QUEUE_WAKE_CHANNEL = "mesh_queue_wake";

/**
 * Triggers on DBOS's workflow_status that NOTIFY a queue's name whenever that queue gained a startable
 * run: a run enqueued, or put back by recovery, the reaper or a drain. NOTIFY is delivered at commit, so
 * a woken dispatcher never polls before the run is visible. A run ending (its worker slot and its
 * thread's partition free again) notifies nobody: the process it ended in wakes its own dispatcher (the
 * patch's `slotReleased`), which is the one with a free slot, and keeping NOTIFY out of every
 * completion's commit keeps those commits off Postgres's single notify queue lock under a burst.
 * The WHEN clauses are evaluated without entering PL/pgSQL, so rows that concern no queue cost the write
 * path almost nothing. Owned by mesh's schema and written by the release's migration
 * (app/durability/migrations.ts).
 */
const INSTALL_SQL = `
  CREATE OR REPLACE FUNCTION mesh.queue_wake() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('${QUEUE_WAKE_CHANNEL}', NEW.queue_name);
    RETURN NULL;
  END $$;
  CREATE OR REPLACE TRIGGER mesh_queue_wake_enqueued AFTER INSERT ON dbos.workflow_status
    FOR EACH ROW WHEN (NEW.queue_name IS NOT NULL AND NEW.status = 'ENQUEUED')
    EXECUTE FUNCTION mesh.queue_wake();
  CREATE OR REPLACE TRIGGER mesh_queue_wake_status AFTER UPDATE OF status ON dbos.workflow_status
    FOR EACH ROW WHEN (
      NEW.queue_name IS NOT NULL AND NEW.status = 'ENQUEUED' AND OLD.status IS DISTINCT FROM NEW.status
    )
    EXECUTE FUNCTION mesh.queue_wake();
`;

const REMOVE_SQL = `
  DROP TRIGGER IF EXISTS mesh_queue_wake_enqueued ON dbos.workflow_status;
  DROP TRIGGER IF EXISTS mesh_queue_wake_status ON dbos.workflow_status;
  DROP FUNCTION IF EXISTS mesh.queue_wake();
`;

/** Creates or replaces the wake-up triggers. Needs DBOS's and mesh's schemas migrated first. */
export async function installQueueWakeTrigger(client: pg.ClientBase): Promise<void> {
  await client.query(INSTALL_SQL);
}

/** The down path: a release with the wake-up off (stack config `queueWake: false`) removes it all. */
export async function removeQueueWakeTrigger(client: pg.ClientBase): Promise<void> {
  await client.query(REMOVE_SQL);
}

/** The triggers present on dbos.workflow_status that belong to the wake-up (tests, diagnostics). */
export async function installedQueueWakeTriggers(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ tgname: string }>(
    `SELECT tgname FROM pg_trigger
      WHERE tgrelid = 'dbos.workflow_status'::regclass AND tgname LIKE 'mesh_queue_wake%' ORDER BY tgname`,
  );
  return rows.map((row) => row.tgname);
}
