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
import {
  dispatchLatency,
  dispatchThroughput,
  dispatchToBody,
  enqueueThroughput,
  TRIVIAL_RUN_ENV,
} from "./dispatch.js";
import { type EngineTimings, engineTimings } from "./engine.js";
import { busyCost, type IdleSetup, idleCost } from "./fleet-cost.js";
import { figure, type HeadlineFigure, headlineFigures, spread } from "./headline.js";
import { writeIncompleteReport } from "./incomplete-report.js";
import { apiIsolation, HEAVY_RUN_ENV, type IsolationResult } from "./isolation.js";
import { openStreams } from "./open-streams.js";
import { pollingTradeOff } from "./polling.js";
import { missingPrerequisites } from "./prerequisites.js";
import { progress } from "./progress.js";
import { latencySvg, markdownReport, resultTables } from "./report.js";
import type { BenchResults, Measurement } from "./results.js";
import { runScenarios, type Scenario, type ScenarioFailure } from "./scenario-runner.js";
import { ratio } from "./stats.js";
import { runStreamNamesOf, STREAMING_RUN_ENV, streamingLatency } from "./streaming.js";
import { withTopology } from "./topology.js";

/** mesh's queue polling as shipped: the wake-up on, a poll every second as its safety net (app/config.ts). */
const SHIPPED_POLL_MS = 1_000;
/** The default with the wake-up off (MESH_QUEUE_WAKE=false): polling alone, fast. */
const POLLING_ONLY_POLL_MS = 50;
const SHIPPED: IdleSetup = {
  name: `wake-up + poll ${SHIPPED_POLL_MS} ms (shipped)`,
  pollMs: SHIPPED_POLL_MS,
  wake: true,
};
const pollingOnly = (pollMs: number): IdleSetup => ({
  name: `polling only, ${pollMs} ms`,
  pollMs,
  wake: false,
});
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
    // How many times every scenario runs; the headline figures are the median with min and max.
    repeats: { type: "string" },
    // Re-render benchmarks.md and the SVG from an existing benchmarks.json, measuring nothing.
    "report-only": { type: "boolean", default: false },
  },
});
const quick = values.quick ?? false;
const repeats = parseRepeats(values.repeats ?? (quick ? "1" : "3"));
const outDir =
  values.out ??
  (quick ? mkdtempSync(join(tmpdir(), "mesh-bench-")) : fileURLToPath(new URL("../docs", import.meta.url)));

function parseRepeats(text: string): number {
  const count = Number(text);
  if (!Number.isInteger(count) || count < 1 || count > 20)
    throw new Error(`--repeats must be a whole number from 1 to 20, got "${text}"`);
  return count;
}

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
      fleetSetups: [SHIPPED, pollingOnly(POLLING_ONLY_POLL_MS)],
      fleetIdleMs: 1_000,
      // Enough runs that their own transactions stand well above the idle polling subtracted over the window.
      costRuns: 20,
      costCheckpoints: [1, 4],
      openStreams: [5, 20],
      openStreamsWindowMs: 2_000,
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
      fleetSetups: [SHIPPED, pollingOnly(50), pollingOnly(250), pollingOnly(1000)],
      fleetIdleMs: 5_000,
      costRuns: 40,
      costCheckpoints: [1, 4, 16],
      openStreams: [10, 100, 1000],
      openStreamsWindowMs: 8_000,
    };

/** Equal CPU budgets for the isolation scenario: both cores for `all`, one each for split's two roles. */
const ISOLATION_CPUS = { all: "0,1", splitApi: "0", splitWorker: "1" };

