import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Every Prometheus metric mesh exports, on one registry served at /metrics. */
export const registry = new Registry();

export const processInfo = new Gauge({
  name: "mesh_process_info",
  help: "Always 1; labels describe this process (dispatch role, workflow version, executor)",
  labelNames: ["role", "version", "executor"] as const,
  registers: [registry],
});

export const runsByStatus = new Gauge({
  name: "mesh_runs",
  help: "Agent runs in the system database by DBOS status (run queues only)",
  labelNames: ["status"] as const,
  registers: [registry],
});

export const queueDepth = new Gauge({
  name: "mesh_queue_depth",
  help: "Workflows waiting (ENQUEUED) or running (PENDING) per run queue",
  labelNames: ["queue", "status"] as const,
  registers: [registry],
});

export const liveExecutors = new Gauge({
  name: "mesh_live_executors",
  help: "Executors whose heartbeat is younger than MESH_EXECUTOR_TIMEOUT_MS, by role",
  labelNames: ["role"] as const,
  registers: [registry],
});

export const dispatchLatency = new Histogram({
  name: "mesh_dispatch_latency_seconds",
  help: "Time from enqueue to the start of a run on this executor",
  labelNames: ["queue"] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});

export const runsExecuted = new Counter({
  name: "mesh_runs_executed_total",
  help: "Agent runs finished on this executor, by outcome",
  labelNames: ["queue", "outcome"] as const,
  registers: [registry],
});

export const streamChunks = new Counter({
  name: "mesh_stream_chunks_total",
  help: "Stream chunks published by this process (workers) or delivered to SSE clients (api)",
  labelNames: ["direction"] as const,
  registers: [registry],
});

export const streamFallbacks = new Counter({
  name: "mesh_stream_fallbacks_total",
  help: "SSE streams answered from the stored run result because stream data was missing or NATS was down",
  labelNames: ["reason"] as const,
  registers: [registry],
});

export const reapedWorkflows = new Counter({
  name: "mesh_reaped_workflows_total",
  help: "PENDING workflows of dead executors put back on their queue by the reaper",
  registers: [registry],
});

export const authFailures = new Counter({
  name: "mesh_auth_failures_total",
  help: "Requests to /v1 refused with 401, by reason (missing or wrong bearer token)",
  labelNames: ["reason"] as const,
  registers: [registry],
});

export const versionQueueDepth = new Gauge({
  name: "mesh_version_queue_depth",
  help: "Runs waiting (ENQUEUED) or running (PENDING) per run queue and workflow version",
  labelNames: ["queue", "version", "status"] as const,
  registers: [registry],
});

export const strandedRuns = new Gauge({
  name: "mesh_stranded_runs",
  help: "Runs waiting at a workflow version no live executor runs (they never start until one does)",
  labelNames: ["version"] as const,
  registers: [registry],
});

export const movedRuns = new Counter({
  name: "mesh_version_moved_runs_total",
  help: "Version-free runs (no step recorded) moved to the dispatch version by this process",
  registers: [registry],
});

export const queueWakeups = new Counter({
  name: "mesh_queue_wakeups_total",
  help: "Postgres notifications that woke this process's queue dispatcher before its next poll",
  labelNames: ["queue"] as const,
  registers: [registry],
});

export const queueWakeListening = new Gauge({
  name: "mesh_queue_wake_listening",
  help: "1 while this process LISTENs for queue wake-ups; 0 when it dispatches by polling alone",
  registers: [registry],
});

export const queueListeners = new Gauge({
  name: "mesh_queue_listeners",
  help: "Live executors that dequeue each run queue (0 with runs waiting: nothing will start them)",
  labelNames: ["queue"] as const,
  registers: [registry],
});

export const oldestEnqueuedAge = new Gauge({
  name: "mesh_oldest_enqueued_run_age_seconds",
  help: "Age of the oldest run waiting (ENQUEUED) on each run queue; 0 when none waits",
  labelNames: ["queue"] as const,
  registers: [registry],
});

export const podDeletionCost = new Gauge({
  name: "mesh_pod_deletion_cost",
  help: "The pod-deletion-cost this worker last wrote on its pod (its runs in flight; MESH_POD_DELETION_COST)",
  registers: [registry],
});

export const httpRequests = new Counter({
  name: "mesh_http_requests_total",
  help: "HTTP requests this process answered, by method, route (the route's pattern, or 'unmatched') and status",
  labelNames: ["method", "route", "status"] as const,
  registers: [registry],
});
