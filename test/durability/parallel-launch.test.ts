import assert from "node:assert/strict";
import { useCpuHogIfRequested } from "../support/cpu-hog.js";
import { type MeshProcess, startMesh, stopAll } from "../support/mesh-process.js";
import { createTestDatabase, dropTestDatabase, NATS_URL, query } from "../support/services.js";

// Fixture: an empty database and five processes (mixed roles) launched at the same moment, each
// running the migrations at launch (MESH_AUTO_MIGRATE=true).
describe("durability: parallel launch on an empty database", () => {
  useCpuHogIfRequested();
  let databaseUrl: string;
  let processes: MeshProcess[] = [];

  before(async () => {
    databaseUrl = await createTestDatabase("parallel");
  });

  after(async () => {
    await stopAll(processes);
    await dropTestDatabase(databaseUrl);
  });

  it("brings all five processes to ready without a migration error", async () => {
    const roles = ["api", "worker", "worker", "api", "worker"] as const;
    processes = await Promise.all(
      roles.map((role) =>
        startMesh({ role, databaseUrl, natsUrl: NATS_URL, env: { MESH_AUTO_MIGRATE: "true" } }),
      ),
    );
    for (const mesh of processes) {
      assert.equal((await fetch(`${mesh.url}/readyz`)).status, 200);
      const errors = mesh.logs.filter(
        (line) => /"level":(50|60)/.test(line) || /migrat\w* (error|failed)/i.test(line),
      );
      assert.deepEqual(errors, [], `${mesh.executorId} logged errors`);
    }
    const completions = processes.flatMap((mesh) =>
      mesh.logs.filter((line) => line.includes("migrations complete")),
    );
    assert.equal(completions.length, 5, "every process ran the (idempotent) migration under the lock");
    const executors = await query<{ count: string }>(
      databaseUrl,
      "SELECT count(*)::text AS count FROM mesh.executors",
    );
    assert.equal(executors[0]?.count, "5");
  });
});
