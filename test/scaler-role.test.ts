import assert from "node:assert/strict";
import pg from "pg";
import {
  SCALER_QUERY,
  scalerDatabaseUrl,
  scalerRoleName,
  versionScalerQuery,
} from "../app/durability/scaler-role.js";
import { WORKFLOW_CODE_VERSION } from "../app/version.js";
import { ApiClient } from "./support/api-client.js";
import { type MeshProcess, runMigrateCommand, startMesh, stopAll } from "./support/mesh-process.js";
import { createTestDatabase, dropTestDatabase, NATS_URL } from "./support/services.js";

// Fixture: a database migrated by `main migrate` (the release Job), three runs waiting on an api alone.
// KEDA connects as the scaler role the migration created, with the URL the Pulumi program gives it.

describe("KEDA's scaler role: least privilege on the real Postgres", () => {
  let databaseUrl: string;
  let scaler: pg.Client;
  const processes: MeshProcess[] = [];

  before(async () => {
    databaseUrl = await createTestDatabase("scaler_role");
    const migrated = runMigrateCommand({ DATABASE_URL: databaseUrl });
    assert.equal(migrated.status, 0, migrated.stderr);
    const api = await startMesh({
      role: "api",
      databaseUrl,
      natsUrl: NATS_URL,
      env: { MESH_AUTO_MIGRATE: "false" },
    });
    processes.push(api);
    const client = new ApiClient(api.url);
    for (const index of [1, 2, 3]) await client.createRun(`scaler-${index}`, `waiting ${index}`);
    scaler = new pg.Client({ connectionString: scalerDatabaseUrl(databaseUrl) });
    await scaler.connect();
  });
  after(async () => {
    await scaler?.end();
    await stopAll(processes);
    await dropTestDatabase(databaseUrl);
  });

  const refused = async (sql: string) => {
    const error = await scaler.query(sql).then(
      () => undefined,
      (failure: Error & { code?: string }) => failure,
    );
    assert.ok(error, `${sql} was allowed`);
    assert.equal(error.code, "42501", `${sql}: ${error.message}`); // insufficient_privilege
  };

  it("logs in as its own role, not the owner", async () => {
    const { rows } = await scaler.query("SELECT current_user AS role");
    assert.equal(rows[0].role, scalerRoleName(databaseUrl));
    assert.notEqual(rows[0].role, new URL(databaseUrl).username);
  });

  it("runs the scaler query: the depth of the run queues", async () => {
    const { rows } = await scaler.query(SCALER_QUERY);
    assert.equal(Number(rows[0].depth), 3);
    // And the per-version query of a worker Deployment per workflow version (infra/workflow-releases.ts).
    const current = await scaler.query(versionScalerQuery(WORKFLOW_CODE_VERSION, { current: true }));
    assert.equal(Number(current.rows[0].depth), 3);
    const other = await scaler.query(versionScalerQuery("mesh-wf-0", { current: false }));
    assert.equal(Number(other.rows[0].depth), 0);
  });

  it("may not read any table: DBOS's workflows (inputs, outputs) nor mesh's executors", async () => {
    await refused("SELECT * FROM dbos.workflow_status LIMIT 1");
    await refused("SELECT * FROM dbos.operation_outputs LIMIT 1");
    await refused("SELECT * FROM mesh.executors LIMIT 1");
  });

  it("may not write anything", async () => {
    await refused("UPDATE dbos.workflow_status SET status = 'CANCELLED'");
    await refused("DELETE FROM mesh.executors");
    await refused("CREATE TABLE mesh.intruder (id int)");
    await refused("CREATE TABLE public.intruder (id int)");
    await refused("CREATE OR REPLACE VIEW mesh.run_queue_depth AS SELECT 0::bigint AS depth");
  });
});
