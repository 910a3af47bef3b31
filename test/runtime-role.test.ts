import assert from "node:assert/strict";
import pg from "pg";
import { ApiClient } from "./support/api-client.js";
import { type MeshProcess, runMigrateCommand, startMesh, stopAll } from "./support/mesh-process.js";
import { waitForAllSucceeded } from "./support/run-checks.js";
import {
  createTestDatabase,
  dropTestDatabase,
  NATS_URL,
  query,
  runtimeDatabaseUrl,
} from "./support/services.js";

// Fixture: a database migrated by `main migrate` as its owner (the release Job), an api and a worker
// running as the runtime role the migration created (as every suite's processes do), and a session of
// that role to try what a compromised pod would.

describe("the runtime database role: api and worker processes get DML on mesh's tables, nothing more", () => {
  let databaseUrl: string;
  let runtime: pg.Client;
  const processes: MeshProcess[] = [];

  before(async () => {
    databaseUrl = await createTestDatabase("runtime_role");
    const migrated = runMigrateCommand({ DATABASE_URL: databaseUrl });
    assert.equal(migrated.status, 0, migrated.stderr);
    // What a compromised pod must not read: a table of the owner's outside mesh's schemas.
    await query(
      databaseUrl,
      "CREATE SCHEMA billing; CREATE TABLE billing.invoices (id int); INSERT INTO billing.invoices VALUES (1)",
    );
    const env = { MESH_AUTO_MIGRATE: "false" };
    processes.push(await startMesh({ role: "api", databaseUrl, natsUrl: NATS_URL, env }));
    processes.push(await startMesh({ role: "worker", databaseUrl, natsUrl: NATS_URL, env }));
    runtime = new pg.Client({ connectionString: runtimeDatabaseUrl(databaseUrl) });
    await runtime.connect();
  });
  after(async () => {
    await runtime?.end();
    await stopAll(processes);
    await dropTestDatabase(databaseUrl);
  });

  const refused = async (sql: string) => {
    const error = await runtime.query(sql).then(
      () => undefined,
      (failure: Error & { code?: string }) => failure,
    );
    assert.ok(error, `${sql} was allowed`);
    assert.equal(error.code, "42501", `${sql}: ${error.message}`); // insufficient_privilege
  };

  it("the processes connect as the runtime role, which is neither the owner nor a member of any role", async () => {
    const sessions = await query<{ user: string; count: number }>(
      databaseUrl,
      `SELECT usename AS user, count(*)::int AS count FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND usename IS NOT NULL GROUP BY 1`,
    );
    const runtimeUser = new URL(runtimeDatabaseUrl(databaseUrl)).username;
    assert.deepEqual(
      sessions.map((session) => session.user).filter((user) => user !== runtimeUser),
      [],
      `sessions of other users on the database: ${JSON.stringify(sessions)}`,
    );
    const [attributes] = await query<Record<string, boolean>>(
      databaseUrl,
      `SELECT rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication, rolbypassrls,
              EXISTS (SELECT 1 FROM pg_auth_members WHERE member = pg_roles.oid) AS member_of_a_role
         FROM pg_roles WHERE rolname = $1`,
      [runtimeUser],
    );
    assert.deepEqual(attributes, {
      rolsuper: false,
      rolcreatedb: false,
      rolcreaterole: false,
      rolinherit: false,
      rolreplication: false,
      rolbypassrls: false,
      member_of_a_role: false,
    });
  });

  it("runs a run end to end as that role", async () => {
    const api = processes[0];
    assert.ok(api);
    const client = new ApiClient(api.url);
    const runId = await client.createRun("runtime-role", "as the runtime role");
    const [run] = await waitForAllSucceeded(client, [runId]);
    assert.equal(run?.executorId, processes[1]?.executorId);
  });

  it("is refused DDL: CREATE, ALTER, DROP, TRUNCATE, in mesh's schemas and elsewhere", async () => {
    await refused("CREATE TABLE mesh.planted (id int)");
    await refused("CREATE TABLE dbos.planted (id int)");
    await refused("CREATE TABLE public.planted (id int)");
    await refused("CREATE SCHEMA planted");
    await refused("CREATE FUNCTION mesh.planted() RETURNS int LANGUAGE sql AS 'SELECT 1'");
    await refused("ALTER TABLE dbos.workflow_status ADD COLUMN planted int");
    await refused("ALTER TABLE mesh.executors DISABLE TRIGGER ALL");
    await refused("DROP TABLE dbos.workflow_status");
    await refused("DROP TRIGGER mesh_queue_wake_status ON dbos.workflow_status");
    await refused("TRUNCATE dbos.workflow_status");
    await refused("CREATE ROLE planted LOGIN");
  });

  it("is refused reading anything outside its grants", async () => {
    await refused("SELECT * FROM billing.invoices");
    await refused("SELECT * FROM pg_authid");
  });

  it("a new release's migration grants it the tables that release adds", async () => {
    // The next release's DDL, as its migration runs it: a table added to mesh's schema by the owner.
    await query(databaseUrl, "CREATE TABLE mesh.added_by_next_release (id int)");
    await refused("INSERT INTO mesh.added_by_next_release VALUES (1)");
    const migrated = runMigrateCommand({ DATABASE_URL: databaseUrl });
    assert.equal(migrated.status, 0, migrated.stderr);
    await runtime.query("INSERT INTO mesh.added_by_next_release VALUES (1)");
    const { rows } = await runtime.query("SELECT count(*)::int AS count FROM mesh.added_by_next_release");
    assert.equal(rows[0].count, 1);
    await refused("DROP TABLE mesh.added_by_next_release");
  });
});
