import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type pg from "pg";
import { log } from "../log.js";
import {
  liveExecutors,
  oldestEnqueuedAge,
  queueDepth,
  queueListeners,
  registry,
  runsByStatus,
  strandedRuns,
  versionQueueDepth,
} from "../metrics.js";
import {
  readLiveExecutors,
  readOldestEnqueuedAges,
  readQueueStats,
  readRunsByStatus,
} from "../runs/queue-stats.js";
import { errorAnswers } from "./api-schemas.js";
import type { Readiness as ReadinessCheck } from "./readiness.js";

const tags = ["health"];
const Health = z.object({ status: z.string().openapi({ example: "ok" }) }).openapi("Health");
const Readiness = z
  .object({
    status: z.enum(["ready", "not_ready"]),
    reason: z.string().optional().openapi({ example: "draining" }),
  })
  .openapi("Readiness");

/** A GET with a body, or bytes that are not HTTP, are refused before any route (app/http/server.ts). */
const malformed = errorAnswers({ 400: "Malformed request" });

const healthRoute = createRoute({
  operationId: "health",
  method: "get",
  path: "/healthz",
  tags,
  security: [],
  summary: "Alive (every role)",
  responses: {
    200: { description: "Alive", content: { "application/json": { schema: Health } } },
    ...malformed,
  },
});

const readyRoute = createRoute({
  operationId: "ready",
  method: "get",
  path: "/readyz",
  tags,
  security: [],
  summary: "Ready for traffic (every role): 503 while starting, draining or without Postgres",
  responses: {
    200: { description: "Ready", content: { "application/json": { schema: Readiness } } },
    503: { description: "Not ready", content: { "application/json": { schema: Readiness } } },
    ...malformed,
  },
});

const metricsRoute = createRoute({
  operationId: "metrics",
  method: "get",
  path: "/metrics",
  tags,
  security: [],
  summary: "Prometheus metrics (every role)",
  responses: {
    200: { description: "Prometheus text exposition", content: { "text/plain": { schema: z.string() } } },
    ...malformed,
  },
});

/** /healthz, /readyz and /metrics: served by every role on its own port (kubelet probes pods directly). */
export function operationsRoutes(
  readiness: ReadinessCheck,
  pool: pg.Pool,
  executorTimeoutMs: number,
): OpenAPIHono {
  const routes = new OpenAPIHono();

  routes.openapi(healthRoute, (c) => c.json({ status: "ok" }, 200));

  routes.openapi(readyRoute, async (c) => {
    const { ready, reason } = await readiness.check();
    return ready
      ? c.json({ status: "ready" as const }, 200)
      : c.json({ status: "not_ready" as const, reason }, 503);
  });

  routes.openapi(metricsRoute, async (c) => {
    await refreshDatabaseGauges(pool, executorTimeoutMs);
    return c.text(await registry.metrics(), 200, { "Content-Type": registry.contentType });
  });

  return routes;
}

/** Gauges read from Postgres at scrape time; a failed read keeps the previous values and is logged. */
async function refreshDatabaseGauges(pool: pg.Pool, executorTimeoutMs: number): Promise<void> {
  try {
    const [queues, executors, runs, ages] = await Promise.all([
      readQueueStats(pool, executorTimeoutMs),
      readLiveExecutors(pool, executorTimeoutMs),
      readRunsByStatus(pool),
      readOldestEnqueuedAges(pool),
    ]);
    for (const queue of queues) {
      queueDepth.set({ queue: queue.name, status: "ENQUEUED" }, queue.enqueued);
      queueDepth.set({ queue: queue.name, status: "PENDING" }, queue.pending);
      queueListeners.set({ queue: queue.name }, queue.listeners);
      oldestEnqueuedAge.set({ queue: queue.name }, ages[queue.name] ?? 0);
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
