import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { log } from "../log.js";
import { authFailures } from "../metrics.js";
import { errorResponse } from "./api-error.js";
import type { StreamTickets } from "./stream-tickets.js";

const digest = (value: string) => createHash("sha256").update(value).digest();

/** At most one "refused" log line per window; the lines in between are counted into the next one. */
const LOG_WINDOW_MS = 10_000;

/** GET /v1/runs/{runId}/stream: the one request a stream ticket may authorize instead of the token. */
const STREAM_PATH = /^\/v1\/runs\/([^/]+)\/stream$/;

/**
 * Requires `Authorization: Bearer <token>`; compares digests in constant time. A run's stream also opens
 * with a valid stream ticket for that run (`?ticket=`, handed out by an authenticated call). Every refusal is counted
 * (mesh_auth_failures_total) and logged at most once per window with how many were suppressed — with the
 * path and client address, never any token material.
 */
export function bearerAuth(token: string, tickets: StreamTickets): MiddlewareHandler {
  const expected = digest(token);
  let lastLoggedAt = 0;
  let suppressed = 0;
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    const ticket = c.req.method === "GET" && !match ? c.req.query("ticket") : undefined;
    const streamRunId = ticket === undefined ? undefined : STREAM_PATH.exec(c.req.path)?.[1];
    if (ticket !== undefined && streamRunId !== undefined) {
      if (tickets.verify(decodeURIComponent(streamRunId), ticket)) return next();
    }
    if (!match?.[1] || !timingSafeEqual(digest(match[1]), expected)) {
      const reason = ticket !== undefined ? "invalid_ticket" : match?.[1] ? "invalid_token" : "missing_token";
      authFailures.inc({ reason });
      const now = Date.now();
      if (now - lastLoggedAt >= LOG_WINDOW_MS) {
        log.warn(
          { reason, method: c.req.method, path: c.req.path, client: clientAddress(c.env), suppressed },
          "refused a /v1 request without a valid bearer token",
        );
        lastLoggedAt = now;
        suppressed = 0;
      } else {
        suppressed++;
      }
      c.header("WWW-Authenticate", 'Bearer realm="mesh"');
      return errorResponse(c, 401, "unauthorized", "missing or invalid bearer token");
    }
    await next();
  };
}

/** The peer address from @hono/node-server's bindings, when there are any. */
function clientAddress(env: unknown): string | undefined {
  return (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket
    ?.remoteAddress;
}