function writeReport(results: BenchResults): void {
  mkdirSync(outDir, { recursive: true });
  const svgName = "benchmarks-latency.svg";
  writeFileSync(join(outDir, "benchmarks.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(outDir, svgName), latencySvg(results));
  writeFileSync(join(outDir, "benchmarks.md"), markdownReport(results, svgName));
}

/** The scenarios of one repeat, in order, each storing its figures into the repeat's results. */
function repeatScenarios(label: string): Array<Scenario<Measurement>> {
  const step = (index: number, text: string) => progress(`${label}[${index}/9] ${text}`);
  const connections = 8;
  let postgresCommitsPerSecond = 0;
  return [
    {
      name: "baselines",
      run: async (into) => {
        step(1, "baselines: raw Postgres commits");
        const baselineDb = await createTestDatabase("bench_baseline");
        postgresCommitsPerSecond = await postgresCommitRate(baselineDb, connections, size.pgMs).finally(() =>
          dropTestDatabase(baselineDb),
        );
        // The NATS baseline joins these in the streaming scenario (it needs that scenario's stream).
        into.baselines = {
          postgresCommitsPerSecond,
          postgresConnections: connections,
        } as Measurement["baselines"];
      },
    },
    {
      name: "dispatch",
      run: async (into) => {
        step(2, "dispatch: enqueue → body at light load, throughput with 1 and 2 workers");
        // mesh as shipped: the queue settings are the defaults (the wake-up on, the 1-s safety-net poll).
        const dispatchEnv = { ...TRIVIAL_RUN_ENV, MESH_WORKER_CONCURRENCY: "32" };
        // Info logs: the workers' "run body started" lines carry the body-start stamps. A topology of its
        // own, so the throughput below is measured at the usual warn level (a log line per run costs).
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
        into.dispatch = {
          pollMs: SHIPPED_POLL_MS,
          toBodyMs,
          lightLoadMs,
          throughputRunsPerSecond: { oneWorker, twoWorkers },
          throughputToCommitRate: {
            oneWorker: ratio(oneWorker, postgresCommitsPerSecond),
            twoWorkers: ratio(twoWorkers, postgresCommitsPerSecond),
          },
        };
      },
    },
    {
      name: "streaming",
      run: async (into) => {
        step(3, "streaming: worker publish → SSE client through the api, then the two-process NATS baseline");
        // The baseline runs while the topology's stream exists (it is deleted with the topology's database),
        // so its subject is captured by the stream too, as a worker's chunks are.
        const { streaming, natsLatencyMs } = await withTopology(
          { kind: "split", workers: 1, env: STREAMING_RUN_ENV },
          async (topology) => ({
            streaming: await streamingLatency(topology, size.streamRuns),
            natsLatencyMs: await natsLatency(size.natsMessages, runStreamNamesOf(topology)),
          }),
        );
        into.baselines = { postgresCommitsPerSecond, postgresConnections: connections, natsLatencyMs };
        into.streaming = {
          latencyMs: streaming.latency,
          busHopMs: streaming.busHopMs,
          chunksPerSecond: streaming.chunksPerSecond,
          p50ToRawNats: ratio(streaming.latency.p50, natsLatencyMs.p50),
          p99ToRawNats: ratio(streaming.latency.p99, natsLatencyMs.p99),
        };
      },
    },
    {
      name: "isolation",
      run: async (into) => {
        step(
          4,
          `isolation: api latency idle and under CPU-heavy runs; all on cores ${ISOLATION_CPUS.all}, split api ${ISOLATION_CPUS.splitApi} + worker ${ISOLATION_CPUS.splitWorker}`,
        );
        const probe = { ratePerSecond: size.rate, phaseMs: size.phaseMs, heavyRuns: size.heavyRuns };
        const all: IsolationResult = await withTopology(
          { kind: "all", env: HEAVY_RUN_ENV, apiCpus: ISOLATION_CPUS.all },
          (topology) => apiIsolation(topology, probe),
        );
        const split: IsolationResult = await withTopology(
          {
            kind: "split",
            workers: 1,
            env: HEAVY_RUN_ENV,
            apiCpus: ISOLATION_CPUS.splitApi,
            workerCpus: ISOLATION_CPUS.splitWorker,
          },
          (topology) => apiIsolation(topology, probe),
        );
        into.isolation = {
          cpus: ISOLATION_CPUS,
          all,
          split,
          loadedToIdleP99: {
            all: {
              get: ratio(all.loaded.get.p99, all.idle.get.p99),
              post: ratio(all.loaded.post.p99, all.idle.post.p99),
            },
            split: {
              get: ratio(split.loaded.get.p99, split.idle.get.p99),
              post: ratio(split.loaded.post.p99, split.idle.post.p99),
            },
          },
          allToSplitLoadedP99: {
            get: ratio(all.loaded.get.p99, split.loaded.get.p99),
            post: ratio(all.loaded.post.p99, split.loaded.post.p99),
          },
        };
      },
    },
    {
      name: "polling",
      run: async (into) => {
        step(5, "polling trade-off, the wake-up off: 1000, 250, 50 ms");
        const polling = [];
        for (const pollMs of [1000, 250, 50]) {
          polling.push(
            await withTopology(
              {
                kind: "split",
                workers: 1,
                env: { ...TRIVIAL_RUN_ENV, MESH_QUEUE_WAKE: "false", MESH_QUEUE_POLL_MS: String(pollMs) },
              },
              (topology) =>
                pollingTradeOff(topology, pollMs, { idleMs: size.pollIdleMs, runs: size.pollRuns }),
            ),
          );
        }
        into.polling = polling;
      },
    },
    {
      name: "idleCost",
      run: async (into) => {
        step(
          6,
          `idle fleet cost: 1 api + ${size.fleetWorkers.join("/")} idle workers × ${size.fleetSetups.map((setup) => setup.name).join(" / ")}`,
        );
        into.idleCost = await idleCost(size.fleetWorkers, size.fleetSetups, size.fleetIdleMs, (point) =>
          progress(
            `      ${point.setup}, ${point.workers} workers: ${point.transactionsPerSecond.toFixed(0)} tx/s`,
          ),
        );
      },
    },
    {
      name: "busyCost",
      run: async (into) => {
        step(
          7,
          `busy cost per run: K = ${size.costCheckpoints.join("/")} checkpoints, ${size.costRuns} runs each`,
        );
        into.busyCost = await busyCost(size.costCheckpoints, size.costRuns);
      },
    },
    {
      name: "openStreams",
      run: async (into) => {
        step(8, `open streams: one api holding ${size.openStreams.join("/")} SSE clients on running runs`);
        into.openStreams = await openStreams(size.openStreams, size.openStreamsWindowMs);
      },
    },
    {
      name: "wakeOff",
      run: async (into) => {
        step(
          9,
          `the wake-up off (polling alone, ${POLLING_ONLY_POLL_MS} ms) beside the shipped set-up, and the enqueue path with and without its trigger`,
        );
        const env = { ...TRIVIAL_RUN_ENV, MESH_WORKER_CONCURRENCY: "32", MESH_QUEUE_WAKE: "false" };
        const toBodyMs = await withTopology(
          { kind: "split", workers: 1, env: { ...env, LOG_LEVEL: "info" } },
          (topology) => dispatchToBody(topology, size.bodyRuns, 50),
        );
        const throughputRunsPerSecond = await withTopology({ kind: "split", workers: 1, env }, (topology) =>
          dispatchThroughput(topology, size.burstRuns, 32),
        );
        into.wakeOff = { pollMs: POLLING_ONLY_POLL_MS, toBodyMs, throughputRunsPerSecond };
        // One api, no worker: each enqueue's commit with the trigger's NOTIFY, then without the trigger.
        const enqueue = (wake: boolean) =>
          withTopology(
            { kind: "split", workers: 0, env: { ...env, MESH_QUEUE_WAKE: String(wake) } },
            (topology) => enqueueThroughput(topology, size.burstRuns, 32),
          );
        into.enqueueRunsPerSecond = { wakeOn: await enqueue(true), wakeOff: await enqueue(false) };
      },
    },
  ];
}

/** The targets of issue #12, judged on the medians; each shows its spread over the repeats. */
function targets(headline: HeadlineFigure[], bodySamples: number): BenchResults["targets"] {
  const at = (key: string) => figure(headline, key);
  const enoughSamples = bodySamples >= 1000;
  return [
    {
      name: `dispatch p99, enqueue → body start, light load, as shipped (n = ${bodySamples} per repeat${enoughSamples ? "" : ", fewer than the 1,000 the target asks"})`,
      target: "≤ 30 ms",
      measured: `${spread(at("toBodyP99"))} ms`,
      met: at("toBodyP99").median <= 30 && enoughSamples,
    },
    {
      name: "streaming p50 ÷ the like-for-like NATS baseline p50",
      target: "≤ 3x",
      measured: `${spread(at("streamP50Ratio"), 2)}x`,
      met: at("streamP50Ratio").median <= 3,
    },
    {
      name: "loaded api GET p99, all ÷ split, equal CPU budget",
      target: "≥ 5x",
      measured: `${spread(at("allToSplitGet"), 2)}x`,
      met: at("allToSplitGet").median >= 5,
    },
    {
      name: "loaded api POST p99, all ÷ split, equal CPU budget",
      target: "≥ 5x",
      measured: `${spread(at("allToSplitPost"), 2)}x`,
      met: at("allToSplitPost").median >= 5,
    },
    {
      name: "idle Postgres cost per idle worker, as shipped (the wake-up, poll 1 s)",
      target: "≤ 10 tx/s",
      measured: `${spread(at(`idleSlope:${SHIPPED.name}`))} tx/s`,
      met: at(`idleSlope:${SHIPPED.name}`).median <= 10,
    },
    {
      name: `burst throughput, 1 worker, as shipped ÷ the wake-up off (polling alone, ${POLLING_ONLY_POLL_MS} ms)`,
      target: "not lower, within spread",
      measured: `${spread(at("runsOne"), 0)} vs ${spread(at("wakeOffRunsOne"), 0)} runs/s`,
      met: at("runsOne").max >= at("wakeOffRunsOne").min,
    },
  ];
}

async function main(): Promise<void> {
  if (values["report-only"]) {
    const results = JSON.parse(readFileSync(join(outDir, "benchmarks.json"), "utf8")) as BenchResults;
    // Figures and targets are derived from the repeats, so a changed definition re-renders without measuring.
    results.headline = headlineFigures(results.repeats);
    results.targets = targets(results.headline, results.repeats[0]?.dispatch.toBodyMs.n ?? 0);
    writeReport(results);
    process.stdout.write(`${resultTables(results)}\n`);
    return;
  }
  const missing = await missingPrerequisites();
  if (missing.length > 0) {
    process.stderr.write(
      `bench: cannot start — ${missing.join("; ")}.\nRun it as \`./dev bench\`, which starts Postgres and NATS and builds the tools, as \`./dev test\` does.\n`,
    );
    process.exit(2);
  }
  const started = Date.now();
  progress(`mesh benchmark (${quick ? "quick" : "full"}, ${repeats} repeats); results go to ${outDir}`);
  const measurements: Array<Partial<Measurement>> = [];
  let failure: ScenarioFailure | undefined;
  for (let repeat = 1; repeat <= repeats && !failure; repeat++) {
    const measurement: Partial<Measurement> = {};
    measurements.push(measurement);
    failure = await runScenarios(
      repeatScenarios(repeats > 1 ? `repeat ${repeat}/${repeats} ` : ""),
      measurement,
      repeats > 1 ? repeat : undefined,
    );
  }

  const after: Partial<{ engine: EngineTimings }> = {};
  if (!failure)
    failure = await runScenarios<{ engine: EngineTimings }>(
      [
        {
          name: "engine",
          run: async (into) => {
            progress(
              "[engine] the Pulumi program under the real engine: preview, up, destroy (test control plane)",
            );
            into.engine = await engineTimings(size.engineCycles);
          },
        },
      ],
      after,
    );

  const machine = { cpus: cpus().length, node: process.versions.node };
  if (failure || !after.engine) {
    const incomplete = failure ?? { scenario: "engine", message: "no engine timings" };
    writeIncompleteReport(outDir, {
      quick,
      incomplete,
      machine,
      startedAt: new Date(started).toISOString(),
      durationSeconds: (Date.now() - started) / 1000,
      repeats: measurements,
      engine: after.engine,
    });
    process.stderr.write(
      `\nbench: INCOMPLETE — ${incomplete.scenario} failed:\n${incomplete.message}\n\nEvery figure measured before it is in ${join(outDir, "benchmarks.json")} and benchmarks.md, marked incomplete.\n`,
    );
    process.exit(1);
  }

  const complete = measurements as Measurement[];
  const headline = headlineFigures(complete);
  const results: BenchResults = {
    quick,
    machine,
    startedAt: new Date(started).toISOString(),
    durationSeconds: (Date.now() - started) / 1000,
    repeats: complete,
    headline,
    engine: after.engine,
    prodWorkerMaxReplicas: PROD_WORKER_MAX_REPLICAS,
    targets: targets(headline, size.bodyRuns),
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
