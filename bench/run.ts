// `npm run bench [-- --quick] [-- --out DIR]`: mesh side by side with the physical limits of its parts.
// Full mode writes docs/benchmarks.{json,md} and docs/benchmarks-latency.svg; --quick runs every
// scenario briefly (the test suite uses it so the benchmark cannot rot) and writes to a temp dir.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parse } from "yaml";
import { createTestDatabase, dropTestDatabase } from "../test/support/services.js";
import { natsLatency, postgresCommitRate } from "./baselines.js";
import { dispatchLatency, dispatchThroughput, dispatchToBody, TRIVIAL_RUN_ENV } from "./dispatch.js";
import { engineTimings } from "./engine.js";
import { busyCost, idleCost } from "./fleet-cost.js";
import { apiIsolation, HEAVY_RUN_ENV, type IsolationResult } from "./isolation.js";
import { pollingTradeOff } from "./polling.js";
import { progress } from "./progress.js";
import { latencySvg, markdownReport, resultTables } from "./report.js";
import type { BenchResults } from "./results.js";
import { ratio } from "./stats.js";
import { STREAMING_RUN_ENV, streamingLatency } from "./streaming.js";
import { withTopology } from "./topology.js";

const DEFAULT_POLL_MS = 50;
/** Pulumi.prod.yaml's worker.autoscaling.maxReplicas: what an idle slope costs at the prod ceiling. */
const PROD_WORKER_MAX_REPLICAS = prodWorkerMaxReplicas();

function prodWorkerMaxReplicas(): number {
  const text = readFileSync(fileURLToPath(new URL("../Pulumi.prod.yaml", import.meta.url)), "utf8");
  const worker = (parse(text) as { config: Record<string, { autoscaling?: { maxReplicas?: number } }> })
    .config["mesh:worker"];
  return worker?.autoscaling?.maxReplicas ?? 10;
}

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    out: { type: "string" },
    // Re-render benchmarks.md and the SVG from an existing benchmarks.json, measuring nothing.
    "report-only": { type: "boolean", default: false },
  },
});
const quick = values.quick ?? false;
const outDir =
  values.out ??
  (quick ? mkdtempSync(join(tmpdir(), "mesh-bench-")) : fileURLToPath(new URL("../docs", import.meta.url)));
const size = quick
  ? {
      pgMs: 500,
      natsMessages: 100,
      lightRuns: 5,
      burstRuns: 40,
      streamRuns: 1,
      phaseMs: 1_000,
      rate: 10,
      heavyRuns: 4,
      pollIdleMs: 1_000,
      pollRuns: 3,
      engineCycles: 1,
      bodyRuns: 20,
      fleetWorkers: [0, 1],
      fleetPolls: [50],
      fleetIdleMs: 1_000,
      costRuns: 3,
      costCheckpoints: [1, 4],
    }
  : {
      pgMs: 5_000,
      natsMessages: 2_000,
      lightRuns: 40,
      burstRuns: 1_500,
      streamRuns: 5,
      phaseMs: 8_000,
      rate: 40,
      heavyRuns: 60,
      pollIdleMs: 5_000,
      pollRuns: 20,
      engineCycles: 3,
      bodyRuns: 1_000,
      fleetWorkers: [0, 1, 2, 4, 8],
      fleetPolls: [50, 250, 1000],
      fleetIdleMs: 5_000,
      costRuns: 40,
      costCheckpoints: [1, 4, 16],
    };

