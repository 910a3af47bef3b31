import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { httpRequests } from "../metrics.js";

/**
 * Counts every answered request in mesh_http_requests_total by its route's pattern (`/v1/runs/:runId`,
 * never the raw path: a label per run ID would grow without bound). Middleware match every method
 * ("ALL"), so the last route of a specific method is the handler that answered; none is "unmatched".
 */
export function countRequests(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const handler = matchedRoutes(c)
      .filter((route) => route.method !== "ALL")
      .at(-1);
    httpRequests.inc({
      method: c.req.method,
      route: handler?.path ?? "unmatched",
      status: String(c.res.status),
    });
  };
}
