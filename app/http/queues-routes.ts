import { Hono } from "hono";
import type pg from "pg";
import { readQueueStats } from "../runs/queue-stats.js";

export function queuesRoutes(pool: pg.Pool, executorTimeoutMs: number): Hono {
  const routes = new Hono();
  routes.get("/queues", async (c) => c.json({ queues: await readQueueStats(pool, executorTimeoutMs) }));
  return routes;
}
