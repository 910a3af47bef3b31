import { type HeadlineFigure, spread } from "./headline.js";
import type { BenchResults, Measurement } from "./results.js";
import type { Summary } from "./stats.js";

const ms = (value: number) =>
  Number.isFinite(value) ? (value < 10 ? value.toFixed(2) : value.toFixed(1)) : "n/a";
const x = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}x` : "n/a");
const rate = (value: number) => (Number.isFinite(value) ? value.toFixed(0) : "n/a");
const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
const pct = (summary: Summary) => [ms(summary.p50), ms(summary.p95), ms(summary.p99), String(summary.n)];

/** The result tables, in Markdown (also printed to the terminal): headline figures and targets, then details. */
export function resultTables(results: BenchResults): string {
  const first = results.repeats[0];
  if (!first) return "No measurements.";
  const repeats = results.repeats.length;
  return [
    `### Headline figures (${repeats > 1 ? `median of ${repeats} repeats [min–max]` : "one repeat"})`,
    row(["figure", "unit", "value"]),
    row(["---", "---", "---"]),
    ...results.headline.map((entry) => row([entry.name, entry.unit, spread(entry, digitsFor(entry))])),
    "",
    "### Targets (judged on the medians)",
    row(["target", "goal", "measured", "met"]),
    row(["---", "---", "---", "---"]),
    ...results.targets.map((target) =>
      row([target.name, target.target, target.measured, target.met ? "yes" : "no"]),
    ),
    "",
    `## Details${repeats > 1 ? ` of repeat 1 of ${repeats} (every repeat is in benchmarks.json)` : ""}`,
    "",
    detailTables(first, results),
  ].join("\n");
}

function digitsFor(entry: HeadlineFigure): number {
  if (entry.unit === "x") return 2;
  return Math.abs(entry.median) >= 100 ? 0 : Math.abs(entry.median) >= 10 ? 1 : 2;
}

