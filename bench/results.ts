import type { EngineTimings } from "./engine.js";
import type { BusyCostPoint, IdleCostResult } from "./fleet-cost.js";
import type { HeadlineFigure } from "./headline.js";
import type { IsolationResult } from "./isolation.js";
import type { OpenStreamsResult } from "./open-streams.js";
import type { PollingResult } from "./polling.js";
import type { Summary } from "./stats.js";

/** Everything one repeat of the benchmark measures (the engine timings are measured once, separately). */
export interface Measurement {
  baselines: { postgresCommitsPerSecond: number; postgresConnections: number; natsLatencyMs: Summary };
  /** mesh as shipped: the queue wake-up on, queues polling at the default (safety-net) interval. */
  dispatch: {
    pollMs: number;
    /** Enqueue (api) → first instruction of the workflow body (worker), light load. */
    toBodyMs: Summary;
    lightLoadMs: Summary;
    throughputRunsPerSecond: { oneWorker: number; twoWorkers: number };
    throughputToCommitRate: { oneWorker: number; twoWorkers: number };
  };
  streaming: {
    latencyMs: Summary;
    /** Worker publish (JetStream) → a plain subscriber: the share of the latency spent before the api. */
    busHopMs: Summary;
    chunksPerSecond: number;
    p50ToRawNats: number;
    p99ToRawNats: number;
  };
  isolation: {
    /** How each topology was pinned (taskset CPU lists), so the CPU budgets can be compared. */
    cpus: { all: string; splitApi: string; splitWorker: string };
    all: IsolationResult;
    split: IsolationResult;
    loadedToIdleP99: { all: { get: number; post: number }; split: { get: number; post: number } };
    allToSplitLoadedP99: { get: number; post: number };
  };
  polling: PollingResult[];
  /** Postgres cost of an idle fleet (1 api + N workers): as shipped, and polling alone at several intervals. */
  idleCost: IdleCostResult;
  /** Postgres transactions and NATS messages per completed run of K checkpoints. */
  busyCost: BusyCostPoint[];
  /** One api process holding N SSE clients on running runs. */
  openStreams: OpenStreamsResult;
  /** mesh with the queue wake-up off (MESH_QUEUE_WAKE=false): polling alone, at that setting's default. */
  wakeOff: { pollMs: number; toBodyMs: Summary; throughputRunsPerSecond: number };
  /** Runs/s one api accepts with nothing dequeuing: the wake-up's trigger on every enqueue, and without. */
  enqueueRunsPerSecond: { wakeOn: number; wakeOff: number };
}

export interface BenchResults {
  quick: boolean;
  machine: { cpus: number; node: string };
  startedAt: string;
  durationSeconds: number;
  /** Every repeat in full; the report's detail tables show the first. */
  repeats: Measurement[];
  /** The headline figures: median, min and max over the repeats. */
  headline: HeadlineFigure[];
  /** Real-engine wall times of the dev stack's shape (its own repeats: median of the cycles). */
  engine: EngineTimings;
  /** The prod stack's worker ceiling, for what the idle slope implies. */
  prodWorkerMaxReplicas: number;
  targets: Array<{ name: string; target: string; measured: string; met: boolean }>;
}
