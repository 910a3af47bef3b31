import { percentile } from "../../../bench/stats.js";
import { isFailure, type RequestSample, type SteadyLoad } from "./steady-load.js";

/** One step of the drill on the load's clock. */
export interface DrillStep {
  name: string;
  startedAt: number;
  endedAt: number;
}

export interface DrillSummary {
  steps: DrillStep[];
  load: SteadyLoad;
  runsSucceeded: number;
  streamsCut: number;
  evictionsRefusedByBudget: number;
  placements: Record<string, string[]>;
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);

/** The console lines and the Markdown page of a drill run. */
export function drillReport(summary: DrillSummary, svgName: string): { lines: string[]; markdown: string } {
  const { load, steps } = summary;
  const byKind = new Map<string, RequestSample[]>();
  for (const sample of load.samples) byKind.set(sample.kind, [...(byKind.get(sample.kind) ?? []), sample]);
  const streams = load.runs.flatMap((run) => (run.stream ? [run.stream] : []));
  const lines = [
    ...steps.map((step) => `step ${step.name}: ${fmt(step.endedAt - step.startedAt)}`),
    `requests: ${load.samples.length} (${[...byKind].map(([kind, samples]) => `${samples.length} ${kind}`).join(", ")}), failed: ${load.failures().length}`,
    `runs accepted: ${load.runs.length}, SUCCESS with their twin's output: ${summary.runsSucceeded}`,
    `SSE readers: ${streams.length}, cut by a pod's drain and resumed with Last-Event-ID: ${summary.streamsCut} (${streams.reduce((sum, stream) => sum + stream.resumes, 0)} resumptions)`,
    `evictions refused by a PodDisruptionBudget before being allowed: ${summary.evictionsRefusedByBudget}`,
  ];
  const failed = new Set(load.failures());
  const latencyRows = [...byKind].map(([kind, samples]) => {
    const sorted = samples.map((sample) => sample.ms).sort((a, b) => a - b);
    return `| ${kind} | ${samples.length} | ${fmt(percentile(sorted, 50))} | ${fmt(percentile(sorted, 99))} | ${fmt(sorted.at(-1) ?? 0)} | ${samples.filter((sample) => failed.has(sample)).length} |`;
  });
  const markdown = [
    "# Rollout drill: two `pulumi up`s and back under load, on real nodes",
    "",
    "Written by `test/engine/rollout-drill.test.ts` (`MESH_DRILL_DOCS=1` writes this page; every run prints",
    "the same summary). The real Pulumi engine drives a real kube-apiserver, controller-manager and",
    "scheduler; mesh's rendered pods run as containers of mesh's image on two real nodes (kubelet,",
    "containerd, CNI bridge: `test/real-node/`), and the load goes to the Service's ClusterIP from a network",
    "namespace of the test's, routed by kube-proxy (iptables) to ready endpoints.",
    "",
    "| step | wall time |",
    "|---|---|",
    ...steps.map((step) => `| ${step.name} | ${fmt(step.endedAt - step.startedAt)} |`),
    "",
    ...lines.slice(steps.length).map((line) => `- ${line}`),
    "",
    "| request | n | p50 | p99 | max | failed |",
    "|---|---|---|---|---|---|",
    ...latencyRows,
    "",
    "Pods after each step (`name@node`):",
    "",
    ...Object.entries(summary.placements).map(([step, pods]) => `- ${step}: ${pods.join(", ")}`),
    "",
    `![request latency over time, rollout steps marked](${svgName})`,
    "",
  ].join("\n");
  return { lines, markdown };
}

/** Request latency over time (log scale), one dot per request, each step shaded and named. */
export function latencyChart(summary: DrillSummary): string {
  const width = 960;
  const height = 420;
  const left = 60;
  const right = 20;
  const top = 30;
  const bottom = 60;
  const samples = summary.load.samples;
  const end = Math.max(...samples.map((sample) => sample.at + sample.ms), 1);
  const x = (at: number) => left + (at / end) * (width - left - right);
  const minMs = 1;
  const maxMs = Math.max(...samples.map((sample) => sample.ms), 10);
  const y = (ms: number) =>
    top + (1 - Math.log10(Math.max(ms, minMs) / minMs) / Math.log10(maxMs / minMs)) * (height - top - bottom);
  const colours: Record<string, string> = {
    "POST run": "#1f77b4",
    "GET run": "#2ca02c",
    "SSE connect": "#9467bd",
  };
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  summary.steps.forEach((step, index) => {
    const x0 = x(step.startedAt);
    const x1 = x(step.endedAt);
    parts.push(
      `<rect x="${x0}" y="${top}" width="${Math.max(1, x1 - x0)}" height="${height - top - bottom}" fill="${index % 2 ? "#f3f3f3" : "#e8eef8"}"/>`,
      `<text x="${x0 + 2}" y="${top - 6 - (index % 2) * 10}" fill="#333">${step.name}</text>`,
    );
  });
  for (const ms of [1, 10, 100, 1000, 10000].filter((tick) => tick <= maxMs * 1.01)) {
    parts.push(
      `<line x1="${left}" x2="${width - right}" y1="${y(ms)}" y2="${y(ms)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y(ms) + 4}" text-anchor="end">${fmt(ms)}</text>`,
    );
  }
  for (const sample of samples) {
    const failed = isFailure(sample);
    parts.push(
      `<circle cx="${x(sample.at).toFixed(1)}" cy="${y(sample.ms).toFixed(1)}" r="${failed ? 4 : 1.5}" fill="${failed ? "red" : (colours[sample.kind] ?? "black")}" fill-opacity="0.6"/>`,
    );
  }
  Object.entries(colours).forEach(([kind, colour], index) => {
    parts.push(
      `<circle cx="${left + index * 130 + 6}" cy="${height - 20}" r="4" fill="${colour}"/>`,
      `<text x="${left + index * 130 + 14}" y="${height - 16}">${kind}</text>`,
    );
  });
  parts.push(
    `<text x="${left + 3 * 130 + 14}" y="${height - 16}">red: failed request</text>`,
    `<text x="${width - right}" y="${height - 36}" text-anchor="end">time since the load started: ${fmt(end)}</text>`,
    "</svg>",
  );
  return parts.join("\n");
}
