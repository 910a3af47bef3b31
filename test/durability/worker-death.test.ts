import assert from "node:assert/strict";
import pg from "pg";
import { ApiClient } from "../support/api-client.js";
import { useCpuHogIfRequested } from "../support/cpu-hog.js";
import { type MeshProcess, startMesh, stopAll } from "../support/mesh-process.js";
import {
  completionsByRun,
  expectedOutput,
  segmentExecutions,
  segmentsExecutedTwice,
  waitForAllSucceeded,
} from "../support/run-checks.js";
import { storedStreamEvents, streamNamesOf } from "../support/run-stream-contents.js";
import { createTestDatabase, dropTestDatabase, NATS_URL, query, workflowRows } from "../support/services.js";
import { waitFor } from "../support/wait.js";

// Fixture: 1 api + 2 workers with a 3 s executor timeout; runs of 40 tokens at 40 ms (about 2 s each),
// checkpointed every 8 tokens, each on its own thread so they run in parallel.
const TOKENS = 40;
const CHECKPOINT_EVERY = 8;
const env = {
  MESH_EXECUTOR_TIMEOUT_MS: "3000",
  MESH_BUILTIN_TOKENS: String(TOKENS),
  MESH_BUILTIN_TOKEN_DELAY_MS: "40",
  MESH_CHECKPOINT_EVERY: String(CHECKPOINT_EVERY),
  MESH_WORKER_CONCURRENCY: "16",
  MESH_SHUTDOWN_GRACE_MS: "4000",
};

