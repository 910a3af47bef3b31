import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { ExecutionGate } from "../app/durability/execution-gate.js";
import { DeletionCostReporter } from "../app/scale-in/deletion-cost.js";
import { POD_DELETION_COST_ANNOTATION } from "../app/scale-in/in-cluster-api.js";

// Fixture: a reporter whose writes land in an array (the Kubernetes side is shown on the real node,
// test/engine/real-node.test.ts). The interval is short so the test is quick, long enough that a burst of
// updates lands inside it on a loaded machine.
const INTERVAL_MS = 300;

describe("the worker's pod-deletion-cost reporter", () => {
  let written: string[];
  let failNext: number;
  let reporter: DeletionCostReporter;
  beforeEach(() => {
    written = [];
    failNext = 0;
    reporter = new DeletionCostReporter({
      minIntervalMs: INTERVAL_MS,
      retryMs: 50,
      patch: async (annotations) => {
        if (failNext > 0) {
          failNext--;
          throw new Error("403 forbidden");
        }
        written.push(annotations[POD_DELETION_COST_ANNOTATION] ?? "missing");
      },
    });
  });
  afterEach(() => reporter.stop());

  const until = async (what: string, check: () => boolean) => {
    const deadline = Date.now() + 5_000;
    while (!check()) {
      if (Date.now() > deadline) assert.fail(`${what} (written: ${written.join(", ")})`);
      await sleep(10);
    }
  };

  it("writes 0 at start, then coalesces a burst of changes into one write of the latest count", async () => {
    reporter.start();
    await until("the start-up write", () => written.length === 1);
    for (const runs of [1, 2, 3, 4, 3]) reporter.update(runs);
    await until("the burst's write", () => written.length === 2);
    await sleep(INTERVAL_MS * 2);
    assert.deepEqual(written, ["0", "3"]);
  });

  it("starts from the runs already executing: a worker that filled its slots before watching is not reported idle", async () => {
    const gate = new ExecutionGate();
    for (const runId of ["a", "b", "c", "d"]) gate.begin(runId);
    gate.watchRunning((running) => reporter.update(running));
    reporter.start();
    await until("the start-up write", () => written.length === 1);
    await sleep(INTERVAL_MS * 2);
    assert.deepEqual(written, ["4"]);
    gate.end("a");
    await until("the next write", () => written.length === 2);
    assert.deepEqual(written, ["4", "3"]);
  });

  it("writes nothing when the count comes back to what was written", async () => {
    reporter.start();
    await until("the start-up write", () => written.length === 1);
    reporter.update(2);
    reporter.update(0);
    await sleep(INTERVAL_MS * 2);
    assert.deepEqual(written, ["0"]);
  });

  it("retries a refused write until the count lands, and never throws", async () => {
    failNext = 3;
    reporter.start();
    reporter.update(5);
    await until("the write after three refusals", () => written.length === 1);
    assert.deepEqual(written, ["5"]);
  });

  it("writes nothing once stopped (the pod drains)", async () => {
    reporter.start();
    await until("the start-up write", () => written.length === 1);
    reporter.update(4);
    reporter.stop();
    await sleep(INTERVAL_MS * 2);
    assert.deepEqual(written, ["0"]);
  });
});
