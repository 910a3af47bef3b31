import assert from "node:assert/strict";
import { ApiClient } from "../support/api-client.js";
import { useCpuHogIfRequested } from "../support/cpu-hog.js";
import { cannotRestart, restartPostgres, startNats, stopNats } from "../support/machine-services.js";
import { type MeshProcess, startMesh, stopAll } from "../support/mesh-process.js";
import { expectedOutput, waitForAllSucceeded } from "../support/run-checks.js";
import { createTestDatabase, dropTestDatabase, NATS_URL } from "../support/services.js";
import { waitFor } from "../support/wait.js";

// Fixture: 1 api + 1 worker; runs of 30 tokens at 30 ms. The machine's real Postgres and NATS are
// restarted underneath them.
const TOKENS = 30;
const env = {
  MESH_BUILTIN_TOKENS: String(TOKENS),
  MESH_BUILTIN_TOKEN_DELAY_MS: "30",
  MESH_CHECKPOINT_EVERY: "5",
  MESH_WORKER_CONCURRENCY: "8",
  MESH_EXECUTOR_TIMEOUT_MS: "5000",
};

describe("durability: Postgres and NATS restarts", () => {
  useCpuHogIfRequested();
  let databaseUrl: string;
  let processes: MeshProcess[] = [];
  let client: ApiClient;

  beforeEach(async () => {
    databaseUrl = await createTestDatabase("restarts");
    processes = [
      await startMesh({ role: "api", databaseUrl, natsUrl: NATS_URL, env }),
      await startMesh({ role: "worker", databaseUrl, natsUrl: NATS_URL, env }),
    ];
    client = new ApiClient(processes[0]?.url ?? "");
  });

  afterEach(async function () {
    // A failed restart test shows what the processes said: the assertion alone does not tell which
    // path (a stream error, a refused request) ended a stream without `done`.
    if (this.currentTest?.state === "failed") {
      // The processes' last lines may still be in the pipes: give them a second to arrive.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      for (const mesh of processes) console.log(`--- ${mesh.executorId}\n${mesh.logs.slice(-40).join("\n")}`);
    }
    await startNats().catch(() => undefined);
    await stopAll(processes);
    await dropTestDatabase(databaseUrl);
  });

  it("loses no run across a Postgres restart; /readyz goes 503 and back to 200; every process survives", async () => {
    const missing = cannotRestart("postgres");
    if (missing) assert.fail(missing);
    const [api] = processes;
    assert.ok(api);
    const inputs = Array.from({ length: 16 }, (_, index) => `pg restart ${index}`);
    const runIds = await Promise.all(
      inputs.map((input, index) => client.createRun(`pg-${index % 8}`, input)),
    );

    const readiness: number[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const response = await fetch(`${api.url}/readyz`).catch(() => undefined);
        readiness.push(response?.status ?? 0);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await restartPostgres(2_000);
    const runs = await waitForAllSucceeded(client, runIds, 120_000);
    await waitFor("api ready again", async () => (await fetch(`${api.url}/readyz`)).status === 200);
    watching = false;
    await watcher;

    for (const [index, run] of runs.entries())
      assert.equal(run.output, expectedOutput(inputs[index] ?? "", TOKENS));
    assert.ok(readiness.includes(503), `readiness never dropped: ${[...new Set(readiness)]}`);
    assert.equal(readiness.at(-1), 200);
    for (const mesh of processes) assert.equal(mesh.exited, false, `${mesh.executorId} died`);
  });

  it("completes every run across a NATS restart; an open stream resumes or ends with the stored output and done", async () => {
    const missing = cannotRestart("nats");
    if (missing) assert.fail(missing);
    const inputs = Array.from({ length: 8 }, (_, index) => `nats restart ${index}`);
    const runIds = await Promise.all(inputs.map((input, index) => client.createRun(`nats-${index}`, input)));
    const firstRun = runIds[0] ?? "";
    const stream = client.readStream(firstRun);

    await new Promise((resolve) => setTimeout(resolve, 300));
    await stopNats();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await startNats();

    const runs = await waitForAllSucceeded(client, runIds, 120_000);
    for (const [index, run] of runs.entries())
      assert.equal(run.output, expectedOutput(inputs[index] ?? "", TOKENS));
    for (const mesh of processes) assert.equal(mesh.exited, false, `${mesh.executorId} died`);

    const first = await stream;
    const text = first.chunks.map((chunk) => chunk.text).join("");
    if (first.done) {
      // Ended with done: the chunks it delivered plus done's output are the whole, exact answer.
      assert.equal(first.done.status, "SUCCESS");
      assert.equal(first.done.output, expectedOutput(inputs[0] ?? "", TOKENS));
      assert.equal(text, first.done.output);
    } else {
      // Cut off: resuming from its last id gives the rest, without gaps or duplicates.
      const resumed = await client.readStream(firstRun, { lastEventId: first.chunks.at(-1)?.id });
      assert.equal(resumed.done?.status, "SUCCESS");
      assert.equal(
        text + resumed.chunks.map((chunk) => chunk.text).join(""),
        expectedOutput(inputs[0] ?? "", TOKENS),
      );
    }
    // A stream opened after the restart still gets the whole output and done.
    const late = await client.readStream(runIds[1] ?? "");
    assert.equal(late.status, 200, "the late stream was answered");
    assert.equal(
      late.done?.status,
      "SUCCESS",
      `the late stream ended with done (${late.chunks.length} chunks); the body's end as received:\n${late.rawTail.slice(-1500)}`,
    );
    assert.equal(late.chunks.map((chunk) => chunk.text).join(""), expectedOutput(inputs[1] ?? "", TOKENS));
  });
});
