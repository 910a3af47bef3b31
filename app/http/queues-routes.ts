import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type pg from "pg";
import { readExecutors, readQueueStats } from "../runs/queue-stats.js";
import { ExecutorList, errorResponses, QueueList } from "./api-schemas.js";
import { validationHook } from "./validation.js";

const tags = ["operations"];

const queuesRoute = createRoute({
  operationId: "listQueues",
  method: "get",
  path: "/queues",
  tags,
  summary: "Per run queue: waiting and running runs, live listeners, and the same per workflow version",
  responses: {
    200: { description: "Queues", content: { "application/json": { schema: QueueList } } },
    ...errorResponses({}),
  },
});

const executorsRoute = createRoute({
  operationId: "listExecutors",
  method: "get",
  path: "/executors",
  tags,
  summary: "The live executors (processes with a fresh heartbeat): role, workflow version, queues",
  responses: {
    200: { description: "Executors", content: { "application/json": { schema: ExecutorList } } },
    ...errorResponses({}),
  },
});

export function queuesRoutes(pool: pg.Pool, executorTimeoutMs: number): OpenAPIHono {
  const routes = new OpenAPIHono({ defaultHook: validationHook });
  routes.openapi(queuesRoute, async (c) =>
    c.json({ queues: await readQueueStats(pool, executorTimeoutMs) }, 200),
  );
  routes.openapi(executorsRoute, async (c) =>
    c.json({ executors: await readExecutors(pool, executorTimeoutMs) }, 200),
  );
  return routes;
}
