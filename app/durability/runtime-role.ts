import type pg from "pg";
import { databaseRolePrefix, derivedRolePassword, quoteIdentifier, quoteLiteral } from "./role-sql.js";

/**
 * The Postgres role api and worker processes run as: it reads and writes DBOS's and mesh's tables and
 * nothing else — no DDL, no CREATE, no role of the owner's. Only the migration (the release's Job, or a
 * local process migrating at launch) connects as the owner; it creates this role from the runtime URL it
 * is given (DATABASE_URL, while the owner's is DATABASE_MIGRATION_URL) and grants it, on every release,
 * what that release's tables need.
 *
 * A runtime URL naming the owner itself (one URL for both, the local default) grants nothing: the process
 * then runs as the owner, as before.
 */
export interface RuntimeRole {
  name: string;
  /** From the runtime URL; none leaves the role's password as it is (trust or certificate auth). */
  password?: string;
}

/** The schemas whose tables the runtime role reads and writes: DBOS's system schema and mesh's own. */
export const RUNTIME_SCHEMAS = ["dbos", "mesh"] as const;

/**
 * The runtime role's name for a database: roles are per Postgres server, so it carries the database's.
 * A credential generation above 0 gets a role of its own (`<db>_runtime_g<N>`): rotating the runtime
 * credentials is moving to the next generation, while pods of the previous one keep connecting.
 */
export function runtimeRoleName(databaseUrl: string, generation = 0): string {
  const prefix = databaseRolePrefix(databaseUrl);
  return generation === 0
    ? `${prefix.slice(0, 55)}_runtime`
    : `${prefix.slice(0, 48)}_runtime_g${generation}`;
}

/** A runtime role name's base (`<db>`) and generation, or undefined for a user of another name. */
export function runtimeRoleGeneration(name: string): { base: string; generation: number } | undefined {
  const match = /^(.+)_runtime(?:_g([1-9][0-9]{0,8}))?$/.exec(name);
  if (!match) return undefined;
  return { base: match[1] as string, generation: match[2] === undefined ? 0 : Number(match[2]) };
}

/**
 * The runtime role's password: an HMAC keyed by the owner's URL (as the KEDA scaler role's, scaler-role.ts),
 * so the Pulumi program computes it without another secret to keep or another provider plugin to run.
 * Whoever holds the owner's URL can derive it (the owner can reset it anyway); the runtime password does
 * not reveal the owner's. It changes with the owner's credentials, and the migration Job runs again then.
 */
export function runtimePassword(ownerDatabaseUrl: string, generation = 0): string {
  return derivedRolePassword(
    ownerDatabaseUrl,
    generation === 0 ? "mesh runtime role" : `mesh runtime role g${generation}`,
  );
}

/** The owner's URL with the runtime role's credentials: what the Pulumi program gives pods as DATABASE_URL. */
export function runtimeDatabaseUrl(ownerDatabaseUrl: string, generation = 0): string {
  const url = new URL(ownerDatabaseUrl);
  url.username = runtimeRoleName(ownerDatabaseUrl, generation);
  url.password = runtimePassword(ownerDatabaseUrl, generation);
  return url.toString();
}

export function runtimeRoleOf(runtimeDatabaseUrl: string): RuntimeRole {
  const url = new URL(runtimeDatabaseUrl);
  const name = decodeURIComponent(url.username);
  if (!name) throw new Error("DATABASE_URL names no user: the runtime role is the user it connects as");
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  return password === undefined ? { name } : { name, password };
}

const quote = quoteIdentifier;
const literal = quoteLiteral;

/**
 * Creates the runtime role, or brings an existing one back to exactly these attributes, and grants it
 * DML on every table and sequence of RUNTIME_SCHEMAS as they are after this release's migrations.
 * Returns false when the runtime role is the migrating user itself (nothing to do).
 */
export async function ensureRuntimeRole(client: pg.ClientBase, role: RuntimeRole): Promise<boolean> {
  const { rows } = await client.query<{ owner: string; database: string }>(
    "SELECT current_user AS owner, current_database() AS database",
  );
  const owner = rows[0]?.owner;
  const database = rows[0]?.database ?? "";
  if (role.name === owner) return false;
  const name = quote(role.name);
  const existing = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role.name]);
  const verb = existing.rows.length === 0 ? "CREATE" : "ALTER";
  // NOINHERIT and no memberships: the role has its own grants and nothing else (on RDS: not rds_superuser).
  const password = role.password === undefined ? "" : ` PASSWORD ${literal(role.password)}`;
  await client.query(
    `${verb} ROLE ${name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS${password}`,
  );
  await client.query(`GRANT CONNECT ON DATABASE ${quote(database)} TO ${name}`);
  for (const schema of RUNTIME_SCHEMAS) {
    const qualified = quote(schema);
    // USAGE, never CREATE: the runtime role adds no table, view or function to mesh's schemas.
    await client.query(`REVOKE CREATE ON SCHEMA ${qualified} FROM ${name}`);
    await client.query(`GRANT USAGE ON SCHEMA ${qualified} TO ${name}`);
    await client.query(
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${qualified} TO ${name}`,
    );
    await client.query(`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ${qualified} TO ${name}`);
  }
  return true;
}

/**
 * Rotation without stopping a pod: after the release's runtime role is granted, the generation just below
 * it (the pods still rolling away) keeps its login and gets this release's grants too, and so does any
 * newer one (a rollback to an older generation). Older generations, which no pod uses once the previous
 * roll finished, lose their grants and are dropped. Returns the roles dropped.
 */
export async function retireOldRuntimeRoles(client: pg.ClientBase, current: string): Promise<string[]> {
  const parsed = runtimeRoleGeneration(current);
  if (parsed === undefined) return [];
  const { rows } = await client.query<{ name: string }>(
    "SELECT rolname AS name FROM pg_roles WHERE rolname <> $1 AND starts_with(rolname, $2)",
    [current, `${parsed.base}_runtime`],
  );
  const siblings = rows
    .map((row) => ({ name: row.name, parsed: runtimeRoleGeneration(row.name) }))
    .filter((role) => role.parsed?.base === parsed.base)
    .map((role) => ({ name: role.name, generation: role.parsed?.generation ?? 0 }));
  const previous = Math.max(
    -1,
    ...siblings.filter((role) => role.generation < parsed.generation).map((role) => role.generation),
  );
  const retired: string[] = [];
  for (const role of siblings) {
    if (role.generation >= previous) {
      await ensureRuntimeRole(client, { name: role.name });
      continue;
    }
    // DROP OWNED revokes what the role was granted here and on the database; it owns nothing.
    await client.query(`DROP OWNED BY ${quote(role.name)}`);
    await client.query(`DROP ROLE ${quote(role.name)}`);
    retired.push(role.name);
  }
  return retired;
}
