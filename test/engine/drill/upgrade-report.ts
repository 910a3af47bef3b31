import type { DrillStep } from "./drill-report.js";
import { latencyChart } from "./drill-report.js";
import type { SteadyLoad } from "./steady-load.js";

/** What the upgrade drill measured (test/engine/upgrade-drill.test.ts). */
export interface UpgradeSummary {
  steps: DrillStep[];
  load: SteadyLoad;
  placements: Record<string, string[]>;
  /** Runs in flight at the moment of the upgrade, by kind. */
  kinds: {
    queued: number;
    queuedMovedToV2: number;
    midWay: number;
    orphaned: number;
    handedBack: number;
    finishedByDrainer: number;
  };
  runsAccepted: number;
  runsSucceeded: number;
  strandedAtEnd: number;
  /** From the start of the upgrade's `pulumi up` until v1 had no run left. */
  v1DrainMs: number;
  upgradeUpMs: number;
  /** Enqueue → first step over every run of the drill, and the longest pause of dispatch while runs waited. */
  dispatch: {
    n: number;
    p50: number;
    p99: number;
    maxWait: number;
    /** The longest time runs waited while a ready worker had a free slot (DispatchSampler). */
    longestPause: { ms: number; atMs: number };
    samples: number;
  };
  dispatchPauseBoundMs: number;
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);

/** The console lines, the Markdown page and the latency chart of an upgrade drill run. */
export function upgradeReport(summary: UpgradeSummary): { lines: string[]; markdown: string; svg: string } {
  const { load, kinds, dispatch } = summary;
  const lines = [
    ...summary.steps.map((step) => `step ${step.name}: ${fmt(step.endedAt - step.startedAt)}`),
    `requests: ${load.samples.length}, failed: ${load.failures().length}`,
    `runs accepted: ${summary.runsAccepted}, SUCCESS with their twin's output: ${summary.runsSucceeded}, stranded at the end: ${summary.strandedAtEnd}`,
    `in flight at the upgrade: ${kinds.queued} queued at v1 (${kinds.queuedMovedToV2} moved to v2 and run there), ${kinds.midWay} with v1 steps: ${kinds.orphaned} orphaned by the kill -9 and ${kinds.handedBack} handed back by a drained v1 worker, each finished on v1 code elsewhere; ${kinds.finishedByDrainer} finished by v1's draining workers`,
    `v1 drained ${fmt(summary.v1DrainMs)} after the upgrade's pulumi up started (the up itself: ${fmt(summary.upgradeUpMs)})`,
    `enqueue → first step over ${dispatch.n} runs: p50 ${fmt(dispatch.p50)}, p99 ${fmt(dispatch.p99)}, max ${fmt(dispatch.maxWait)} (queueing behind busy workers included)`,
    `longest dispatch pause (a version's runs waiting while a ready worker of that version had a free slot, sampled every 500 ms, ${dispatch.samples} samples): ${fmt(dispatch.longestPause.ms)}, ${fmt(dispatch.longestPause.atMs)} into the load (bound ${fmt(summary.dispatchPauseBoundMs)})`,
  ];
  const svg = latencyChart({
    steps: summary.steps,
    load,
    runsSucceeded: summary.runsSucceeded,
    streamsCut: 0,
    evictionsRefusedByBudget: 0,
    placements: summary.placements,
  });
  const markdown = [
    "# Upgrade drill: a workflow-version upgrade under load, on real nodes",
    "",
    "Written by `test/engine/upgrade-drill.test.ts` (`MESH_DRILL_DOCS=1` writes this page; every run prints",
    "the same summary). Two images of one tree: v1 (`mesh-wf-1`, a checkpoint every 4 tokens) and v2",
    "(`mesh-wf-2`, every 5), so a v1 run finished by v2 code would have a wrong output. The real Pulumi",
    "engine drives a real kube-apiserver, controller-manager and scheduler; the pods run as containers on",
    "two real nodes (`test/real-node/`); the load goes to the Service's ClusterIP, routed by kube-proxy.",
    "",
    "| step | wall time |",
    "|---|---|",
    ...summary.steps.map((step) => `| ${step.name} | ${fmt(step.endedAt - step.startedAt)} |`),
    "",
    ...lines.slice(summary.steps.length).map((line) => `- ${line}`),
    "",
    "Pods after each step (`name@node`):",
    "",
    ...Object.entries(summary.placements).map(([step, pods]) => `- ${step}: ${pods.join(", ")}`),
    "",
    "![request latency over time, upgrade steps marked](upgrade-drill.svg)",
    "",
  ].join("\n");
  return { lines, markdown, svg };
}
