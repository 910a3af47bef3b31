import { createHmac } from "node:crypto";

/** SQL text helpers for the roles the migration creates (the KEDA scaler's, the runtime role). */

export const quoteIdentifier = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;
export const quoteLiteral = (value: string) => `'${value.replaceAll("'", "''")}'`;

/** The database's name as a role-name prefix: roles are per Postgres server, so a role carries its database's. */
export function databaseRolePrefix(databaseUrl: string): string {
  const database = decodeURIComponent(new URL(databaseUrl).pathname.slice(1)) || "postgres";
  return database.toLowerCase().replace(/[^a-z0-9_]/g, "_");
}

/**
 * A role's password derived from the owner's URL: an HMAC keyed by its credentials, host, port and
 * database. The query string (sslmode, sslrootcert) is left out, so moving a stack to verified TLS does not
 * rotate the roles' passwords.
 */
export function derivedRolePassword(ownerDatabaseUrl: string, purpose: string): string {
  const url = new URL(ownerDatabaseUrl);
  url.search = "";
  url.hash = "";
  return createHmac("sha256", url.toString()).update(purpose).digest("hex");
}
