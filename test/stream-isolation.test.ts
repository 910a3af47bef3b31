import assert from "node:assert/strict";
import { ApiClient } from "./support/api-client.js";
import { type MeshProcess, startMesh, stopAll } from "./support/mesh-process.js";
import { expectedOutput } from "./support/run-checks.js";
import { createTestDatabase, deleteRunStream, dropTestDatabase, NATS_URL } from "./support/services.js";

// Fixture: two mesh deployments — each its own database and MESH_DEPLOYMENT, one `all` process each —
// sharing the machine's one NATS, as two stacks sharing an external NATS would.
const TOKENS = 40;
const env = { MESH_BUILTIN_TOKENS: String(TOKENS), MESH_BUILTIN_TOKEN_DELAY_MS: "20" };

describe("two deployments on one NATS", () => {
  const deployments: Array<{ name: string; databaseUrl: string; mesh: MeshProcess }> = [];

  before(async () => {
    for (const name of ["isolation-a", "isolation-b"]) {
      const databaseUrl = await createTestDatabase(name);
      const mesh = await startMesh({
        role: "all",
        databaseUrl,
        natsUrl: NATS_URL,
        env: { ...env, MESH_DEPLOYMENT: name },
      });
      deployments.push({ name, databaseUrl, mesh });
    }
  });

  after(async () => {
    await stopAll(deployments.map((deployment) => deployment.mesh));
    for (const deployment of deployments) {
      await dropTestDatabase(deployment.databaseUrl);
      await deleteRunStream(deployment.name);
    }
  });

  it("gives the same thread and idempotency key the same run ID in both, and each reader only its own chunks", async () => {
    const key = `shared-key-${process.pid}-${Date.now()}`;
    const runs = await Promise.all(
      deployments.map(async (deployment) => {
        const client = new ApiClient(deployment.mesh.url);
        const input = `the question of ${deployment.name}`;
        const runId = await client.createRun("shared-thread", input, key);
        return { deployment, client, input, runId };
      }),
    );
    assert.equal(runs[0]?.runId, runs[1]?.runId, "run IDs derive from thread and key: the hazard is real");

    const readings = await Promise.all(runs.map((run) => run.client.readStream(run.runId)));
    for (const [index, reading] of readings.entries()) {
      const run = runs[index];
      assert.ok(run);
      const expected = expectedOutput(run.input, TOKENS);
      assert.deepEqual(
        reading.chunks.map((chunk) => chunk.seq),
        Array.from({ length: TOKENS }, (_, seq) => seq + 1),
        `${run.deployment.name}: every seq once`,
      );
      assert.equal(
        reading.chunks.map((chunk) => chunk.text).join(""),
        expected,
        `${run.deployment.name} read only its own run's chunks`,
      );
      assert.equal(
        reading.done?.source,
        undefined,
        `${run.deployment.name} streamed from NATS, not the store`,
      );
    }
  });
});
