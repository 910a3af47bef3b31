import assert from "node:assert/strict";
import { type MeshProcess, runMigrateCommand, startMesh, stopAll } from "./support/mesh-process.js";
import { createTestDatabase, dropTestDatabase, NATS_URL, query } from "./support/services.js";

// Fixture: the Kubernetes path. The release's migration (`main migrate`, the Job) writes the queue settings
// of the stack (worker concurrency 12); then pods start as rendered — workers with their own concurrency
// variable, api pods with none (the default 8) — in either order, Kubernetes-style (no auto-migrate).
const STACK_CONCURRENCY = "12";
const POD_ENV = { MESH_AUTO_MIGRATE: "false" };

function migrate(databaseUrl: string, env: Record<string, string>) {
  const result = runMigrateCommand({ DATABASE_URL: databaseUrl, ...env });
  assert.equal(result.status, 0, result.stderr);
}

const storedSettings = (databaseUrl: string) =>
  query<{ name: string; worker_concurrency: number; polling_interval_sec: number }>(
    databaseUrl,
    "SELECT name, worker_concurrency, polling_interval_sec FROM dbos.queues ORDER BY name",
  );

describe("queue settings have one owner: the release's migration", () => {
  const processes: MeshProcess[] = [];
  const databases: string[] = [];
  afterEach(async () => {
    await stopAll(processes.splice(0));
    for (const databaseUrl of databases.splice(0)) await dropTestDatabase(databaseUrl);
  });

  for (const order of [
    ["worker", "api"],
    ["api", "worker"],
  ] as const) {
    it(`keeps the migration's settings whatever the start order (${order.join(" then ")})`, async () => {
      const databaseUrl = await createTestDatabase("queue-settings");
      databases.push(databaseUrl);
      migrate(databaseUrl, { MESH_WORKER_CONCURRENCY: STACK_CONCURRENCY });
      const written = await storedSettings(databaseUrl);
      assert.deepEqual(
        written.map((row) => [row.name, row.worker_concurrency]),
        [
          ["automations", 12],
          ["thread-gate", 12],
        ],
      );
      for (const role of order) {
        const env =
          role === "worker"
            ? { ...POD_ENV, MESH_WORKER_CONCURRENCY: "16", MESH_QUEUE_POLL_MS: "200" }
            : POD_ENV;
        processes.push(await startMesh({ role, databaseUrl, natsUrl: NATS_URL, env }));
        assert.deepEqual(await storedSettings(databaseUrl), written, `after the ${role} started`);
      }
    });
  }

  it("polls API runs at MESH_QUEUE_POLL_MS and automations at no less than a second", async () => {
    const databaseUrl = await createTestDatabase("queue-settings");
    databases.push(databaseUrl);
    migrate(databaseUrl, { MESH_QUEUE_POLL_MS: "50" });
    assert.deepEqual(
      (await storedSettings(databaseUrl)).map((row) => [row.name, row.polling_interval_sec]),
      [
        ["automations", 1],
        ["thread-gate", 0.05],
      ],
    );
    migrate(databaseUrl, { MESH_QUEUE_POLL_MS: "2000" });
    assert.deepEqual(
      (await storedSettings(databaseUrl)).map((row) => [row.name, row.polling_interval_sec]),
      [
        ["automations", 2],
        ["thread-gate", 2],
      ],
    );
  });

  it("lets a later migration (the next release) change them", async () => {
    const databaseUrl = await createTestDatabase("queue-settings");
    databases.push(databaseUrl);
    migrate(databaseUrl, { MESH_WORKER_CONCURRENCY: STACK_CONCURRENCY });
    processes.push(await startMesh({ role: "worker", databaseUrl, natsUrl: NATS_URL, env: POD_ENV }));
    migrate(databaseUrl, { MESH_WORKER_CONCURRENCY: "20" });
    assert.deepEqual(
      (await storedSettings(databaseUrl)).map((row) => row.worker_concurrency),
      [20, 20],
    );
  });
});
