import { randomBytes } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { runtimeRoleName, runtimeDatabaseUrl as runtimeUrlOf } from "../../app/durability/runtime-role.js";
import { scalerRoleName } from "../../app/durability/scaler-role.js";
import { deploymentFromDatabase, runStreamNames } from "../../app/stream/run-stream-settings.js";

/** The machine's Postgres and NATS (DESIGN: started before every session and CI run). */
export const POSTGRES_ADMIN_URL =
  process.env.MESH_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const NATS_URL = process.env.MESH_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

/** A fresh, empty database for one test file; mesh migrates it at launch. */
export async function createTestDatabase(label: string): Promise<string> {
  const name = `mesh_test_${label.replace(/\W/g, "_")}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * The URL mesh processes run with in tests, as on Kubernetes: the test database's runtime role (DML on
 * DBOS's and mesh's tables only), which the migration creates from this URL (app/durability/runtime-role.ts).
 * One role per test database: roles are per server.
 */
export function runtimeDatabaseUrl(databaseUrl: string): string {
  return runtimeUrlOf(databaseUrl);
}

/**
 * Drops a test database and the run stream its processes created on the machine's NATS (named after the
 * database when MESH_DEPLOYMENT is unset): JetStream reserves every stream's max_bytes, so streams left
 * behind by earlier runs would exhaust its storage.
 */
export async function dropTestDatabase(databaseUrl: string): Promise<void> {
  await deleteRunStream(runStreamNames(deploymentFromDatabase(databaseUrl)).deployment);
  const name = new URL(databaseUrl).pathname.slice(1);
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    // The migration's KEDA scaler role is per server; its only grants were on the dropped database.
    await admin.query(`DROP ROLE IF EXISTS "${scalerRoleName(databaseUrl)}"`);
    await admin.query(`DROP ROLE IF EXISTS "${runtimeRoleName(databaseUrl)}"`);
  } finally {
    await admin.end();
  }
}

/** Deletes a deployment's run stream from the machine's NATS, if it is there. */
export async function deleteRunStream(deployment: string): Promise<void> {
  const connection = await connect({ servers: NATS_URL, timeout: 5_000 }).catch(() => undefined);
  if (!connection) return; // NATS down (a fault test): nothing to clean
  try {
    const manager = await jetstreamManager(connection);
    await manager.streams.delete(runStreamNames(deployment).stream).catch(() => undefined);
  } finally {
    await connection.close();
  }
}

/** Runs one query against a test database. */
export async function query<T extends pg.QueryResultRow>(
  databaseUrl: string,
  sql: string,
  params: unknown[] = [],
) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

export interface WorkflowRow {
  workflow_uuid: string;
  status: string;
  name: string;
  queue_name: string | null;
  executor_id: string | null;
  queue_partition_key: string | null;
  started_at_epoch_ms: string | null;
  completed_at: string | null;
  updated_at: string;
}

/** DBOS's own record of every workflow: the ground truth for who executed what. */
export function workflowRows(databaseUrl: string): Promise<WorkflowRow[]> {
  return query<WorkflowRow>(
    databaseUrl,
    `SELECT workflow_uuid, status, name, queue_name, executor_id, queue_partition_key,
            started_at_epoch_ms::text, completed_at::text, updated_at::text
       FROM dbos.workflow_status ORDER BY created_at`,
  );
}

/** When each workflow really executed: its first step's start to its last step's end, on the executor's clock. */
export async function executionSpans(
  databaseUrl: string,
): Promise<Map<string, { start: number; end: number }>> {
  const rows = await query<{ workflow_uuid: string; start: string; end: string }>(
    databaseUrl,
    `SELECT workflow_uuid, min(started_at_epoch_ms)::text AS start, max(completed_at_epoch_ms)::text AS end
       FROM dbos.operation_outputs GROUP BY workflow_uuid`,
  );
  return new Map(rows.map((row) => [row.workflow_uuid, { start: Number(row.start), end: Number(row.end) }]));
}
