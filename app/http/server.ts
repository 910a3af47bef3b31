import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Duplex } from "node:stream";
import { getRequestListener, RequestError } from "@hono/node-server";
import { log } from "../log.js";

const json = (status: number, code: string, message: string) =>
  new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: { "content-type": "application/json" },
  });

/**
 * Requests that cannot even become a fetch Request (a GET with a body, a broken URL) fail before Hono
 * sees them; the adapter would answer a bare 400. This keeps them JSON errors like every other answer.
 */
function adapterError(error: unknown): Response {
  if (error instanceof RequestError) return json(400, "bad_request", "malformed HTTP request");
  log.error({ err: error }, "request failed in the HTTP adapter");
  return json(500, "internal", "internal error");
}

/** Methods whose requests mesh never reads a body from. */
const BODYLESS_METHODS = new Set(["GET", "HEAD", "DELETE", "OPTIONS"]);

function hasBody(request: IncomingMessage): boolean {
  return (
    Number(request.headers["content-length"] ?? 0) > 0 || request.headers["transfer-encoding"] !== undefined
  );
}

/**
 * Bytes that are not HTTP (an unframed body, a broken request line, oversized headers) never reach
 * the app; Node would answer a bare 400. The answer stays a JSON error, and the connection closes.
 */
function answerProtocolError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    error.code === "HPE_HEADER_OVERFLOW" ? 431 : error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
  const reason =
    status === 431 ? "Request Header Fields Too Large" : status === 408 ? "Request Timeout" : "Bad Request";
  const body = JSON.stringify({
    error: { code: "malformed_http", message: `malformed HTTP request (${error.code ?? "parse error"})` },
  });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export interface HttpLimits {
  /** A client must send its request headers within this (slowloris on headers). */
  headersTimeoutMs: number;
  /** ... and its whole request, body included, within this. Responses (SSE streams) are not limited. */
  requestTimeoutMs: number;
  /** Idle keep-alive connections close after this: above a load balancer's idle timeout (ALB: 60 s). */
  keepAliveTimeoutMs: number;
  /** Open connections at most; more are refused at accept. */
  maxConnections: number;
}

/** Serves a Hono app on PORT (and MESH_LISTEN_ADDRESS) with node:http, with limits against slow clients; resolves once listening. */
export function startHttpServer(
  app: { fetch: (request: Request) => Response | Promise<Response> },
  listen: { port: number; address?: string },
  limits: HttpLimits,
): Promise<Server> {
  const listener = getRequestListener(app.fetch, { errorHandler: adapterError });
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node checks the two timeouts above on this period (default 30 s, which would let a slow client
      // overstay them by up to that much).
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs / 2),
    },
    (request, response) => {
      // The fetch adapter answers a bare 400 to a GET or DELETE whose body nobody reads; refuse it
      // here with a JSON error instead (such a body has no meaning in this API).
      if (BODYLESS_METHODS.has(request.method ?? "") && hasBody(request)) {
        const body = JSON.stringify({
          error: { code: "unexpected_body", message: `${request.method} requests must not carry a body` },
        });
        response.writeHead(400, {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        });
        response.end(body);
        request.resume();
        return;
      }
      void listener(request, response);
    },
  );
  server.maxConnections = limits.maxConnections;
  server.on("clientError", answerProtocolError);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    // No address: every interface, as in a container. An address: that one only (a pod's IP on a host
    // shared with other pods, as the test suite's process node runs them).
    server.listen(listen.port, listen.address, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