/** One repeat's tables. */
function detailTables(measurement: Measurement, results: BenchResults): string {
  const { baselines, dispatch, streaming, isolation, polling } = measurement;
  const lines = [
    "### Baselines (raw parts, same run)",
    row(["measure", "value"]),
    row(["---", "---"]),
    row([
      `Postgres single-row commits/s (${baselines.postgresConnections} connections)`,
      rate(baselines.postgresCommitsPerSecond),
    ]),
    row([
      "NATS publish (process A, captured by JetStream) → core subscriber (process B), wall-clock stamps, p50 / p99 (ms)",
      `${ms(baselines.natsLatencyMs.p50)} / ${ms(baselines.natsLatencyMs.p99)}`,
    ]),
    "",
    `### Dispatch as shipped (the queue wake-up on, MESH_QUEUE_POLL_MS=${dispatch.pollMs} as its safety net)`,
    row(["measure", "p50 (ms)", "p95 (ms)", "p99 (ms)", "n"]),
    row(["---", "---", "---", "---", "---"]),
    ...(dispatch.toBodyMs
      ? [
          row([
            "enqueue (api) → first instruction of the body (worker), light load",
            ...pct(dispatch.toBodyMs),
          ]),
        ]
      : []),
    row(["enqueue → DBOS's dequeue transaction (Postgres stamps), light load", ...pct(dispatch.lightLoadMs)]),
    "",
    row(["topology", "trivial runs/s", "÷ raw commits/s"]),
    row(["---", "---", "---"]),
    row([
      "1 api + 1 worker",
      rate(dispatch.throughputRunsPerSecond.oneWorker),
      x(dispatch.throughputToCommitRate.oneWorker),
    ]),
    row([
      "1 api + 2 workers",
      rate(dispatch.throughputRunsPerSecond.twoWorkers),
      x(dispatch.throughputToCommitRate.twoWorkers),
    ]),
    "",
    ...postgresWorkLines(measurement),
    "### Streaming (worker publish → SSE client through the api)",
    row(["measure", "value"]),
    row(["---", "---"]),
    row([
      "latency p50 / p95 / p99 (ms)",
      `${ms(streaming.latencyMs.p50)} / ${ms(streaming.latencyMs.p95)} / ${ms(streaming.latencyMs.p99)}`,
    ]),
    row([
      "of which worker → JetStream → plain subscriber, p50 / p99 (ms)",
      `${ms(streaming.busHopMs.p50)} / ${ms(streaming.busHopMs.p99)}`,
    ]),
    row(["chunks/s to one client", rate(streaming.chunksPerSecond)]),
    row([
      "p50 ÷ the two-process NATS baseline's p50 (same hop, same stamps, without api and SSE)",
      x(streaming.p50ToRawNats),
    ]),
    row(["p99 ÷ the baseline's p99", x(streaming.p99ToRawNats)]),
    "",
    `### Isolation (api latency at a fixed request rate, ms; all on CPUs ${isolation.cpus.all}, split api on ${isolation.cpus.splitApi} and worker on ${isolation.cpus.splitWorker})`,
    row(["topology", "phase", "GET p50", "GET p99", "POST p50", "POST p99"]),
    row(["---", "---", "---", "---", "---", "---"]),
  ];
  for (const topology of ["all", "split"] as const) {
    for (const phase of ["idle", "loaded"] as const) {
      const result = isolation[topology][phase];
      lines.push(
        row([
          topology,
          phase,
          ms(result.get.p50),
          ms(result.get.p99),
          ms(result.post.p50),
          ms(result.post.p99),
        ]),
      );
    }
  }
  lines.push(
    "",
    row(["ratio", "GET p99", "POST p99"]),
    row(["---", "---", "---"]),
    row(["all: loaded ÷ idle", x(isolation.loadedToIdleP99.all.get), x(isolation.loadedToIdleP99.all.post)]),
    row([
      "split: loaded ÷ idle",
      x(isolation.loadedToIdleP99.split.get),
      x(isolation.loadedToIdleP99.split.post),
    ]),
    row(["loaded: all ÷ split", x(isolation.allToSplitLoadedP99.get), x(isolation.allToSplitLoadedP99.post)]),
    "",
    "### Polling trade-off, the wake-up off (1 api + 1 worker, MESH_QUEUE_WAKE=false)",
    row(["MESH_QUEUE_POLL_MS", "dispatch p50 (ms)", "p95 (ms)", "p99 (ms)", "idle Postgres tx/s"]),
    row(["---", "---", "---", "---", "---"]),
    ...polling.map((result) =>
      row([
        String(result.pollMs),
        ms(result.latency.p50),
        ms(result.latency.p95),
        ms(result.latency.p99),
        rate(result.idleTransactionsPerSecond),
      ]),
    ),
    "",
    ...engineLines(results),
    ...fleetLines(measurement, results.prodWorkerMaxReplicas),
    ...openStreamsLines(measurement),
    ...queueWakeLines(measurement),
  );
  return lines.join("\n");
}

/**
 * Throughput against the Postgres work a run really needs: runs/s × transactions per trivial run (the
 * busy-cost scenario's K = 1, the same one-token run) against the raw commit rate of the same run.
 */
function postgresWorkLines(measurement: Measurement): string[] {
  const perRun = measurement.busyCost.find((point) => point.checkpoints === 1)?.transactionsPerRun;
  if (perRun === undefined) return [];
  const commits = measurement.baselines.postgresCommitsPerSecond;
  const { oneWorker, twoWorkers } = measurement.dispatch.throughputRunsPerSecond;
  return [
    `Postgres work of that throughput (${perRun.toFixed(1)} transactions per trivial run, from the busy-cost scenario):`,
    "",
    row(["topology", "transactions/s implied", "÷ raw commits/s"]),
    row(["---", "---", "---"]),
    row(["1 api + 1 worker", rate(oneWorker * perRun), x((oneWorker * perRun) / commits)]),
    row(["1 api + 2 workers", rate(twoWorkers * perRun), x((twoWorkers * perRun) / commits)]),
    "",
  ];
}

