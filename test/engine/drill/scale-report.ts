import type { ScaleInEvent, ScaleSample } from "./scale-sampler.js";

/** What the scale drill measured (test/engine/scale-drill.test.ts). */
export interface ScaleSummary {
  samples: ScaleSample[];
  scaleIns: ScaleInEvent[];
  /** When the burst's second part went in (the first part fills the one worker); ms on the samples' clock. */
  burstAt: number;
  /** ms from the burst to: the first added worker Ready, every worker Ready at max, the last run done, back at min. */
  firstAdded: number;
  atMax: number;
  drained: number;
  backAtMin: number;
  runs: number;
  runsSucceeded: number;
  /** Runs whose segments ran on more than one worker (handed back at a checkpoint and resumed). */
  interrupted: string[];
  segmentsExecutedTwice: string[];
  settings: {
    minReplicas: number;
    maxReplicas: number;
    targetRunsPerReplica: number;
    concurrency: number;
    runSeconds: number;
    scaleDown: { stabilizationWindowSeconds: number; pods: number; periodSeconds: number };
  };
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The console lines, the Markdown page and the timeline chart of a scale drill run. */
export function scaleReport(summary: ScaleSummary): { lines: string[]; markdown: string; svg: string } {
  const s = summary.settings;
  const lines = [
    `burst → first added worker Ready: ${fmt(summary.firstAdded)}; → ${s.maxReplicas} workers Ready (max): ${fmt(summary.atMax)}; → every run done: ${fmt(summary.drained)}; → back at ${s.minReplicas} (min): ${fmt(summary.backAtMin)}`,
    `runs: ${summary.runs}, SUCCESS with their twin's output: ${summary.runsSucceeded}; interrupted by scale-in (resumed on another worker): ${summary.interrupted.length}; segments executed twice: ${summary.segmentsExecutedTwice.length}`,
    ...summary.scaleIns.map(
      (event) =>
        `scale-in at ${fmt(event.at - summary.burstAt)}: removed ${event.pod} holding ${event.held} run(s); idle workers besides it: ${event.idleOthers.length ? event.idleOthers.join(", ") : "none"}; pod-deletion-costs: ${JSON.stringify(event.costs)}`,
    ),
  ];
  const markdown = [
    "# Scale drill: KEDA scales the workers on the real queue, and scale-in spares busy workers",
    "",
    "Written by `test/engine/scale-drill.test.ts` (`MESH_DRILL_DOCS=1` writes this page; every run prints",
    "the same summary). The real Pulumi engine deploys the prod topology (api + workers,",
    "`worker.autoscaling.mode=queueDepth`) to a real kube-apiserver with the aggregation layer; KEDA's own",
    "operator and metrics API server (built from `github.com/kedacore/keda/v2`, `tools/keda`) run as pods",
    "on a real node and read the queue through the TriggerAuthentication mesh renders, as the",
    "`<db>_keda_scaler` role; the controller-manager's HPA controller reads KEDA's metric through the",
    "apiserver. Worker pods are containers of mesh's image on a real kubelet (`test/real-node/`).",
    "",
    `Settings: min ${s.minReplicas}, max ${s.maxReplicas}, targetRunsPerReplica ${s.targetRunsPerReplica}, worker concurrency ${s.concurrency}, runs of ${s.runSeconds} s, scale-down after ${s.scaleDown.stabilizationWindowSeconds} s stable, ${s.scaleDown.pods} pod per ${s.scaleDown.periodSeconds} s.`,
    "",
    "The burst has two parts: first one worker's worth of runs, which the one worker takes, then three",
    "workers' worth. The workers KEDA adds take the second part, so when the first worker's runs end it is",
    "idle while the newer workers are still busy: the scale-in that follows must remove the idle one",
    "(`controller.kubernetes.io/pod-deletion-cost`, kept by each worker at the runs it holds). Without it,",
    "the ReplicaSet removes the most recently ready pods first: busy ones, whose runs are handed back.",
    "",
    ...lines.map((line) => `- ${line}`),
    "",
    "![queue depth, KEDA's metric, desired and ready workers over time](scale-drill.svg)",
    "",
  ].join("\n");
  return { lines, markdown, svg: scaleChart(summary) };
}

/** Queue depth, KEDA's metric, desired and ready workers, runs done: lines over time since the burst. */
function scaleChart(summary: ScaleSummary): string {
  const width = 960;
  const height = 420;
  const left = 60;
  const right = 60;
  const top = 30;
  const bottom = 60;
  const samples = summary.samples.filter((sample) => sample.at >= summary.burstAt - 5_000);
  const t = (sample: ScaleSample) => sample.at - summary.burstAt;
  const start = Math.min(...samples.map(t), 0);
  const end = Math.max(...samples.map(t), 1);
  const x = (ms: number) => left + ((ms - start) / (end - start)) * (width - left - right);
  const runsMax = Math.max(summary.runs, 1);
  const yRuns = (value: number) => top + (1 - value / runsMax) * (height - top - bottom);
  const podsMax = summary.settings.maxReplicas + 1;
  const yPods = (value: number) => top + (1 - value / podsMax) * (height - top - bottom);
  const series: {
    name: string;
    colour: string;
    y: (v: number) => number;
    value: (s: ScaleSample) => number | undefined;
  }[] = [
    { name: "queued (ENQUEUED)", colour: "#ff7f0e", y: yRuns, value: (s) => s.enqueued },
    { name: "held (PENDING)", colour: "#1f77b4", y: yRuns, value: (s) => s.pending },
    { name: "KEDA metric", colour: "#9467bd", y: yRuns, value: (s) => s.metric },
    { name: "done (SUCCESS)", colour: "#2ca02c", y: yRuns, value: (s) => s.succeeded },
    { name: "desired workers", colour: "#7f7f7f", y: yPods, value: (s) => s.desired },
    { name: "ready workers", colour: "#d62728", y: yPods, value: (s) => s.ready },
  ];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="${top - 10}">runs (left axis), workers (right axis), time since the burst</text>`,
  ];
  for (let runs = 0; runs <= runsMax; runs += Math.max(1, Math.ceil(runsMax / 8)))
    parts.push(
      `<line x1="${left}" x2="${width - right}" y1="${yRuns(runs)}" y2="${yRuns(runs)}" stroke="#eee"/>`,
      `<text x="${left - 6}" y="${yRuns(runs) + 4}" text-anchor="end">${runs}</text>`,
    );
  for (let pods = 0; pods <= podsMax; pods++)
    parts.push(`<text x="${width - right + 6}" y="${yPods(pods) + 4}">${pods}</text>`);
  for (let ms = 0; ms <= end; ms += 30_000)
    parts.push(
      `<line x1="${x(ms)}" x2="${x(ms)}" y1="${top}" y2="${height - bottom}" stroke="#eee"/>`,
      `<text x="${x(ms)}" y="${height - bottom + 14}" text-anchor="middle">${ms / 1000} s</text>`,
    );
  for (const event of summary.scaleIns)
    parts.push(
      `<line x1="${x(event.at - summary.burstAt)}" x2="${x(event.at - summary.burstAt)}" y1="${top}" y2="${height - bottom}" stroke="#d62728" stroke-dasharray="3,3"/>`,
    );
  for (const line of series) {
    const points = samples.flatMap((sample) => {
      const value = line.value(sample);
      return value === undefined ? [] : [`${x(t(sample)).toFixed(1)},${line.y(value).toFixed(1)}`];
    });
    parts.push(
      `<polyline points="${points.join(" ")}" fill="none" stroke="${line.colour}" stroke-width="1.5"/>`,
    );
  }
  series.forEach((line, index) => {
    const lx = left + (index % 3) * 200;
    const ly = height - 30 + Math.floor(index / 3) * 14;
    parts.push(
      `<line x1="${lx}" x2="${lx + 14}" y1="${ly - 4}" y2="${ly - 4}" stroke="${line.colour}" stroke-width="2"/>`,
      `<text x="${lx + 18}" y="${ly}">${line.name}</text>`,
    );
  });
  parts.push(
    `<text x="${width - right}" y="${height - 16}" text-anchor="end">dashed: a worker removed by scale-in</text>`,
    "</svg>",
  );
  return parts.join("\n");
}