describe("durability: dead, drained and frozen workers", () => {
  useCpuHogIfRequested();
  let databaseUrl: string;
  let api: MeshProcess;
  const processes: MeshProcess[] = [];
  let client: ApiClient;

  beforeEach(async () => {
    databaseUrl = await createTestDatabase("durability");
    api = await startMesh({ role: "api", databaseUrl, natsUrl: NATS_URL, env });
    processes.push(api);
    client = new ApiClient(api.url);
  });

  afterEach(async () => {
    for (const mesh of processes) if (!mesh.exited) mesh.signal("SIGCONT");
    await stopAll(processes.splice(0));
    await dropTestDatabase(databaseUrl);
  });

  async function startWorkers(count: number, overrides: Record<string, string> = {}): Promise<MeshProcess[]> {
    const workers = await Promise.all(
      Array.from({ length: count }, () =>
        startMesh({ role: "worker", databaseUrl, natsUrl: NATS_URL, env: { ...env, ...overrides } }),
      ),
    );
    processes.push(...workers);
    return workers;
  }

  async function submit(count: number, label: string) {
    const inputs = Array.from({ length: count }, (_, index) => `${label} question ${index}`);
    const runIds = await Promise.all(
      inputs.map((input, index) => client.createRun(`${label}-${index}`, input)),
    );
    return { inputs, runIds };
  }

  const pendingOn = async (executorId: string) =>
    (await workflowRows(databaseUrl)).filter(
      (row) => row.status === "PENDING" && row.executor_id === executorId,
    );

  /** Waits until one worker has at least `minimum` runs in flight; returns it and the other one. */
  async function busyWorker(workers: MeshProcess[], minimum: number): Promise<[MeshProcess, MeshProcess]> {
    const busy = await waitFor(`a worker with ${minimum} runs in flight`, async () => {
      for (const worker of workers) if ((await pendingOn(worker.executorId)).length >= minimum) return worker;
      return undefined;
    });
    const other = workers.find((worker) => worker !== busy);
    assert.ok(other);
    return [busy, other];
  }

  it("recovers every run of a worker killed with SIGKILL, with outputs equal to uninterrupted runs", async () => {
    const [victim, survivor] = await startWorkers(2);
    assert.ok(victim && survivor);
    const { inputs, runIds } = await submit(24, "kill");
    await waitFor("at least 20 runs in flight, some on the victim", async () => {
      const rows = await workflowRows(databaseUrl);
      const pending = rows.filter((row) => row.status === "PENDING");
      return pending.length >= 20 && pending.some((row) => row.executor_id === victim.executorId);
    });
    // Kill mid-way: once some of the victim's runs have checkpointed a segment, so that resuming them
    // must skip completed work.
    await waitFor("a victim run with a checkpointed segment", async () => {
      const rows = await query<{ n: string }>(
        databaseUrl,
        `SELECT count(*)::text AS n FROM dbos.operation_outputs o JOIN dbos.workflow_status w
           ON w.workflow_uuid = o.workflow_uuid WHERE w.executor_id = $1 AND w.status = 'PENDING'`,
        [victim.executorId],
      );
      return Number(rows[0]?.n ?? 0) > 0;
    });
    const orphaned = (await pendingOn(victim.executorId)).map((row) => row.workflow_uuid);
    const killedAt = Date.now();
    victim.signal("SIGKILL");
    await victim.waitExit();

    const runs = await waitForAllSucceeded(client, runIds);
    await waitFor("the orphaned runs to finish", async () => {
      const rows = await workflowRows(databaseUrl);
      return orphaned.every((id) => rows.find((row) => row.workflow_uuid === id)?.status === "SUCCESS");
    });
    const recoveredInMs = Date.now() - killedAt;
    console.log(
      `      ${orphaned.length} runs orphaned by SIGKILL; all recovered ${recoveredInMs} ms after the kill`,
    );

    for (const [index, run] of runs.entries()) {
      assert.equal(run.output, expectedOutput(inputs[index] ?? "", TOKENS), `${run.runId} output`);
    }
    for (const id of orphaned) {
      const run = runs.find((candidate) => candidate.runId === id);
      assert.equal(run?.executorId, survivor.executorId, `${id} finished on the survivor`);
    }
    const completions = completionsByRun([victim, survivor]);
    for (const runId of runIds)
      assert.equal(
        completions.get(runId)?.length,
        1,
        `${runId} completed ${completions.get(runId)?.length} times`,
      );
    // The kill really orphaned runs mid-way, and their resumption skipped the segments already
    // checkpointed: only a segment the kill interrupted may have executed twice (once on each worker).
    assert.ok(orphaned.length > 0, "the kill orphaned runs");
    const executions = segmentExecutions([victim, survivor]);
    const segments = TOKENS / CHECKPOINT_EVERY;
    let resumedAfterCheckpoints = 0;
    for (const runId of runIds) {
      const ran = executions.get(runId) ?? [];
      const distinct = new Set(ran.map((execution) => execution.segment));
      assert.equal(distinct.size, segments, `${runId} executed every segment`);
      const twice = segmentsExecutedTwice(ran);
      assert.ok(
        twice.length <= 1,
        `${runId}: only the interrupted segment may run twice: ${twice.join("; ")}`,
      );
      if (orphaned.includes(runId)) {
        const onVictim = ran.filter((execution) => execution.executorId === victim.executorId).length;
        const firstOnSurvivor = ran.find(
          (execution) => execution.executorId === survivor.executorId,
        )?.segment;
        if (onVictim > 0 && firstOnSurvivor !== undefined && firstOnSurvivor > 0) resumedAfterCheckpoints++;
      } else {
        assert.deepEqual(twice, [], `${runId} was not orphaned, yet a segment ran twice`);
      }
    }
    console.log(
      `      ${resumedAfterCheckpoints} of ${orphaned.length} orphaned runs resumed after completed segments`,
    );
    assert.ok(resumedAfterCheckpoints > 0, "at least one orphaned run resumed past its completed segments");
    // The re-run segments published their chunks again; the stream kept each seq once (Nats-Msg-Id).
    for (const runId of orphaned) {
      const events = await storedStreamEvents(streamNamesOf(databaseUrl), runId);
      const expected = [...Array.from({ length: TOKENS }, (_, index) => `chunk:${index + 1}`), "done"];
      assert.deepEqual(events, expected, `${runId} stream`);
    }
    const metrics = await (await fetch(`${survivor.url}/metrics`)).text();
    const apiMetrics = await (await fetch(`${api.url}/metrics`)).text();
    const reaped = [metrics, apiMetrics]
      .map((text) => Number(/mesh_reaped_workflows_total (\d+)/.exec(text)?.[1] ?? 0))
      .reduce((a, b) => a + b, 0);
    assert.equal(reaped, orphaned.length, "the reaper counted what it put back");
  });

  it("drains a worker on SIGTERM: exits 0 within its grace budget, every run completes", async () => {
    // Six runs per worker at most, so twelve runs keep both busy.
    const workers = await startWorkers(2, { MESH_WORKER_CONCURRENCY: "6" });
    const { inputs, runIds } = await submit(12, "drain");
    const [drained, other] = await busyWorker(workers, 3);
    const inFlight = (await pendingOn(drained.executorId)).map((row) => row.workflow_uuid);
    const signalledAt = Date.now();
    drained.signal("SIGTERM");
    // Readiness drops at once.
    await waitFor("readiness to drop", async () => {
      const response = await fetch(`${drained.url}/readyz`).catch(() => undefined);
      return response === undefined || response.status === 503;
    });
    const { code } = await drained.waitExit();
    const exitedInMs = Date.now() - signalledAt;
    assert.equal(code, 0);
    assert.ok(exitedInMs < 4_000 + 1_000, `exited after ${exitedInMs} ms; budget 4000 ms`);

    const runs = await waitForAllSucceeded(client, runIds);
    for (const [index, run] of runs.entries())
      assert.equal(run.output, expectedOutput(inputs[index] ?? "", TOKENS));
    const completions = completionsByRun([drained, other]);
    for (const runId of inFlight) assert.equal(completions.get(runId)?.length, 1, `${runId} completed once`);
    // The drain stopped local bodies at checkpoint boundaries: no segment executed twice.
    const executions = segmentExecutions([drained, other]);
    for (const runId of runIds)
      assert.deepEqual(segmentsExecutedTwice(executions.get(runId)), [], `${runId} segments executed twice`);
    // The drain stopped dequeuing at once: nothing started on the drained worker after the signal.
    const started = await query<{ workflow_uuid: string }>(
      databaseUrl,
      "SELECT workflow_uuid FROM dbos.workflow_status WHERE executor_id = $1 AND started_at_epoch_ms > $2",
      [drained.executorId, signalledAt + 200],
    );
    assert.deepEqual(started, []);
  });

  it("re-enqueues runs longer than the grace budget on SIGTERM, and another worker finishes them", async () => {
    // Runs of about 6 s against a 4 s budget: the drained worker must hand them back.
    const longEnv = { ...env, MESH_BUILTIN_TOKEN_DELAY_MS: "150" };
    const drained = await startMesh({ role: "worker", databaseUrl, natsUrl: NATS_URL, env: longEnv });
    processes.push(drained);
    const { inputs, runIds } = await submit(4, "long");
    await waitFor(
      "all 4 runs started on the drained worker",
      async () => (await pendingOn(drained.executorId)).length === 4,
    );
    drained.signal("SIGTERM");
    const { code } = await drained.waitExit();
    assert.equal(code, 0);
    const requeued = await workflowRows(databaseUrl);
    assert.ok(
      requeued.filter((row) => runIds.includes(row.workflow_uuid)).every((row) => row.status === "ENQUEUED"),
      "every unfinished run is back on its queue",
    );
    const [successor] = await startWorkers(1);
    const runs = await waitForAllSucceeded(client, runIds);
    for (const [index, run] of runs.entries()) {
      assert.equal(run.output, expectedOutput(inputs[index] ?? "", TOKENS));
      assert.equal(run.executorId, successor?.executorId);
    }
    // Handed back at checkpoint boundaries: the successor continued where the drained worker stopped.
    const executions = segmentExecutions(successor ? [drained, successor] : [drained]);
    for (const runId of runIds) {
      const ran = executions.get(runId) ?? [];
      assert.deepEqual(segmentsExecutedTwice(ran), [], `${runId} segments executed twice`);
      assert.equal(new Set(ran.map((execution) => execution.segment)).size, TOKENS / CHECKPOINT_EVERY);
    }
  });

  it("takes over the runs of a worker frozen past the timeout, and the thawed worker corrupts nothing", async () => {
    const workers = await startWorkers(2, { MESH_WORKER_CONCURRENCY: "6" });
    const { inputs, runIds } = await submit(12, "freeze");
    const [frozen, other] = await busyWorker(workers, 3);
    const taken = (await pendingOn(frozen.executorId)).map((row) => row.workflow_uuid);
    frozen.signal("SIGSTOP");
    await waitFor(
      "the frozen worker's runs to finish elsewhere",
      async () => {
        const rows = await workflowRows(databaseUrl);
        return taken.every((id) => {
          const row = rows.find((candidate) => candidate.workflow_uuid === id);
          return row?.status === "SUCCESS" && row.executor_id === other.executorId;
        });
      },
      { timeoutMs: 60_000 },
    );
    frozen.signal("SIGCONT");
    // Let the thawed worker run into its fenced checkpoints and resume heartbeats.
    await waitFor(
      "the thawed worker to be ready again",
      async () => (await fetch(`${frozen.url}/readyz`)).status === 200,
    );
    await new Promise((resolve) => setTimeout(resolve, 3_000));

    const runs = await waitForAllSucceeded(client, runIds);
    for (const [index, run] of runs.entries()) {
      assert.equal(run.output, expectedOutput(inputs[index] ?? "", TOKENS), `${run.runId} output`);
    }
    // The runs taken over finished on the other worker. The thawed worker may run a body on (DBOS fences
    // what it records), so only runs it never held must have executed each segment once.
    const executions = segmentExecutions([frozen, other]);
    for (const runId of runIds.filter((id) => !taken.includes(id)))
      assert.deepEqual(segmentsExecutedTwice(executions.get(runId)), [], `${runId} segments executed twice`);
    const finishedOnOther = completionsByRun([other]);
    for (const runId of taken)
      assert.equal(finishedOnOther.get(runId)?.length, 1, `${runId} finished on the other worker`);
    const statuses = await workflowRows(databaseUrl);
    for (const id of taken)
      assert.equal(statuses.find((row) => row.workflow_uuid === id)?.executor_id, other.executorId);

    // The thawed worker is a healthy executor again: its heartbeat is live and it takes new work.
    const [row] = await query<{ reaped: boolean }>(
      databaseUrl,
      "SELECT reaped_at IS NOT NULL AS reaped FROM mesh.executors WHERE executor_id = $1",
      [frozen.executorId],
    );
    assert.equal(row?.reaped, false);
    assert.equal(frozen.exited, false);
    const more = await submit(8, "after-thaw");
    await waitForAllSucceeded(client, more.runIds);
  });

  it("a worker frozen inside a transaction holds its run's row for about the executor timeout, not longer", async () => {
    // Freezes a worker at the one moment that matters: its run's outcome UPDATE done, its COMMIT not sent.
    // The test holds that row first, so the worker's UPDATE waits; the worker is stopped while it waits,
    // and the test lets go: Postgres finishes the UPDATE for a client that cannot send COMMIT.
    const [frozen] = await startWorkers(1);
    assert.ok(frozen);
    const {
      runIds: [runId],
      inputs: [input],
    } = await submit(1, "frozen-in-transaction");
    assert.ok(runId);
    await waitFor("the run to start", async () => (await pendingOn(frozen.executorId)).length === 1);
    const holder = new pg.Client({ connectionString: databaseUrl });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT 1 FROM dbos.workflow_status WHERE workflow_uuid = $1 FOR UPDATE", [runId]);
      const holderPid = (await holder.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
      const outcomeUpdate = await waitFor("the worker's outcome UPDATE to wait on the held row", async () => {
        const [row] = await query<{ pid: number }>(
          databaseUrl,
          `SELECT pid FROM pg_stat_activity
            WHERE application_name LIKE $1 AND wait_event_type = 'Lock' AND $2 = ANY(pg_blocking_pids(pid))`,
          [`dbos_transact_${frozen.executorId}%`, holderPid],
        );
        return row?.pid;
      });
      frozen.signal("SIGSTOP");
      await holder.query("COMMIT");
      await waitFor("the frozen worker's session to sit idle in its transaction", async () => {
        const [row] = await query<{ state: string }>(
          databaseUrl,
          "SELECT state FROM pg_stat_activity WHERE pid = $1",
          [outcomeUpdate],
        );
        return row?.state === "idle in transaction";
      });
    } finally {
      await holder.end();
    }
    const frozenAt = Date.now();

    // A second worker takes the run over once the reaper can write its row: Postgres must end the frozen
    // session after about MESH_EXECUTOR_TIMEOUT_MS (3 s here), not at DBOS's default of 60 s.
    const [successor] = await startWorkers(1);
    const [run] = await waitForAllSucceeded(client, [runId], 40_000);
    const tookOverInMs = Date.now() - frozenAt;
    console.log(
      `      run taken over and finished ${tookOverInMs} ms after the worker froze in its transaction`,
    );
    assert.equal(run?.executorId, successor?.executorId);
    assert.equal(run?.output, expectedOutput(input ?? "", TOKENS));

    // Thawed, the worker finds its session gone, records nothing, and keeps serving.
    frozen.signal("SIGCONT");
    await waitFor(
      "the thawed worker to be ready again",
      async () => (await fetch(`${frozen.url}/readyz`)).status === 200,
    );
    const after = (await workflowRows(databaseUrl)).find((row) => row.workflow_uuid === runId);
    assert.equal(after?.executor_id, successor?.executorId);
    assert.equal(frozen.exited, false);
  });
});
