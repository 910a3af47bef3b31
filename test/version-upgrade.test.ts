// A workflow-code version upgrade (mesh-wf-1 → mesh-wf-2) with runs of every kind in flight: queued,
// mid-way, handed back by a draining worker, orphaned by a kill -9. v2 checkpoints at another step layout
// (MESH_CHECKPOINT_EVERY 5 instead of 4), so a v1 run resumed on v2 code would replay v1's segments into
// v2's layout and give a wrong output: only v1 code may finish a run v1 started.
import assert from "node:assert/strict";
import { ApiClient } from "./support/api-client.js";
import { type MeshProcess, runMigrateCommand, startMesh, stopAll } from "./support/mesh-process.js";
import {
  completionsByRun,
  expectedOutput,
  segmentExecutions,
  waitForAllSucceeded,
} from "./support/run-checks.js";
import { createTestDatabase, dropTestDatabase, NATS_URL, query } from "./support/services.js";
import { waitFor } from "./support/wait.js";

/**
 * 64 tokens 250 ms apart (16 s): runs the old workers hold outlast the v2 release's migration, its three
 * processes' start and A's 4-s drain, also on a loaded machine (at 150 ms apart, a build running beside the
 * suite let the old workers finish every run before v2 was up).
 */
const TOKENS = 64;
const V1 = { MESH_WORKFLOW_VERSION: "mesh-wf-1", MESH_CHECKPOINT_EVERY: "4" };
const V2 = { MESH_WORKFLOW_VERSION: "mesh-wf-2", MESH_CHECKPOINT_EVERY: "5" };
const env = {
  MESH_EXECUTOR_TIMEOUT_MS: "3000",
  MESH_BUILTIN_TOKENS: String(TOKENS),
  MESH_BUILTIN_TOKEN_DELAY_MS: "250",
  MESH_WORKER_CONCURRENCY: "2",
  MESH_SHUTDOWN_GRACE_MS: "4000",
  MESH_AUTO_MIGRATE: "false",
};

