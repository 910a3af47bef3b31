import { Hono } from "hono";
import type pg from "pg";
import { log } from "../log.js";
import {
  liveExecutors,
  queueDepth,
  registry,
  runsByStatus,
  strandedRuns,
  versionQueueDepth,
} from "../metrics.js";
import { readLiveExecutors, readQueueStats, readRunsByStatus } from "../runs/queue-stats.js";
import type { Readiness } from "./readiness.js";

/** /healthz, /readyz and /metrics: served by every role on its own port (kubelet probes pods directly). */
export function operationsRoutes(readiness: Readiness, pool: pg.Pool, executorTimeoutMs: number): Hono {
  const routes = new Hono();

  routes.get("/healthz", (c) => c.json({ status: "ok" }));

  routes.get("/readyz", async (c) => {
    const { ready, reason } = await readiness.check();
    return ready ? c.json({ status: "ready" }) : c.json({ status: "not_ready", reason }, 503);
  });

  routes.get("/metrics", async (c) => {
    await refreshDatabaseGauges(pool, executorTimeoutMs);
    return c.text(await registry.metrics(), 200, { "Content-Type": registry.contentType });
  });

  return routes;
}

/** Gauges read from Postgres at scrape time; a failed read keeps the previous values and is logged. */
async function refreshDatabaseGauges(pool: pg.Pool, executorTimeoutMs: number): Promise<void> {
  try {
    const [queues, executors, runs] = await Promise.all([
      readQueueStats(pool, executorTimeoutMs),
      readLiveExecutors(pool, executorTimeoutMs),
      readRunsByStatus(pool),
    ]);
    for (const queue of queues) {
      queueDepth.set({ queue: queue.name, status: "ENQUEUED" }, queue.enqueued);
      queueDepth.set({ queue: queue.name, status: "PENDING" }, queue.pending);
    }
    liveExecutors.reset();
    for (const role of ["all", "api", "worker"]) liveExecutors.set({ role }, executors[role] ?? 0);
    versionQueueDepth.reset();
    strandedRuns.reset();
    const stranded: Record<string, number> = {};
    for (const { name: queue, versions } of queues)
      for (const entry of versions) {
        versionQueueDepth.set({ queue, version: entry.version, status: "ENQUEUED" }, entry.enqueued);
        versionQueueDepth.set({ queue, version: entry.version, status: "PENDING" }, entry.pending);
        stranded[entry.version] = (stranded[entry.version] ?? 0) + entry.stranded;
      }
    for (const [version, count] of Object.entries(stranded)) strandedRuns.set({ version }, count);
    runsByStatus.reset();
    for (const [status, count] of Object.entries(runs)) runsByStatus.set({ status }, count);
  } catch (error) {
    log.warn({ err: (error as Error).message }, "metrics: could not read queue state from Postgres");
  }
}
