import type pg from "pg";
import { RUN_QUEUES } from "../queue-names.js";
import { databaseRolePrefix, derivedRolePassword, quoteIdentifier, quoteLiteral } from "./role-sql.js";

/**
 * The least-privilege Postgres role of KEDA's queue-depth scaler (worker.autoscaling.mode=queueDepth): it
 * can log in and read one number, the run queues' depth, through the view mesh.run_queue_depth (which runs
 * with its owner's rights) — no workflow row, no input or output, no write. The migration creates it.
 *
 * Its password is derived from the system database URL (an HMAC keyed by the URL), so the Pulumi program
 * and the migration compute the same one without another secret to keep; it changes when the database
 * credentials change, and the migration Job runs again then (its name follows Secret `mesh`).
 */
export const QUEUE_DEPTH_VIEW = "mesh.run_queue_depth";

/** The same depth per DBOS application version (workflow version), for a Deployment per version. */
export const VERSION_QUEUE_DEPTH_VIEW = "mesh.run_queue_depth_by_version";

/** The SQL KEDA runs: one row, one column. */
export const SCALER_QUERY = `SELECT depth FROM ${QUEUE_DEPTH_VIEW}`;

/**
 * The SQL KEDA runs for the workers of one workflow version: its runs waiting plus running. The current
 * version also counts runs enqueued without a version, which DBOS dequeues on the latest version only.
 */
export function versionScalerQuery(version: string, { current }: { current: boolean }): string {
  const versions = `application_version = ${literal(version)}${current ? " OR application_version IS NULL" : ""}`;
  return `SELECT COALESCE(sum(depth), 0)::bigint AS depth FROM ${VERSION_QUEUE_DEPTH_VIEW} WHERE ${versions}`;
}

/** Roles are per Postgres server, so the name carries the database's. */
export function scalerRoleName(databaseUrl: string): string {
  return `${databaseRolePrefix(databaseUrl)}_keda_scaler`.slice(0, 63);
}

export function scalerPassword(databaseUrl: string): string {
  return derivedRolePassword(databaseUrl, "mesh KEDA scaler role");
}

/** The system database URL with the scaler role's credentials instead of the owner's. */
export function scalerDatabaseUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.username = scalerRoleName(databaseUrl);
  url.password = scalerPassword(databaseUrl);
  return url.toString();
}

const quote = quoteIdentifier;
const literal = quoteLiteral;

/** Creates or updates the view and the role, and grants the role exactly what the scaler query needs. */
export async function ensureScalerRole(
  client: pg.ClientBase,
  databaseUrl: string,
  password: string = scalerPassword(databaseUrl),
): Promise<void> {
  const role = quote(scalerRoleName(databaseUrl));
  const queues = RUN_QUEUES.map(literal).join(", ");
  await client.query(`
    CREATE OR REPLACE VIEW ${QUEUE_DEPTH_VIEW} AS
      SELECT count(*)::bigint AS depth FROM dbos.workflow_status
      WHERE queue_name IN (${queues}) AND status IN ('ENQUEUED', 'PENDING') AND application_name = 'mesh'`);
  await client.query(`
    CREATE OR REPLACE VIEW ${VERSION_QUEUE_DEPTH_VIEW} AS
      SELECT application_version, count(*)::bigint AS depth FROM dbos.workflow_status
      WHERE queue_name IN (${queues}) AND status IN ('ENQUEUED', 'PENDING') AND application_name = 'mesh'
      GROUP BY application_version`);
  const { rows } = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [
    scalerRoleName(databaseUrl),
  ]);
  const verb = rows.length === 0 ? "CREATE" : "ALTER";
  await client.query(
    `${verb} ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD ${literal(password)}`,
  );
  await client.query(
    `GRANT CONNECT ON DATABASE ${quote((await client.query("SELECT current_database() AS d")).rows[0].d)} TO ${role}`,
  );
  await client.query(`GRANT USAGE ON SCHEMA mesh TO ${role}`);
  await client.query(`GRANT SELECT ON ${QUEUE_DEPTH_VIEW}, ${VERSION_QUEUE_DEPTH_VIEW} TO ${role}`);
}
