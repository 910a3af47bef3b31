/** SQL text helpers for the roles the migration creates (the KEDA scaler's, the runtime role). */

export const quoteIdentifier = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;
export const quoteLiteral = (value: string) => `'${value.replaceAll("'", "''")}'`;

/** The database's name as a role-name prefix: roles are per Postgres server, so a role carries its database's. */
export function databaseRolePrefix(databaseUrl: string): string {
  const database = decodeURIComponent(new URL(databaseUrl).pathname.slice(1)) || "postgres";
  return database.toLowerCase().replace(/[^a-z0-9_]/g, "_");
}
