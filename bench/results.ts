import type { EngineTimings } from "./engine.js";
import type { BusyCostPoint, IdleCostResult } from "./fleet-cost.js";
import type { IsolationResult } from "./isolation.js";
import type { PollingResult } from "./polling.js";
import type { Summary } from "./stats.js";

export interface BenchResults {
  quick: boolean;
  machine: { cpus: number; node: string };
  startedAt: string;
  durationSeconds: number;
  baselines: { postgresCommitsPerSecond: number; postgresConnections: number; natsLatencyMs: Summary };
  dispatch: {
    pollMs: number;
    /** Enqueue (api) → first instruction of the workflow body (worker), light load; absent in older reports. */
    toBodyMs?: Summary;
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
    all: IsolationResult;
    split: IsolationResult;
    loadedToIdleP99: { all: { get: number; post: number }; split: { get: number; post: number } };
    allToSplitLoadedP99: { get: number; post: number };
  };
  polling: PollingResult[];
  /** Real-engine wall times of the dev stack's shape; absent in reports from before it was measured. */
  engine?: EngineTimings;
  /** Postgres cost of an idle fleet (1 api + N workers) per poll interval; absent in older reports. */
  idleCost?: IdleCostResult;
  /** Postgres transactions and NATS messages per completed run of K checkpoints; absent in older reports. */
  busyCost?: BusyCostPoint[];
  /** The prod stack's worker ceiling, for what the idle slope implies. */
  prodWorkerMaxReplicas?: number;
  targets: Array<{ name: string; target: string; measured: string; met: boolean }>;
}
