import { DBOS } from "@dbos-inc/dbos-sdk";
import pg from "pg";
import { log } from "../log.js";
import { installQueueWakeTrigger, removeQueueWakeTrigger } from "../queue-wake/wake-trigger.js";
import { migrateMeshSchema } from "./mesh-schema.js";
import { ensureRuntimeRole, retireOldRuntimeRoles, runtimeRoleOf } from "./runtime-role.js";
import { ensureScalerRole } from "./scaler-role.js";
import { recordRelease } from "./workflow-versions.js";

/** Advisory lock key held while migrating ("mesh-mig" in ASCII), so parallel launches never race. */
const MIGRATION_LOCK_KEY = 0x6d6573682d6d6967n;

/**
 * Runs the DBOS system-database migrations and mesh's own, once, under a Postgres advisory lock: many
 * processes starting together on an empty database wait for the first one instead of racing on DBOS's
 * migration table. Used at launch when MESH_AUTO_MIGRATE=true and by `main.js migrate` (the Job). Records
 * the workflow-code version of the image migrating (the Job promotes it to newest release), and installs
 * the queue wake-up's triggers, or removes them when the release turns the wake-up off. `databaseUrl` is
 * the owner's; given the URL the processes run with (`runtimeDatabaseUrl`), it creates that user as the
 * runtime role and grants it what this release's tables need (runtime-role.ts).
 */
export async function runMigrations(
  databaseUrl: string,
  release: { version: string; promote: boolean },
  features: { queueWake: boolean } = { queueWake: true },
  roles: {
    /** The URL api and worker processes run with: its user becomes the runtime role. */
    runtimeDatabaseUrl?: string;
    /** KEDA's URL: its password becomes the scaler role's (else one derived from the owner's URL). */
    scalerDatabaseUrl?: string;
  } = {},
): Promise<void> {
  const { runtimeDatabaseUrl, scalerDatabaseUrl } = roles;
  await ensureDatabaseExists(databaseUrl);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await acquireMigrationLock(client);
    const started = Date.now();
    await DBOS.migrate(databaseUrl);
    await migrateMeshSchema(client);
    if (features.queueWake) await installQueueWakeTrigger(client);
    else await removeQueueWakeTrigger(client);
    // This release's workflow-code version becomes the one version-free runs are dispatched to.
    await recordRelease(client, release.version, release);
    const scalerPassword = scalerDatabaseUrl
      ? decodeURIComponent(new URL(scalerDatabaseUrl).password)
      : undefined;
    await ensureScalerRole(client, databaseUrl, scalerPassword || undefined).catch(
      (error: Error & { code?: string }) => {
        // A database user without CREATEROLE (some external Postgres): everything but queue-depth
        // autoscaling works, so say what is missing instead of failing the release.
        if (error.code !== "42501") throw error;
        log.warn(
          { err: error.message },
          "cannot create the KEDA scaler role; worker.autoscaling.mode=queueDepth needs it",
        );
      },
    );
    // Last: the grants cover every table the migrations above created.
    if (runtimeDatabaseUrl !== undefined) {
      const role = runtimeRoleOf(runtimeDatabaseUrl);
      if (await ensureRuntimeRole(client, role)) {
        log.info({ role: role.name }, "runtime role granted");
        const retired = await retireOldRuntimeRoles(client, role.name);
        if (retired.length > 0) log.info({ retired }, "older runtime credential generations dropped");
      }
    }
    log.info({ ms: Date.now() - started }, "migrations complete");
  } finally {
    await client
      .query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY.toString()])
      .catch(() => undefined);
    await client.end();
  }
}

/**
 * Waits for the migration lock by polling pg_try_advisory_lock. A blocking pg_advisory_lock would keep
 * each waiter inside a running statement, and DBOS's CREATE INDEX CONCURRENTLY waits for every running
 * transaction to end: the first process would wait for the others, which wait for it (deadlock).
 */
async function acquireMigrationLock(client: pg.Client, timeoutMs = 10 * 60 * 1000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let logged = false;
  while (true) {
    const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [
      MIGRATION_LOCK_KEY.toString(),
    ]);
    if (rows[0]?.locked) return;
    if (Date.now() > deadline)
      throw new Error(`another process held the migration lock for over ${timeoutMs} ms`);
    if (!logged) log.info("waiting for another process to finish migrating");
    logged = true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Creates the database named in the URL when it does not exist yet (local and test databases). */
async function ensureDatabaseExists(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const database = decodeURIComponent(url.pathname.slice(1));
  if (!database) return;
  const probe = new pg.Client({ connectionString: databaseUrl });
  try {
    await probe.connect();
    return;
  } catch (error) {
    if ((error as { code?: string }).code !== "3D000") throw error;
  } finally {
    await probe.end().catch(() => undefined);
  }
  url.pathname = "/postgres";
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
    log.info({ database }, "created database");
  } catch (error) {
    // 42P04: another process created it between our probe and now.
    if ((error as { code?: string }).code !== "42P04") throw error;
  } finally {
    await admin.end();
  }
}
