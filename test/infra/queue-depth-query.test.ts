import assert from "node:assert/strict";
import { queueDepthQuery } from "../../infra/queue-depth-query.js";
import { ApiClient } from "../support/api-client.js";
import { type MeshProcess, startMesh, stopAll } from "../support/mesh-process.js";
import { createTestDatabase, dropTestDatabase, NATS_URL, query, workflowRows } from "../support/services.js";
import { waitFor } from "../support/wait.js";

// Fixture: the SQL that KEDA's postgresql trigger runs (worker.autoscaling.mode=queueDepth), against
// a real database with real runs: an api alone first (runs wait ENQUEUED), then a slow worker
// (some PENDING), then completion.
describe("KEDA queue-depth query against real runs", () => {
  let databaseUrl: string;
  const processes: MeshProcess[] = [];

  before(async () => {
    databaseUrl = await createTestDatabase("queue_depth");
    processes.push(await startMesh({ role: "api", databaseUrl, natsUrl: NATS_URL }));
  });

  after(async () => {
    await stopAll(processes);
    await dropTestDatabase(databaseUrl);
  });

  const depth = async () =>
    Number((await query<{ depth: string }>(databaseUrl, queueDepthQuery()))[0]?.depth);
  const counted = async () =>
    (await workflowRows(databaseUrl)).filter(
      (row) =>
        ["thread-gate", "automations"].includes(row.queue_name ?? "") &&
        ["ENQUEUED", "PENDING"].includes(row.status),
    ).length;

  it("counts ENQUEUED plus PENDING runs on the run queues, and nothing else", async () => {
    const client = new ApiClient(processes[0]?.url ?? "");
    const runIds = await Promise.all(
      Array.from({ length: 9 }, (_, index) => client.createRun(`depth-${index % 3}`, `depth ${index}`)),
    );
    assert.equal(await depth(), 9);

    const worker = await startMesh({
      role: "worker",
      databaseUrl,
      natsUrl: NATS_URL,
      env: { MESH_BUILTIN_TOKENS: "30", MESH_BUILTIN_TOKEN_DELAY_MS: "40" },
    });
    processes.push(worker);
    await waitFor("runs in flight", async () =>
      (await workflowRows(databaseUrl)).some((row) => row.status === "PENDING"),
    );
    const rows = await workflowRows(databaseUrl);
    const pending = rows.filter((row) => row.status === "PENDING").length;
    assert.ok(pending > 0 && pending <= 3, "one run per thread at a time");
    assert.equal(await depth(), await counted());

    await waitFor("every run to finish", async () => {
      const all = await Promise.all(runIds.map((runId) => client.getRun(runId)));
      return all.every((run) => run.status === "SUCCESS");
    });
    assert.equal(await depth(), 0);
  });
});
