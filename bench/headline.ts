import { leastSquaresSlope } from "./fleet-cost.js";
import type { Measurement } from "./results.js";

/** One headline number over the repeats: the median is the figure, min and max show the noise. */
export interface HeadlineFigure {
  key: string;
  name: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  values: number[];
}

interface FigureDefinition {
  key: string;
  name: string;
  unit: string;
  of: (measurement: Measurement) => number;
}

const slopeOf = (measurement: Measurement, setup: string) =>
  measurement.idleCost.slopes.find((slope) => slope.setup === setup)?.transactionsPerSecondPerWorker ??
  Number.NaN;
const busyAt = (measurement: Measurement, checkpoints: number) =>
  measurement.busyCost.find((point) => point.checkpoints === checkpoints);
const streamsAt = (measurement: Measurement, clients: number) =>
  measurement.openStreams.points.find((point) => point.clients === clients);

/** The figures the report leads with, in order. Each is read from every repeat and summarised. */
function definitions(sample: Measurement): FigureDefinition[] {
  // GET all, GET split, POST all, POST split.
  const loadedP99: FigureDefinition[] = (["get", "post"] as const).flatMap((method) =>
    (["all", "split"] as const).map((topology) => ({
      key: `${topology}Loaded${method === "get" ? "Get" : "Post"}P99`,
      name: `loaded api ${method.toUpperCase()} p99, ${topology}`,
      unit: "ms",
      of: (m: Measurement) => m.isolation[topology].loaded[method].p99,
    })),
  );
  const figures: FigureDefinition[] = [
    {
      key: "pgCommits",
      name: "raw Postgres commits/s",
      unit: "/s",
      of: (m) => m.baselines.postgresCommitsPerSecond,
    },
    {
      key: "natsP50",
      name: "NATS baseline (2 processes) p50",
      unit: "ms",
      of: (m) => m.baselines.natsLatencyMs.p50,
    },
    {
      key: "natsP99",
      name: "NATS baseline (2 processes) p99",
      unit: "ms",
      of: (m) => m.baselines.natsLatencyMs.p99,
    },
    {
      key: "toBodyP50",
      name: "dispatch as shipped, enqueue → body p50",
      unit: "ms",
      of: (m) => m.dispatch.toBodyMs.p50,
    },
    {
      key: "toBodyP95",
      name: "dispatch as shipped, enqueue → body p95",
      unit: "ms",
      of: (m) => m.dispatch.toBodyMs.p95,
    },
    {
      key: "toBodyP99",
      name: "dispatch as shipped, enqueue → body p99",
      unit: "ms",
      of: (m) => m.dispatch.toBodyMs.p99,
    },
    {
      key: "dequeueP99",
      name: "dispatch, enqueue → DBOS dequeue p99",
      unit: "ms",
      of: (m) => m.dispatch.lightLoadMs.p99,
    },
    {
      key: "runsOne",
      name: "throughput, 1 api + 1 worker",
      unit: "runs/s",
      of: (m) => m.dispatch.throughputRunsPerSecond.oneWorker,
    },
    {
      key: "runsTwo",
      name: "throughput, 1 api + 2 workers",
      unit: "runs/s",
      of: (m) => m.dispatch.throughputRunsPerSecond.twoWorkers,
    },
    {
      key: "runsToCommits",
      name: "throughput (1 worker) ÷ raw commits/s",
      unit: "x",
      of: (m) => m.dispatch.throughputToCommitRate.oneWorker,
    },
    {
      key: "streamP50",
      name: "streaming, worker → SSE p50",
      unit: "ms",
      of: (m) => m.streaming.latencyMs.p50,
    },
    {
      key: "streamP99",
      name: "streaming, worker → SSE p99",
      unit: "ms",
      of: (m) => m.streaming.latencyMs.p99,
    },
    {
      key: "streamP50Ratio",
      name: "streaming p50 ÷ NATS baseline p50",
      unit: "x",
      of: (m) => m.streaming.p50ToRawNats,
    },
    {
      key: "streamP99Ratio",
      name: "streaming p99 ÷ NATS baseline p99",
      unit: "x",
      of: (m) => m.streaming.p99ToRawNats,
    },
    ...loadedP99,
    {
      key: "allToSplitGet",
      name: "loaded GET p99, all ÷ split",
      unit: "x",
      of: (m) => m.isolation.allToSplitLoadedP99.get,
    },
    {
      key: "allToSplitPost",
      name: "loaded POST p99, all ÷ split",
      unit: "x",
      of: (m) => m.isolation.allToSplitLoadedP99.post,
    },
    {
      key: "splitLoadedToIdleGet",
      name: "split GET p99, loaded ÷ idle",
      unit: "x",
      of: (m) => m.isolation.loadedToIdleP99.split.get,
    },
  ];
  for (const { setup } of sample.idleCost.slopes)
    figures.push({
      key: `idleSlope:${setup}`,
      name: `idle Postgres cost per idle worker, ${setup}`,
      unit: "tx/s",
      of: (m) => slopeOf(m, setup),
    });
  for (const { checkpoints } of sample.busyCost) {
    figures.push({
      key: `busyTx${checkpoints}`,
      name: `Postgres tx per run, K = ${checkpoints}`,
      unit: "tx",
      of: (m) => busyAt(m, checkpoints)?.transactionsPerRun ?? Number.NaN,
    });
    figures.push({
      key: `busyNats${checkpoints}`,
      name: `NATS messages per run, K = ${checkpoints}`,
      unit: "msgs",
      of: (m) => busyAt(m, checkpoints)?.natsMessagesPerRun ?? Number.NaN,
    });
  }
  figures.push({
    key: "checkpointTx",
    name: "Postgres tx per extra checkpoint (least-squares slope of tx per run over K)",
    unit: "tx",
    of: (m) => leastSquaresSlope(m.busyCost.map((point) => [point.checkpoints, point.transactionsPerRun])),
  });
  for (const { clients } of sample.openStreams.points) {
    figures.push({
      key: `streamsRss${clients}`,
      name: `api RSS growth with ${clients} open streams`,
      unit: "MB",
      of: (m) => {
        const point = streamsAt(m, clients);
        return point ? (point.rssOpenBytes - point.rssBeforeBytes) / 2 ** 20 : Number.NaN;
      },
    });
    figures.push({
      key: `streamsP99${clients}`,
      name: `chunk latency p99 with ${clients} open streams`,
      unit: "ms",
      of: (m) => streamsAt(m, clients)?.chunkLatencyMs.p99 ?? Number.NaN,
    });
  }
  figures.push(
    {
      key: "bytesPerStream",
      name: "api memory per open stream (slope)",
      unit: "kB",
      of: (m) => m.openStreams.bytesPerStream / 1024,
    },
    {
      key: "wakeOffToBodyP50",
      name: "the wake-up off (polling alone): enqueue → body p50",
      unit: "ms",
      of: (m) => m.wakeOff.toBodyMs.p50,
    },
    {
      key: "wakeOffToBodyP99",
      name: "the wake-up off (polling alone): enqueue → body p99",
      unit: "ms",
      of: (m) => m.wakeOff.toBodyMs.p99,
    },
    {
      key: "wakeOffRunsOne",
      name: "the wake-up off (polling alone): throughput, 1 worker",
      unit: "runs/s",
      of: (m) => m.wakeOff.throughputRunsPerSecond,
    },
    {
      key: "enqueueWakeOn",
      name: "enqueue rate, 1 api, with the wake-up's trigger",
      unit: "runs/s",
      of: (m) => m.enqueueRunsPerSecond.wakeOn,
    },
    {
      key: "enqueueWakeOff",
      name: "enqueue rate, 1 api, without the trigger",
      unit: "runs/s",
      of: (m) => m.enqueueRunsPerSecond.wakeOff,
    },
    {
      key: "enqueueWakeRatio",
      name: "enqueue rate with the trigger ÷ without",
      unit: "x",
      of: (m) => m.enqueueRunsPerSecond.wakeOn / m.enqueueRunsPerSecond.wakeOff,
    },
  );
  return figures;
}

/** Summarises every headline figure over the repeats (median, min, max). */
export function headlineFigures(repeats: Measurement[]): HeadlineFigure[] {
  const [first] = repeats;
  if (!first) return [];
  return definitions(first).map(({ key, name, unit, of }) => {
    const values = repeats.map(of);
    const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
    return {
      key,
      name,
      unit,
      median: median(sorted),
      min: sorted[0] ?? Number.NaN,
      max: sorted.at(-1) ?? Number.NaN,
      values,
    };
  });
}

function median(sorted: number[]): number {
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Looks a figure up by key; throws on a typo rather than reporting NaN. */
export function figure(headline: HeadlineFigure[], key: string): HeadlineFigure {
  const found = headline.find((entry) => entry.key === key);
  if (!found) throw new Error(`no headline figure "${key}"`);
  return found;
}

/** "37.0 [33.1–41.2]" — the median and the range over the repeats. */
export function spread(entry: HeadlineFigure, digits = 1): string {
  const format = (value: number) => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");
  return entry.values.length > 1
    ? `${format(entry.median)} [${format(entry.min)}–${format(entry.max)}]`
    : format(entry.median);
}
