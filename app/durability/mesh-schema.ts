import type pg from "pg";

/**
 * mesh's own tables, next to DBOS's: one row per executor that ever ran, kept fresh by heartbeats, and one
 * per workflow-code version a release shipped.
 */
const MESH_SCHEMA_SQL = `
  CREATE SCHEMA IF NOT EXISTS mesh;
  CREATE TABLE IF NOT EXISTS mesh.executors (
    executor_id    text PRIMARY KEY,
    role           text NOT NULL,
    version        text NOT NULL,
    listen_queues  text[],
    started_at     timestamptz NOT NULL DEFAULT now(),
    last_seen      timestamptz NOT NULL DEFAULT now(),
    stopped_at     timestamptz,
    reaped_at      timestamptz
  );
  CREATE INDEX IF NOT EXISTS executors_last_seen ON mesh.executors (last_seen);
  -- The workflow-code versions releases have shipped, newest release last (app/durability/workflow-versions.ts).
  CREATE TABLE IF NOT EXISTS mesh.workflow_versions (
    version       text PRIMARY KEY,
    released_at   timestamptz NOT NULL DEFAULT now()
  );
`;

/** Creates or upgrades mesh's schema. Idempotent; callers serialise it with the migration lock. */
export async function migrateMeshSchema(client: pg.ClientBase): Promise<void> {
  await client.query(MESH_SCHEMA_SQL);
}
