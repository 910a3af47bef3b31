import assert from "node:assert/strict";
import { WORKFLOW_CODE_VERSION } from "../../app/version.js";
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

  const depthOf = async (version: string, current: boolean) =>
    Number((await query<{ depth: string }>(databaseUrl, queueDepthQuery(version, current)))[0]?.depth);
  const depth = () => depthOf(WORKFLOW_CODE_VERSION, true);
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

  it("counts each workflow version's runs for its own workers: a draining version's apart", async () => {
    // No worker: the runs stay ENQUEUED while they are counted.
    await processes.pop()?.stop();
    const client = new ApiClient(processes[0]?.url ?? "");
    const runIds = await Promise.all(
      Array.from({ length: 5 }, (_, index) => client.createRun(`versions-${index}`, `versions ${index}`)),
    );
    // Two of them as a draining version's runs would be (enqueued by, or handed back from, its workers).
    await query(
      databaseUrl,
      "UPDATE dbos.workflow_status SET application_version = 'mesh-wf-0' WHERE workflow_uuid = ANY($1)",
      [runIds.slice(0, 2)],
    );
    assert.equal(await depth(), 3);
    assert.equal(await depthOf("mesh-wf-0", false), 2);
    assert.equal(
      await depthOf("mesh-wf-9", false),
      0,
      "a version without runs: zero, so KEDA scales it to 0",
    );
  });
});
