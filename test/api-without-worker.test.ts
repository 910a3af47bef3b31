import assert from "node:assert/strict";
import { ApiClient } from "./support/api-client.js";
import { type MeshProcess, startMesh, stopAll } from "./support/mesh-process.js";
import { createTestDatabase, dropTestDatabase, NATS_URL, workflowRows } from "./support/services.js";
import { waitFor } from "./support/wait.js";

// Fixture: an api process alone (dispatchRole=api with no worker — the state the infra refuses),
// then one worker started late.
describe("api without a worker", () => {
  let databaseUrl: string;
  const processes: MeshProcess[] = [];

  before(async () => {
    databaseUrl = await createTestDatabase("api_alone");
    processes.push(await startMesh({ role: "api", databaseUrl, natsUrl: NATS_URL }));
  });

  after(async () => {
    await stopAll(processes);
    await dropTestDatabase(databaseUrl);
  });

  it("keeps runs ENQUEUED with no live listener, then a late worker completes every one", async () => {
    const [api] = processes;
    assert.ok(api);
    const client = new ApiClient(api.url);
    const runIds = await Promise.all(
      Array.from({ length: 6 }, (_, index) => client.createRun(`waiting-${index % 3}`, `input ${index}`)),
    );

    // Give a (wrongly) dispatching api every chance to pick them up: several poll intervals.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    for (const runId of runIds) assert.equal((await client.getRun(runId)).status, "ENQUEUED");
    const { body } = await client.request("GET", "/v1/queues");
    const threadGate = body.queues.find((queue: { name: string }) => queue.name === "thread-gate");
    assert.deepEqual(
      { enqueued: threadGate.enqueued, pending: threadGate.pending, listeners: threadGate.listeners },
      { enqueued: 6, pending: 0, listeners: 0 },
    );

    const worker = await startMesh({ role: "worker", databaseUrl, natsUrl: NATS_URL });
    processes.push(worker);
    await waitFor("every waiting run to succeed", async () => {
      const statuses = await Promise.all(runIds.map(async (runId) => (await client.getRun(runId)).status));
      return statuses.every((status) => status === "SUCCESS");
    });
    const rows = (await workflowRows(databaseUrl)).filter((row) => row.name === "agentRun");
    assert.equal(rows.length, 6);
    assert.ok(rows.every((row) => row.executor_id === worker.executorId));
    const after = await client.request("GET", "/v1/queues");
    assert.equal(after.body.queues[0].listeners, 1);
  });
});