/** What a fleet costs Postgres and NATS, idle and per run. */
function fleetLines(measurement: Measurement, prodWorkerMaxReplicas: number): string[] {
  const lines: string[] = [];
  const idle = measurement.idleCost;
  {
    const workerCounts = [...new Set(idle.points.map((point) => point.workers))];
    const setups = idle.slopes.map((entry) => entry.setup);
    lines.push(
      "### Idle fleet: Postgres transactions/s with 1 api + N idle workers",
      row([
        "set-up",
        ...workerCounts.map((n) => `${n} workers`),
        "slope (tx/s per idle worker)",
        `at prod's ceiling (${prodWorkerMaxReplicas} workers)`,
      ]),
      row(["---", ...workerCounts.map(() => "---"), "---", "---"]),
      ...setups.map((setup) => {
        const slope =
          idle.slopes.find((entry) => entry.setup === setup)?.transactionsPerSecondPerWorker ?? Number.NaN;
        return row([
          setup,
          ...workerCounts.map((n) =>
            rate(
              idle.points.find((point) => point.setup === setup && point.workers === n)
                ?.transactionsPerSecond ?? Number.NaN,
            ),
          ),
          slope.toFixed(1),
          `≈ ${rate(slope * prodWorkerMaxReplicas)} tx/s`,
        ]);
      }),
      "",
    );
  }
  const busy = measurement.busyCost;
  {
    lines.push(
      "### Busy cost per completed run (1 api + 1 worker; K segments of one token, one checkpoint each)",
      row(["checkpoints K", "runs", "Postgres tx per run (net of idle polling)", "NATS messages per run"]),
      row(["---", "---", "---", "---"]),
      ...busy.map((point) =>
        row([
          String(point.checkpoints),
          String(point.runs),
          point.transactionsPerRun.toFixed(1),
          point.natsMessagesPerRun.toFixed(1),
        ]),
      ),
    );
    const first = busy[0];
    const last = busy.at(-1);
    if (first && last && last.checkpoints > first.checkpoints)
      lines.push(
        "",
        `Marginal cost of a checkpoint (K = ${first.checkpoints} → ${last.checkpoints}): ${((last.transactionsPerRun - first.transactionsPerRun) / (last.checkpoints - first.checkpoints)).toFixed(2)} Postgres transactions. The idle polling subtracted over the window (about 30 tx/s) is of the order of the small-K runs' own work, so the small-K figures are the noisy ones.`,
      );
    lines.push("");
  }
  return lines;
}

/** One api process holding N SSE clients on running runs: memory and chunk latency. */
function openStreamsLines(measurement: Measurement): string[] {
  const { points, bytesPerStream } = measurement.openStreams;
  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  return [
    "### Open streams per api process (1 api + 2 workers; each client on its own run, 2 chunks/s per run)",
    row([
      "SSE clients",
      "api RSS, none open (MB)",
      "api RSS, all open (MB)",
      "chunk p50 / p99 (ms)",
      "n",
      "chunks/s",
      "api CPU (cores)",
    ]),
    row(["---", "---", "---", "---", "---", "---", "---"]),
    ...points.map((point) =>
      row([
        String(point.clients),
        mb(point.rssBeforeBytes),
        mb(point.rssOpenBytes),
        `${ms(point.chunkLatencyMs.p50)} / ${ms(point.chunkLatencyMs.p99)}`,
        String(point.chunkLatencyMs.n),
        rate(point.chunksPerSecond),
        point.apiCpuCores.toFixed(2),
      ]),
    ),
    "",
    `Memory per open stream (least-squares slope of the RSS growth): ${(bytesPerStream / 1024).toFixed(0)} kB.`,
    "",
  ];
}

/** The queue wake-up as shipped beside mesh with it off (polling alone), and what its trigger costs an enqueue. */
function queueWakeLines(measurement: Measurement): string[] {
  const { dispatch, wakeOff, enqueueRunsPerSecond, idleCost } = measurement;
  const slopeOf = (wake: boolean, pollMs: number) =>
    idleCost.slopes.find((slope) => slope.wake === wake && slope.pollMs === pollMs)
      ?.transactionsPerSecondPerWorker ?? Number.NaN;
  const latency = (summary: Summary) => `${ms(summary.p50)} / ${ms(summary.p95)} / ${ms(summary.p99)}`;
  return [
    "### The queue wake-up (docs/dbos-queue-wake.md): on as shipped, and off",
    row([
      "set-up",
      "idle tx/s per worker",
      "enqueue → body p50 / p95 / p99 (ms)",
      "n",
      "runs/s, 1 worker",
      "enqueue runs/s, 1 api",
    ]),
    row(["---", "---", "---", "---", "---", "---"]),
    row([
      `shipped: wake-up + poll ${dispatch.pollMs} ms`,
      slopeOf(true, dispatch.pollMs).toFixed(1),
      latency(dispatch.toBodyMs),
      String(dispatch.toBodyMs.n),
      rate(dispatch.throughputRunsPerSecond.oneWorker),
      rate(enqueueRunsPerSecond.wakeOn),
    ]),
    row([
      `MESH_QUEUE_WAKE=false: polling alone, ${wakeOff.pollMs} ms`,
      slopeOf(false, wakeOff.pollMs).toFixed(1),
      latency(wakeOff.toBodyMs),
      String(wakeOff.toBodyMs.n),
      rate(wakeOff.throughputRunsPerSecond),
      rate(enqueueRunsPerSecond.wakeOff),
    ]),
    "",
  ];
}

