import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { figure, headlineFigures } from "../../bench/headline.js";
import type { BenchResults, Measurement } from "../../bench/results.js";

// The benchmark in --quick mode, so it cannot rot (in the engine suite: its engine scenario needs the
// control plane and the Pulumi CLI that scripts/ensure-tools.sh builds). It asserts that every scenario produced numbers,
// never anything about time (speed is reported by `npm run bench`, not tested).
const BENCH = fileURLToPath(new URL("../../bench/run.ts", import.meta.url));

describe("npm run bench -- --quick", () => {
  let outDir: string;
  let results: BenchResults;
  let measured: Measurement;

  before(function () {
    this.timeout(450_000);
    outDir = mkdtempSync(join(tmpdir(), "mesh-bench-smoke-"));
    const run = spawnSync(process.execPath, ["--import", "tsx", BENCH, "--quick", "--out", outDir], {
      encoding: "utf8",
      timeout: 420_000,
    });
    assert.equal(run.status, 0, `bench failed:\n${run.stderr.slice(-3000)}`);
    for (let index = 1; index <= 9; index++)
      assert.match(run.stderr, new RegExp(`\\[${index}/9\\] `), `progress line of scenario ${index}`);
    assert.match(run.stderr, /\[engine\] the Pulumi program under the real engine/);
    results = JSON.parse(readFileSync(join(outDir, "benchmarks.json"), "utf8")) as BenchResults;
    assert.equal(results.repeats.length, 1, "quick mode runs every scenario once");
    measured = results.repeats[0] as Measurement;
  });

  after(() => rmSync(outDir, { recursive: true, force: true }));

  it("times the Pulumi program under the real engine: preview, up, destroy", () => {
    const engine = results.engine;
    assert.ok(engine, "engine timings in the report");
    for (const [name, summary] of Object.entries(engine))
      assert.ok(summary.n > 0 && Number.isFinite(summary.p50) && summary.p50 > 0, name);
  });

  it("measures the raw baselines", () => {
    assert.ok(measured.baselines.postgresCommitsPerSecond > 0);
    assert.ok(
      measured.baselines.natsLatencyMs.n > 0 && Number.isFinite(measured.baselines.natsLatencyMs.p99),
    );
  });

  it("measures dispatch latency and throughput, as ratios to the raw commit rate", () => {
    assert.ok(measured.dispatch.lightLoadMs.n > 0 && Number.isFinite(measured.dispatch.lightLoadMs.p50));
    // Every run posted has its body-start stamp (the quick mode's 20 runs; the full run's 1,000).
    assert.equal(measured.dispatch.toBodyMs?.n, 20);
    assert.ok(Number.isFinite(measured.dispatch.toBodyMs?.p99));
    for (const key of ["oneWorker", "twoWorkers"] as const) {
      assert.ok(measured.dispatch.throughputRunsPerSecond[key] > 0, key);
      assert.ok(Number.isFinite(measured.dispatch.throughputToCommitRate[key]), key);
    }
  });

  it("measures streaming latency through the api", () => {
    assert.ok(measured.streaming.latencyMs.n > 0);
    assert.ok(measured.streaming.busHopMs.n > 0);
    assert.ok(measured.streaming.chunksPerSecond > 0);
    assert.ok(Number.isFinite(measured.streaming.p50ToRawNats));
  });

  it("measures api isolation in both topologies, idle and loaded", () => {
    for (const topology of ["all", "split"] as const) {
      for (const phase of ["idle", "loaded"] as const) {
        const latency = measured.isolation[topology][phase];
        assert.ok(latency.get.n > 0 && latency.post.n > 0, `${topology} ${phase}`);
      }
    }
    assert.ok(Number.isFinite(measured.isolation.allToSplitLoadedP99.get));
  });

  it("measures three polling intervals", () => {
    assert.deepEqual(
      measured.polling.map((poll) => poll.pollMs),
      [1000, 250, 50],
    );
    for (const poll of measured.polling) assert.ok(poll.idleTransactionsPerSecond > 0 && poll.latency.n > 0);
  });

  it("measures the idle fleet's Postgres cost per worker and the busy cost per run", () => {
    const idle = measured.idleCost;
    assert.ok(idle);
    assert.deepEqual(
      idle.points.map((point) => `${point.setup}: ${point.workers}`),
      [
        "wake-up + poll 1000 ms (shipped): 0",
        "wake-up + poll 1000 ms (shipped): 1",
        "polling only, 50 ms: 0",
        "polling only, 50 ms: 1",
      ],
    );
    for (const point of idle.points) assert.ok(point.transactionsPerSecond > 0, `${point.workers} workers`);
    for (const slope of idle.slopes)
      assert.ok(Number.isFinite(slope.transactionsPerSecondPerWorker), slope.setup);
    assert.deepEqual(
      measured.busyCost?.map((point) => point.checkpoints),
      [1, 4],
    );
    for (const point of measured.busyCost ?? []) {
      assert.ok(point.transactionsPerRun > 0, `K=${point.checkpoints}`);
      // Each checkpoint publishes its token, and each run its done: at least K + 1 messages per run.
      assert.ok(point.natsMessagesPerRun >= point.checkpoints + 1, `K=${point.checkpoints}`);
    }
  });

  it("holds one api's open streams: RSS before and with them, chunk latency, bytes per stream", () => {
    const { points, bytesPerStream } = measured.openStreams;
    assert.deepEqual(
      points.map((point) => point.clients),
      [5, 20],
    );
    for (const point of points) {
      assert.ok(point.rssBeforeBytes > 0 && point.rssOpenBytes > 0, `${point.clients} clients`);
      assert.ok(point.chunkLatencyMs.n > 0 && point.chunksPerSecond > 0, `${point.clients} clients`);
    }
    assert.ok(Number.isFinite(bytesPerStream));
  });

  it("measures mesh with the queue wake-up off beside the shipped set-up, and the enqueue path with and without its trigger", () => {
    assert.equal(measured.dispatch.pollMs, 1000);
    const off = measured.wakeOff;
    assert.equal(off.pollMs, 50);
    assert.equal(off.toBodyMs.n, 20, "every run with the wake-up off has its body-start stamp");
    assert.ok(off.throughputRunsPerSecond > 0);
    assert.ok(measured.enqueueRunsPerSecond.wakeOn > 0 && measured.enqueueRunsPerSecond.wakeOff > 0);
  });

  it("summarises each headline figure as median, min and max over the repeats", () => {
    assert.ok(results.headline.length > 20);
    for (const entry of results.headline) assert.deepEqual(entry.values.length, 1, entry.key);
    // Three repeats that differ only in one figure: the median is the middle one, not the mean or the first.
    const variant = (p99: number): Measurement => ({
      ...measured,
      dispatch: { ...measured.dispatch, toBodyMs: { ...measured.dispatch.toBodyMs, p99 } },
    });
    const toBody = figure(headlineFigures([variant(90), variant(10), variant(30)]), "toBodyP99");
    assert.deepEqual([toBody.median, toBody.min, toBody.max, toBody.values], [30, 10, 90, [90, 10, 30]]);
    for (const target of results.targets) assert.ok(target.measured.length > 0, target.name);
  });

  it("writes the Markdown report and the SVG chart", () => {
    const markdown = readFileSync(join(outDir, "benchmarks.md"), "utf8");
    assert.match(markdown, /### Polling trade-off/);
    assert.match(markdown, /### Idle fleet/);
    assert.match(markdown, /### Busy cost per completed run/);
    assert.match(markdown, /### Headline figures/);
    assert.match(markdown, /### Open streams per api process/);
    assert.match(markdown, /### The queue wake-up/);
    assert.match(markdown, /benchmarks-latency\.svg/);
    assert.ok(existsSync(join(outDir, "benchmarks-latency.svg")));
    assert.match(readFileSync(join(outDir, "benchmarks-latency.svg"), "utf8"), /^<svg [^>]*>[\s\S]*<\/svg>$/);
  });
});
