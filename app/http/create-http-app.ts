import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type pg from "pg";
import { log } from "../log.js";
import type { DispatchRole } from "../role.js";
import { servesApi } from "../role.js";
import type { RunStreamBus } from "../stream/run-stream-bus.js";
import { ApiError, errorResponse } from "./api-error.js";
import { errorAnswers } from "./api-schemas.js";
import { automationsRoutes } from "./automations-routes.js";
import { bearerAuth } from "./bearer-auth.js";
import { consoleRoutes } from "./console-routes.js";
import type { OpenStreams } from "./open-streams.js";
import { openApiDocument } from "./openapi-document.js";
import { operationsRoutes } from "./operations-routes.js";
import { queuesRoutes } from "./queues-routes.js";
import type { Readiness } from "./readiness.js";
import { countRequests } from "./request-metrics.js";
import { runsRoutes } from "./runs-routes.js";
import type { SseWriterOptions } from "./sse-writer.js";
import { StreamTickets } from "./stream-tickets.js";

export interface HttpAppOptions {
  role: DispatchRole;
  readiness: Readiness;
  /** The SSE streams being served, ended on drain so clients resume elsewhere. */
  openStreams: OpenStreams;
  pool: pg.Pool;
  bus: RunStreamBus;
  apiToken?: string;
  /** Server-Sent Events timing (retry hint, keep-alive period). */
  sse?: SseWriterOptions;
  /** Serve the run console at /console. */
  console?: boolean;
  executorTimeoutMs: number;
  /** The workflow version new runs are stamped with (undefined: the process's own). */
  dispatchVersion?: () => string | undefined;
}

const openApiRoute = createRoute({
  operationId: "openApiDocument",
  method: "get",
  path: "/openapi.json",
  tags: ["health"],
  security: [],
  summary: "This document (roles api and all)",
  responses: {
    200: {
      description: "The OpenAPI 3.1 document",
      content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
    },
    ...errorAnswers({ 400: "Malformed request", 404: "Not served here (a worker serves no API)" }),
  },
});

/** Largest request body accepted: a 32 KiB input is at most 128 KiB of UTF-8, plus JSON framing. */
const MAX_BODY_BYTES = 256 * 1024;

/**
 * The HTTP surface of a role: every role serves /healthz, /readyz and /metrics; `api` and `all` add
 * the /v1 API. A worker answers 404 on every /v1 path, so it can never serve API traffic by accident.
 */
export function createHttpApp(options: HttpAppOptions): OpenAPIHono {
  const app = new OpenAPIHono();
  app.use(countRequests());
  app.route("/", operationsRoutes(options.readiness, options.pool, options.executorTimeoutMs));

  if (servesApi(options.role)) {
    const tickets = new StreamTickets(options.apiToken);
    const v1 = new OpenAPIHono();
    v1.use(
      bodyLimit({
        maxSize: MAX_BODY_BYTES,
        onError: (c) =>
          errorResponse(c, 413, "body_too_large", `request body exceeds ${MAX_BODY_BYTES} bytes`),
      }),
    );
    if (options.apiToken) v1.use(bearerAuth(options.apiToken, tickets));
    v1.route(
      "/",
      runsRoutes({
        bus: options.bus,
        openStreams: options.openStreams,
        tickets,
        sse: options.sse,
        dispatchVersion: options.dispatchVersion ?? (() => undefined),
      }),
    );
    v1.route("/", automationsRoutes());
    v1.route("/", queuesRoutes(options.pool, options.executorTimeoutMs));
    app.route("/v1", v1);
    if (options.console) app.route("/", consoleRoutes());
    // The contract, generated from the routes (this one included) at the first request: public like
    // /healthz, it holds no data.
    let document: ReturnType<typeof openApiDocument> | undefined;
    app.openapi(openApiRoute, (c) => {
      document ??= openApiDocument(app);
      return c.json(document as unknown as Record<string, unknown>, 200);
    });
  }

  app.notFound((c) => errorResponse(c, 404, "not_found", `no route for ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => {
    if (error instanceof ApiError) return errorResponse(c, error.status, error.code, error.message);
    if (error instanceof HTTPException) return errorResponse(c, error.status, "http_error", error.message);
    if (isClientAbort(error)) {
      // The client went away mid-body: nobody is left to answer, and nothing went wrong here.
      log.info({ path: c.req.path, method: c.req.method }, "client aborted the request");
      return errorResponse(c, 400, "aborted", "request aborted by the client");
    }
    log.error({ err: error, path: c.req.path, method: c.req.method }, "request failed");
    return errorResponse(c, 500, "internal", "internal error");
  });
  return app;
}

function isClientAbort(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE" || error.name === "AbortError";
}

/**
 * The OpenAPI document roles api and all serve at /openapi.json, built from the routes without starting
 * anything (for docs/openapi.json and the contract tests): no handler runs, so no dependency is used.
 */
export async function describeHttpApi(): Promise<Record<string, unknown>> {
  const app = createHttpApp({
    role: "api",
    readiness: {} as Readiness,
    openStreams: {} as OpenStreams,
    pool: {} as pg.Pool,
    bus: {} as RunStreamBus,
    executorTimeoutMs: 30_000,
  });
  return (await (await app.request("/openapi.json")).json()) as Record<string, unknown>;
}