/** Real-engine wall times: the dev stack's shape on the test control plane (not a target, not asserted). */
function engineLines(results: BenchResults): string[] {
  const engine = results.engine;
  if (!engine) return [];
  const seconds = (summary: Summary) =>
    `${(summary.p50 / 1000).toFixed(1)} s (min ${(summary.min / 1000).toFixed(1)}, max ${(summary.max / 1000).toFixed(1)}, n ${summary.n})`;
  return [
    "### The Pulumi program under the real engine (dev stack's shape, test control plane with kwok)",
    row(["operation", "wall time, median"]),
    row(["---", "---"]),
    row(["`pulumi preview`, empty stack", seconds(engine.previewEmptyMs)]),
    row(["`pulumi up`, empty → state 1 (awaits the migration Job and the Deployment)", seconds(engine.upMs)]),
    row(["`pulumi preview`, nothing to change", seconds(engine.previewNoChangeMs)]),
    row(["`pulumi preview`, rollout step 1 (workers on)", seconds(engine.previewWorkersOnMs)]),
    row(["`pulumi destroy`", seconds(engine.destroyMs)]),
    "",
  ];
}

/** Latency distributions as an SVG: one row per series, a bar from p50 to p99 and a tick at p95, log scale. */
export function latencySvg(results: BenchResults): string {
  const first = results.repeats[0];
  if (!first) return '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>';
  const series: Array<{ label: string; summary: Summary }> = [
    { label: "NATS baseline (2 processes)", summary: first.baselines.natsLatencyMs },
    { label: "stream worker→bus sub", summary: first.streaming.busHopMs },
    { label: "stream worker→SSE", summary: first.streaming.latencyMs },
    { label: "to body (shipped: wake-up)", summary: first.dispatch.toBodyMs },
    { label: `to body (polling only, ${first.wakeOff.pollMs} ms)`, summary: first.wakeOff.toBodyMs },
    { label: "DBOS dequeue (shipped)", summary: first.dispatch.lightLoadMs },
    ...first.polling.map((poll) => ({
      label: `polling trade-off: ${poll.pollMs} ms`,
      summary: poll.latency,
    })),
    { label: "GET all idle", summary: first.isolation.all.idle.get },
    { label: "GET all loaded", summary: first.isolation.all.loaded.get },
    { label: "GET split idle", summary: first.isolation.split.idle.get },
    { label: "GET split loaded", summary: first.isolation.split.loaded.get },
  ];
  const width = 800;
  const left = 200;
  const right = 20;
  const rowHeight = 26;
  const top = 40;
  const height = top + series.length * rowHeight + 40;
  const values = series
    .flatMap((entry) => [entry.summary.p50, entry.summary.p99])
    .filter((v) => Number.isFinite(v) && v > 0);
  const min = 10 ** Math.floor(Math.log10(Math.min(...values, 1)));
  const max = 10 ** Math.ceil(Math.log10(Math.max(...values, 1)));
  const scale = (value: number) =>
    left +
    ((Math.log10(Math.max(value, min)) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))) *
      (width - left - right);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14">Latency distributions (ms, log scale): bar p50–p99, tick p95</text>`,
  ];
  for (let decade = min; decade <= max; decade *= 10) {
    const xPos = scale(decade);
    parts.push(
      `<line x1="${xPos}" y1="${top - 8}" x2="${xPos}" y2="${height - 30}" stroke="#ddd"/>`,
      `<text x="${xPos}" y="${height - 14}" text-anchor="middle">${decade}</text>`,
    );
  }
  series.forEach((entry, index) => {
    const y = top + index * rowHeight;
    const { p50, p95, p99 } = entry.summary;
    parts.push(`<text x="${left - 8}" y="${y + 12}" text-anchor="end">${entry.label}</text>`);
    if (![p50, p95, p99].every(Number.isFinite)) return;
    parts.push(
      `<rect x="${scale(p50)}" y="${y + 2}" width="${Math.max(2, scale(p99) - scale(p50))}" height="14" fill="#4a7bd0" opacity="0.75"/>`,
      `<line x1="${scale(p95)}" y1="${y}" x2="${scale(p95)}" y2="${y + 18}" stroke="#1d3b70" stroke-width="2"/>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}

export function markdownReport(results: BenchResults, svgName: string): string {
  const repeats = results.repeats.length;
  return [
    "# mesh benchmarks",
    "",
    `Measured ${results.startedAt} on ${results.machine.cpus} cores, Node ${results.machine.node}, in ${results.durationSeconds.toFixed(0)} s` +
      (results.quick ? " (quick smoke mode: numbers are not meaningful)." : "."),
    `Every scenario ran ${repeats === 1 ? "once" : `${repeats} times`} in one \`npm run bench\`; a headline figure is the median over the repeats with its min and max. Compare ratios measured side by side, not absolute times on a shared machine.`,
    "",
    `![latency distributions, repeat 1](${svgName})`,
    "",
    resultTables(results),
    "",
    "## How each number is measured",
    "",
    "- **Repeats**: scenarios 1–9 run in order, then again, `--repeats` times (3 in the full run); the Pulumi",
    "  engine timings run once, as their own 3 cycles.",
    "- **Postgres commits/s**: autocommit single-row INSERTs from 8 connections for 5 s.",
    "- **NATS baseline**: a publisher process publishes chunk-shaped messages into the JetStream-captured run",
    "  subject with a Nats-Msg-Id (as a worker does); a core subscriber in the bench process; both stamp",
    "  `performance.timeOrigin + performance.now()`.",
    "- **Enqueue → body**: 1,000 runs one at a time with 50–100 ms jittered spacing; the api's enqueue stamp",
    '  and the worker\'s "run body started" stamp (info-level log line), both wall clock on this machine.',
    "  **Enqueue → DBOS dequeue**: `started_at - created_at` of DBOS's own row (both stamped by Postgres).",
    "- **Throughput**: trivial runs (one token, no CPU) submitted by 32 concurrent clients; runs ÷ (last",
    "  completion − first enqueue), at warn-level logging.",
    "- **Streaming**: workers stamp each JetStream message with its publish time; the SSE client (node:http)",
    "  stamps arrivals; joined by chunk seq. The ratio divides by the NATS baseline above.",
    "- **Isolation**: an open-loop probe (GET /v1/runs/{id} and POST /v1/threads/{id}/runs with a fixed",
    "  idempotency key) at a fixed rate, idle and while CPU-heavy runs saturate the executing process. Equal",
    "  CPU budget, both pinned with `taskset -c`: `all` on cores 0,1; split's api on core 0 and worker on 1.",
    "- **Idle fleet**: 1 api + N idle workers on a fresh database; Postgres transactions (commits + rollbacks)",
    "  from `pg_stat_database` over 5 s, after a pause for the statistics flush; slope by least squares.",
    "  Queries/s are not reported: `pg_stat_statements` is not loaded on this machine's Postgres (tuples",
    "  read/s is in the JSON).",
    "- **Busy cost**: K-segment runs of one token each (one checkpoint per segment), 40 per K; transactions",
    "  net of the idle rate measured just before on the same processes; NATS messages on `mesh.*.runs.>`.",
    "- **Open streams**: 1 api + 2 workers; N runs each streaming 2 chunks/s, one SSE client per run on its",
    "  own connection. RSS from /proc before any stream opens (runs running) and over the window with all",
    "  open; chunk latency on 50 of the streams (publish stamp → arrival). RSS growth includes the garbage",
    "  that the chunk traffic leaves between collections, not only what each stream holds.",
    "- **Queue-wake experiment**: see [dbos-queue-wake.md](dbos-queue-wake.md).",
    "- **Polling**: Postgres transactions/s on the mesh database while idle, then light-load dispatch latency.",
    "",
  ].join("\n");
}