function writeReport(results: BenchResults): void {
  mkdirSync(outDir, { recursive: true });
  const svgName = "benchmarks-latency.svg";
  writeFileSync(join(outDir, "benchmarks.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(outDir, svgName), latencySvg(results));
  writeFileSync(join(outDir, "benchmarks.md"), markdownReport(results, svgName));
}

async function main(): Promise<void> {
  if (values["report-only"]) {
    const results = JSON.parse(readFileSync(join(outDir, "benchmarks.json"), "utf8")) as BenchResults;
    writeReport(results);
    process.stdout.write(`${resultTables(results)}\n`);
    return;
  }
  const started = Date.now();
  progress(`mesh benchmark (${quick ? "quick" : "full"}); results go to ${outDir}`);

  progress("[1/8] baselines: raw Postgres commits");
  const baselineDb = await createTestDatabase("bench_baseline");
  const connections = 8;
  const postgresCommitsPerSecond = await postgresCommitRate(baselineDb, connections, size.pgMs).finally(() =>
    dropTestDatabase(baselineDb),
  );

  progress("[2/8] dispatch: light-load latency, throughput with 1 and 2 workers");
  const dispatchEnv = {
    ...TRIVIAL_RUN_ENV,
    MESH_QUEUE_POLL_MS: String(DEFAULT_POLL_MS),
    MESH_WORKER_CONCURRENCY: "32",
  };
  // Info logs: the workers' "run body started" lines carry the body-start stamps. A topology of its own,
  // so the throughput below is measured at the usual warn level (a log line per run costs throughput).
  const toBodyMs = await withTopology(
    { kind: "split", workers: 1, env: { ...dispatchEnv, LOG_LEVEL: "info" } },
    (topology) => dispatchToBody(topology, size.bodyRuns, 50),
  );
  const { lightLoadMs, oneWorker } = await withTopology(
    { kind: "split", workers: 1, env: dispatchEnv },
    async (topology) => ({
      lightLoadMs: await dispatchLatency(topology, size.lightRuns, 100),
      oneWorker: await dispatchThroughput(topology, size.burstRuns, 32),
    }),
  );
  const twoWorkers = await withTopology({ kind: "split", workers: 2, env: dispatchEnv }, (topology) =>
    dispatchThroughput(topology, size.burstRuns, 32),
  );

  progress("[3/8] streaming: worker publish → SSE client through the api");
  const streaming = await withTopology({ kind: "split", workers: 1, env: STREAMING_RUN_ENV }, (topology) =>
    streamingLatency(topology, size.streamRuns),
  );
  // Measured after mesh has created its JetStream stream, so the baseline's subject is captured by it too.
  progress("      baseline: the same NATS hop between two processes, without api and SSE");
  const natsLatencyMs = await natsLatency(size.natsMessages);

  progress("[4/8] isolation: api latency idle and under CPU-heavy runs, all vs split (pinned cores)");
  const probe = { ratePerSecond: size.rate, phaseMs: size.phaseMs, heavyRuns: size.heavyRuns };
  const all: IsolationResult = await withTopology({ kind: "all", env: HEAVY_RUN_ENV }, (topology) =>
    apiIsolation(topology, probe),
  );
  const split: IsolationResult = await withTopology(
    { kind: "split", workers: 1, env: HEAVY_RUN_ENV, apiCpus: "0", workerCpus: "1" },
    (topology) => apiIsolation(topology, probe),
  );

  progress("[5/8] polling trade-off: 1000, 250, 50 ms");
  const polling = [];
  for (const pollMs of [1000, 250, 50]) {
    progress(`      MESH_QUEUE_POLL_MS=${pollMs}`);
    polling.push(
      await withTopology(
        { kind: "split", workers: 1, env: { ...TRIVIAL_RUN_ENV, MESH_QUEUE_POLL_MS: String(pollMs) } },
        (topology) => pollingTradeOff(topology, pollMs, { idleMs: size.pollIdleMs, runs: size.pollRuns }),
      ),
    );
  }

  progress("[6/8] the Pulumi program under the real engine: preview, up, destroy (test control plane)");
  const engine = await engineTimings(size.engineCycles);

  progress(
    `[7/8] idle fleet cost: 1 api + ${size.fleetWorkers.join("/")} idle workers × poll ${size.fleetPolls.join("/")} ms`,
  );
  const fleetIdle = await idleCost(size.fleetWorkers, size.fleetPolls, size.fleetIdleMs, (point) =>
    progress(
      `      poll ${point.pollMs} ms, ${point.workers} workers: ${point.transactionsPerSecond.toFixed(0)} tx/s`,
    ),
  );

  progress(
    `[8/8] busy cost per run: K = ${size.costCheckpoints.join("/")} checkpoints, ${size.costRuns} runs each`,
  );
  const fleetBusy = await busyCost(size.costCheckpoints, size.costRuns);
  const defaultSlope =
    fleetIdle.slopes.find((slope) => slope.pollMs === DEFAULT_POLL_MS)?.transactionsPerSecondPerWorker ??
    Number.NaN;

  const loadedToIdleP99 = {
    all: {
      get: ratio(all.loaded.get.p99, all.idle.get.p99),
      post: ratio(all.loaded.post.p99, all.idle.post.p99),
    },
    split: {
      get: ratio(split.loaded.get.p99, split.idle.get.p99),
      post: ratio(split.loaded.post.p99, split.idle.post.p99),
    },
  };
  const allToSplitLoadedP99 = {
    get: ratio(all.loaded.get.p99, split.loaded.get.p99),
    post: ratio(all.loaded.post.p99, split.loaded.post.p99),
  };
  const p50ToRawNats = ratio(streaming.latency.p50, natsLatencyMs.p50);
  const results: BenchResults = {
    quick,
    machine: { cpus: cpus().length, node: process.versions.node },
    startedAt: new Date(started).toISOString(),
    durationSeconds: (Date.now() - started) / 1000,
    baselines: { postgresCommitsPerSecond, postgresConnections: connections, natsLatencyMs },
    dispatch: {
      pollMs: DEFAULT_POLL_MS,
      toBodyMs,
      lightLoadMs,
      throughputRunsPerSecond: { oneWorker, twoWorkers },
      throughputToCommitRate: {
        oneWorker: ratio(oneWorker, postgresCommitsPerSecond),
        twoWorkers: ratio(twoWorkers, postgresCommitsPerSecond),
      },
    },
    streaming: {
      latencyMs: streaming.latency,
      busHopMs: streaming.busHopMs,
      chunksPerSecond: streaming.chunksPerSecond,
      p50ToRawNats,
      p99ToRawNats: ratio(streaming.latency.p99, natsLatencyMs.p99),
    },
    isolation: { all, split, loadedToIdleP99, allToSplitLoadedP99 },
    polling,
    engine,
    idleCost: fleetIdle,
    busyCost: fleetBusy,
    prodWorkerMaxReplicas: PROD_WORKER_MAX_REPLICAS,
    targets: [
      {
        name: `dispatch p99, enqueue → body start (n = ${toBodyMs.n}${toBodyMs.n < 1000 ? ", quick: fewer than the 1,000 the target asks" : ""})`,
        target: "≤ 150 ms",
        measured: `${toBodyMs.p99.toFixed(1)} ms (p50 ${toBodyMs.p50.toFixed(1)}, p95 ${toBodyMs.p95.toFixed(1)})`,
        met: toBodyMs.p99 <= 150 && toBodyMs.n >= 1000,
      },
      {
        name: `idle Postgres cost per idle worker (poll ${DEFAULT_POLL_MS} ms)`,
        target: "≤ 10 tx/s",
        measured: `${defaultSlope.toFixed(1)} tx/s per worker`,
        met: defaultSlope <= 10,
      },
      {
        name: "dispatch p50",
        target: "≤ 50 ms",
        measured: `${lightLoadMs.p50.toFixed(1)} ms`,
        met: lightLoadMs.p50 <= 50,
      },
      {
        name: "dispatch p99",
        target: "≤ 150 ms",
        measured: `${lightLoadMs.p99.toFixed(1)} ms`,
        met: lightLoadMs.p99 <= 150,
      },
      {
        name: "streaming p50 vs raw NATS",
        target: "≤ 3x",
        measured: `${p50ToRawNats.toFixed(2)}x`,
        met: p50ToRawNats <= 3,
      },
      {
        name: "split api p99 loaded vs idle (GET)",
        target: "≤ 2x",
        measured: `${loadedToIdleP99.split.get.toFixed(2)}x`,
        met: loadedToIdleP99.split.get <= 2,
      },
      {
        name: "loaded api p99, all vs split (GET)",
        target: "≥ 5x",
        measured: `${allToSplitLoadedP99.get.toFixed(2)}x`,
        met: allToSplitLoadedP99.get >= 5,
      },
    ],
  };

  writeReport(results);
  process.stdout.write(
    `\n${resultTables(results)}\n\nWrote ${join(outDir, "benchmarks.md")} (+ .json, .svg)\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
