import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchResults } from "../bench/results.js";

// The benchmark in --quick mode, so it cannot rot. It asserts that every scenario produced numbers,
// never anything about time (speed is reported by `npm run bench`, not tested).
const BENCH = fileURLToPath(new URL("../bench/run.ts", import.meta.url));

describe("npm run bench -- --quick", () => {
  let outDir: string;
  let results: BenchResults;

  before(function () {
    this.timeout(300_000);
    outDir = mkdtempSync(join(tmpdir(), "mesh-bench-smoke-"));
    const run = spawnSync(process.execPath, ["--import", "tsx", BENCH, "--quick", "--out", outDir], {
      encoding: "utf8",
      timeout: 280_000,
    });
    assert.equal(run.status, 0, `bench failed:\n${run.stderr.slice(-3000)}`);
    assert.match(run.stderr, /\[5\/8\] polling trade-off/, "progress lines for every scenario");
    assert.match(run.stderr, /\[6\/8\] the Pulumi program under the real engine/);
    results = JSON.parse(readFileSync(join(outDir, "benchmarks.json"), "utf8")) as BenchResults;
  });

  after(() => rmSync(outDir, { recursive: true, force: true }));

  it("times the Pulumi program under the real engine: preview, up, destroy", () => {
    const engine = results.engine;
    assert.ok(engine, "engine timings in the report");
    for (const [name, summary] of Object.entries(engine))
      assert.ok(summary.n > 0 && Number.isFinite(summary.p50) && summary.p50 > 0, name);
  });

  it("measures the raw baselines", () => {
    assert.ok(results.baselines.postgresCommitsPerSecond > 0);
    assert.ok(results.baselines.natsLatencyMs.n > 0 && Number.isFinite(results.baselines.natsLatencyMs.p99));
  });

  it("measures dispatch latency and throughput, as ratios to the raw commit rate", () => {
    assert.ok(results.dispatch.lightLoadMs.n > 0 && Number.isFinite(results.dispatch.lightLoadMs.p50));
    // Every run posted has its body-start stamp (the quick mode's 20 runs; the full run's 1,000).
    assert.equal(results.dispatch.toBodyMs?.n, 20);
    assert.ok(Number.isFinite(results.dispatch.toBodyMs?.p99));
    for (const key of ["oneWorker", "twoWorkers"] as const) {
      assert.ok(results.dispatch.throughputRunsPerSecond[key] > 0, key);
      assert.ok(Number.isFinite(results.dispatch.throughputToCommitRate[key]), key);
    }
  });

  it("measures streaming latency through the api", () => {
    assert.ok(results.streaming.latencyMs.n > 0);
    assert.ok(results.streaming.busHopMs.n > 0);
    assert.ok(results.streaming.chunksPerSecond > 0);
    assert.ok(Number.isFinite(results.streaming.p50ToRawNats));
  });

  it("measures api isolation in both topologies, idle and loaded", () => {
    for (const topology of ["all", "split"] as const) {
      for (const phase of ["idle", "loaded"] as const) {
        const measured = results.isolation[topology][phase];
        assert.ok(measured.get.n > 0 && measured.post.n > 0, `${topology} ${phase}`);
      }
    }
    assert.ok(Number.isFinite(results.isolation.allToSplitLoadedP99.get));
  });

  it("measures three polling intervals", () => {
    assert.deepEqual(
      results.polling.map((poll) => poll.pollMs),
      [1000, 250, 50],
    );
    for (const poll of results.polling) assert.ok(poll.idleTransactionsPerSecond > 0 && poll.latency.n > 0);
  });

  it("measures the idle fleet's Postgres cost per worker and the busy cost per run", () => {
    const idle = results.idleCost;
    assert.ok(idle);
    assert.deepEqual(
      idle.points.map((point) => point.workers),
      [0, 1],
    );
    for (const point of idle.points) assert.ok(point.transactionsPerSecond > 0, `${point.workers} workers`);
    assert.ok(Number.isFinite(idle.slopes[0]?.transactionsPerSecondPerWorker));
    assert.deepEqual(
      results.busyCost?.map((point) => point.checkpoints),
      [1, 4],
    );
    for (const point of results.busyCost ?? []) {
      assert.ok(point.transactionsPerRun > 0, `K=${point.checkpoints}`);
      // Each checkpoint publishes its token, and each run its done: at least K + 1 messages per run.
      assert.ok(point.natsMessagesPerRun >= point.checkpoints + 1, `K=${point.checkpoints}`);
    }
  });

  it("writes the Markdown report and the SVG chart", () => {
    const markdown = readFileSync(join(outDir, "benchmarks.md"), "utf8");
    assert.match(markdown, /### Polling trade-off/);
    assert.match(markdown, /### Idle fleet/);
    assert.match(markdown, /### Busy cost per completed run/);
    assert.match(markdown, /benchmarks-latency\.svg/);
    assert.ok(existsSync(join(outDir, "benchmarks-latency.svg")));
    assert.match(readFileSync(join(outDir, "benchmarks-latency.svg"), "utf8"), /^<svg [^>]*>[\s\S]*<\/svg>$/);
  });
});