describe("workflow version upgrade: no run is stranded, none runs on the wrong code", () => {
  let databaseUrl: string;
  const processes: MeshProcess[] = [];
  const versionByExecutor = new Map<string, "v1" | "v2">();
  const start = async (role: "api" | "worker", version: typeof V1) => {
    const mesh = await startMesh({ role, databaseUrl, natsUrl: NATS_URL, env: { ...env, ...version } });
    processes.push(mesh);
    versionByExecutor.set(mesh.executorId, version === V1 ? "v1" : "v2");
    return mesh;
  };
  /** The release's migration Job: records (promotes) the release's workflow version. */
  const migrateAs = (version: typeof V1) => {
    const result = runMigrateCommand({ ...env, ...version, DATABASE_URL: databaseUrl, NATS_URL });
    assert.equal(result.status, 0, result.stderr);
  };
  const versionOf = (executorId: string) => versionByExecutor.get(executorId);

  beforeEach(async () => {
    databaseUrl = await createTestDatabase("version_upgrade");
    migrateAs(V1);
  });

  afterEach(async () => {
    await stopAll(processes.splice(0));
    await dropTestDatabase(databaseUrl);
  });

  /** Runs with at least one recorded step, and which executor holds each PENDING one. */
  const runsWithSteps = async () =>
    query<{ workflow_uuid: string; status: string; executor_id: string }>(
      databaseUrl,
      `SELECT ws.workflow_uuid, ws.status, ws.executor_id FROM dbos.workflow_status ws
        WHERE EXISTS (SELECT 1 FROM dbos.operation_outputs o WHERE o.workflow_uuid = ws.workflow_uuid)`,
    );
  const waitingRuns = async () =>
    query<{ workflow_uuid: string; application_version: string }>(
      databaseUrl,
      "SELECT workflow_uuid, application_version FROM dbos.workflow_status WHERE status = 'ENQUEUED'",
    );

  async function submit(client: ApiClient, label: string, count: number) {
    return Promise.all(
      Array.from({ length: count }, (_, index) => client.createRun(`${label}-${index}`, `${label} ${index}`)),
    );
  }

  /** v1 fleet with runs mid-way on both workers and more queued behind them. */
  async function v1FleetUnderLoad() {
    const apiV1 = await start("api", V1);
    const [workerA, workerB] = [await start("worker", V1), await start("worker", V1)];
    const client = new ApiClient(apiV1.url);
    const inputs = new Map<string, string>();
    for (const [index, runId] of (await submit(client, "before", 12)).entries())
      inputs.set(runId, `before ${index}`);
    await waitFor("both v1 workers to hold runs with recorded steps", async () => {
      const holders = new Set((await runsWithSteps()).map((run) => run.executor_id));
      return holders.has(workerA?.executorId ?? "") && holders.has(workerB?.executorId ?? "");
    });
    return { apiV1, workerA, workerB, client, inputs };
  }

  it("keeps v1 workers for the runs v1 started and moves the version-free ones to v2", async function () {
    this.timeout(300_000);
    const { apiV1, workerA, workerB, client, inputs } = await v1FleetUnderLoad();
    assert.ok(workerA && workerB);

    // The upgrade: the v2 release migrates (promotes mesh-wf-2), v2 workers and api come up, a v1 worker
    // stays for v1's runs (the draining Deployment), the old v1 workers go: one drained, one killed.
    const startedByV1 = new Set((await runsWithSteps()).map((run) => run.workflow_uuid));
    migrateAs(V2);
    const [workerV2, apiV2, drainV1] = await Promise.all([
      start("worker", V2),
      start("api", V2),
      start("worker", V1),
    ]);
    // The old v1 workers still hold runs they started: one is killed, one drained.
    const heldByOld = (await runsWithSteps()).filter(
      (run) => run.status === "PENDING" && [workerA.executorId, workerB.executorId].includes(run.executor_id),
    );
    const holders = new Set(heldByOld.map((run) => run.executor_id));
    assert.ok(
      holders.has(workerA.executorId) && holders.has(workerB.executorId),
      `both old v1 workers still hold runs once v2 is up (held: ${JSON.stringify(heldByOld)})`,
    );
    workerB.signal("SIGKILL"); // orphaned: the reaper puts its runs back at v1
    await workerA.stop(); // handed back: re-enqueued at v1 after some checkpoints
    for (const run of heldByOld) startedByV1.add(run.workflow_uuid);
    // Mid-roll: the old v1 api and the new v2 api both take runs; both dispatch them to v2.
    for (const [label, api] of [
      ["after-old-api", apiV1],
      ["after-new-api", apiV2],
    ] as const)
      for (const [index, runId] of (await submit(new ApiClient(api.url), label, 3)).entries())
        inputs.set(runId, `${label} ${index}`);

    const runIds = [...inputs.keys()];
    await waitForAllSucceeded(client, runIds, 200_000).catch(async (error) => {
      const waiting = await waitingRuns();
      throw new Error(`${(error as Error).message}; still waiting: ${JSON.stringify(waiting)}`);
    });

    // Every output equals its uninterrupted twin's: no v1 run was finished by v2's step layout.
    for (const runId of runIds) {
      const run = await client.getRun(runId);
      assert.equal(run.output, expectedOutput(inputs.get(runId) ?? "", TOKENS), `output of ${runId}`);
    }
    // Each run's segments ran on one version only; those v1 started, on v1 only.
    const executions = segmentExecutions(processes);
    const versionsOf = (runId: string) =>
      new Set((executions.get(runId) ?? []).map((execution) => versionOf(execution.executorId)));
    for (const runId of runIds) assert.equal(versionsOf(runId).size, 1, `${runId} ran on one version`);
    for (const runId of startedByV1)
      assert.deepEqual([...versionsOf(runId)], ["v1"], `${runId} (started by v1) finished on v1`);
    // The runs the old workers left mid-way (the killed one's orphans, the drained one's hand-backs) were
    // finished by the draining v1 worker (a run the drained worker finished in its grace is not counted).
    const completions = completionsByRun(processes);
    const finishedByDrain = (executorId: string) =>
      heldByOld.filter(
        (run) =>
          run.executor_id === executorId && completions.get(run.workflow_uuid)?.includes(drainV1.executorId),
      ).length;
    const kinds = {
      orphaned: finishedByDrain(workerB.executorId),
      handedBack: finishedByDrain(workerA.executorId),
    };
    console.log(`      runs by kind: ${JSON.stringify({ ...kinds, startedByV1: startedByV1.size })}`);
    assert.ok(
      kinds.orphaned >= 1 && kinds.handedBack >= 1,
      `orphaned and handed-back runs: ${JSON.stringify(kinds)}`,
    );
    const after = runIds.filter((runId) => inputs.get(runId)?.startsWith("after"));
    for (const runId of after) assert.deepEqual([...versionsOf(runId)], ["v2"], `${runId} ran on v2`);
    const moved = runIds.filter((runId) => !startedByV1.has(runId) && versionsOf(runId).has("v2"));
    assert.ok(moved.length - after.length >= 1, "some runs queued at v1 were moved to v2 and ran there");

    // Nothing is stranded, and /v1/queues shows the versions.
    const { body } = await new ApiClient(apiV2.url).request("GET", "/v1/queues");
    const threadGate = body.queues.find((queue: { name: string }) => queue.name === "thread-gate");
    assert.deepEqual(
      threadGate.versions.map((entry: { version: string; stranded: number }) => [
        entry.version,
        entry.stranded,
      ]),
      [
        ["mesh-wf-1", 0],
        ["mesh-wf-2", 0],
      ],
    );
    assert.equal(workerV2.exited, false);
  });

  // Mid-upgrade, runs of both versions wait on the thread-gate queue: v2's on many threads (its workers
  // are full), v1's hand-backs on a few. DBOS 5.3.0's batched partitioned dequeue picked as many waiting
  // threads as the worker had free slots, of any version, and only then kept its own version's: a v1
  // worker with 2 free slots among 40 v2 threads found a v1 hand-back in few of its polls, and the runs
  // waited 7 s on an idle v1 worker (the upgrade drill's dispatch pauses of up to 11 s). The patch
  // (patches/@dbos-inc+dbos-sdk+5.3.0.patch) picks among the threads whose next run is of its version.
  it("a worker starts its own version's runs at once while another version's runs wait on many threads", async function () {
    this.timeout(300_000);
    const apiV1 = await start("api", V1);
    const workerA = await start("worker", V1);
    const client = new ApiClient(apiV1.url);
    const inputs = new Map<string, string>();
    for (const [index, runId] of (await submit(client, "v1", 2)).entries()) inputs.set(runId, `v1 ${index}`);
    await waitFor("the v1 worker to hold both runs with recorded steps", async () =>
      (await runsWithSteps()).filter((run) => run.executor_id === workerA.executorId).length === 2
        ? true
        : undefined,
    );

    // v2 is released; its one worker is kept full, and 80 more runs wait at v2, each on its own thread.
    migrateAs(V2);
    await start("worker", V2);
    const apiV2 = await start("api", V2);
    const v2Client = new ApiClient(apiV2.url);
    await submit(v2Client, "v2-busy", 2);
    await submit(v2Client, "v2-waiting", 80);
    await waitFor("80 runs waiting at mesh-wf-2", async () =>
      (await waitingRuns()).filter((run) => run.application_version === "mesh-wf-2").length >= 80
        ? true
        : undefined,
    );

    // The old v1 worker hands its two runs back at v1; a v1 worker (the draining one) comes for them.
    await workerA.stop();
    const handedBack = (await waitingRuns()).filter((run) => run.application_version === "mesh-wf-1");
    assert.equal(handedBack.length, 2, `both v1 runs handed back: ${JSON.stringify(handedBack)}`);
    const workerB = await start("worker", V1);
    const readyAt = Date.now();
    const startedIn = await waitFor(
      "the new v1 worker to start both handed-back runs",
      async () => {
        const held = (await runsWithSteps()).filter(
          (run) => run.status === "PENDING" && run.executor_id === workerB.executorId,
        );
        return held.length === 2 ? Date.now() - readyAt : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 100 },
    );
    console.log(`      the v1 worker started both v1 runs ${startedIn} ms after it was ready`);
    // Its first polls find them (a poll a second, once woken); 5 s leaves room for a loaded machine.
    assert.ok(
      startedIn <= 5_000,
      `the v1 worker started its version's runs in ${startedIn} ms, not within 5 s`,
    );
    await waitForAllSucceeded(client, [...inputs.keys()], 120_000);
    for (const [runId, input] of inputs)
      assert.equal((await client.getRun(runId)).output, expectedOutput(input, TOKENS), `output of ${runId}`);
  });

  it("shows the stranded runs when v1's workers leave at once (what a plain image roll does)", async function () {
    this.timeout(300_000);
    const { workerA, workerB, client, inputs } = await v1FleetUnderLoad();
    assert.ok(workerA && workerB);
    migrateAs(V2);
    await start("worker", V2);
    const apiV2 = await start("api", V2);
    await Promise.all([workerA.stop(), workerB.stop()]);

    // The handed-back v1 runs wait at mesh-wf-1, which no live executor runs: reported, never started.
    const v2Client = new ApiClient(apiV2.url);
    const stranded = await waitFor("the stranded v1 runs to be reported", async () => {
      const { body } = await v2Client.request("GET", "/v1/queues");
      const threadGate = body.queues.find((queue: { name: string }) => queue.name === "thread-gate");
      const v1 = threadGate.versions.find((entry: { version: string }) => entry.version === "mesh-wf-1");
      return v1?.stranded > 0 && v1.listeners === 0 ? v1.stranded : undefined;
    });
    const waitingAtV1 = (await waitingRuns()).filter((run) => run.application_version === "mesh-wf-1");
    assert.equal(stranded, waitingAtV1.length);
    // Read now, not before the stop: a v1 worker may start a queued run in the moments before it stops.
    const withSteps = new Set((await runsWithSteps()).map((run) => run.workflow_uuid));
    for (const run of waitingAtV1)
      assert.ok(withSteps.has(run.workflow_uuid), `only runs with v1 steps wait: ${run.workflow_uuid}`);
    const metrics = await (await fetch(`${apiV2.url}/metrics`)).text();
    assert.match(metrics, new RegExp(`mesh_stranded_runs\\{version="mesh-wf-1"\\} ${stranded}\\b`));
    await waitFor("a process to log the stranded runs (the reaper's pass)", () =>
      processes.some((mesh) => mesh.logs.some((line) => line.includes("runs are stranded"))),
    );

    // The runbook's remedy: bring a v1 worker back; every run then finishes, each on its own code.
    await start("worker", V1);
    await waitForAllSucceeded(client, [...inputs.keys()], 200_000);
    for (const [runId, input] of inputs)
      assert.equal((await client.getRun(runId)).output, expectedOutput(input, TOKENS), `output of ${runId}`);
  });
});
