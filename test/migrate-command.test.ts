import assert from "node:assert/strict";
import { runMigrateCommand, startMesh } from "./support/mesh-process.js";
import { createTestDatabase, dropTestDatabase, NATS_URL, query } from "./support/services.js";

// The Kubernetes path: a Job runs `main migrate` once per image; pods start with MESH_AUTO_MIGRATE=false.

const migrate = (databaseUrl: string) => runMigrateCommand({ DATABASE_URL: databaseUrl });

describe("main migrate (the migration Job)", () => {
  let databaseUrl: string;
  before(async () => {
    databaseUrl = await createTestDatabase("migrate");
  });
  after(() => dropTestDatabase(databaseUrl));

  it("refuses to start a pod with MESH_AUTO_MIGRATE=false on an unmigrated database", async () => {
    await assert.rejects(
      // As the owner: on an unmigrated database the runtime role does not exist yet either.
      startMesh({
        role: "api",
        databaseUrl,
        natsUrl: NATS_URL,
        runAs: "owner",
        env: { MESH_AUTO_MIGRATE: "false" },
      }),
      /exited early[\s\S]*schema version 0[\s\S]*runMigrations disabled/,
    );
  });

  it("migrates the DBOS and mesh schemas, exits 0, and is idempotent", async () => {
    for (const attempt of [1, 2]) {
      const result = migrate(databaseUrl);
      assert.equal(result.status, 0, `attempt ${attempt}: ${result.stderr}`);
      assert.match(result.stdout, /migrations complete/);
    }
    const tables = await query<{ name: string }>(
      databaseUrl,
      "SELECT table_schema || '.' || table_name AS name FROM information_schema.tables WHERE table_schema IN ('dbos', 'mesh') ORDER BY 1",
    );
    const names = tables.map((table) => table.name);
    assert.ok(names.includes("dbos.workflow_status") && names.includes("mesh.executors"), names.join(", "));
  });

  it("then starts pods with MESH_AUTO_MIGRATE=false", async () => {
    const api = await startMesh({
      role: "api",
      databaseUrl,
      natsUrl: NATS_URL,
      env: { MESH_AUTO_MIGRATE: "false" },
    });
    try {
      assert.equal((await fetch(`${api.url}/readyz`)).status, 200);
      assert.ok(!api.logs.some((line) => line.includes("migrations complete")), "the pod did not migrate");
    } finally {
      await api.stop();
    }
  });
});
