import type { HttpBindings } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { log } from "../log.js";
import { streamChunks } from "../metrics.js";
import {
  cancelRun,
  enqueueRun,
  listRecentRuns,
  RunConflictError,
  readRun,
  readRunStatus,
} from "../runs/run-store.js";
import { isTerminal, type RunView, storedChunks } from "../runs/run-view.js";
import type { RunStreamBus } from "../stream/run-stream-bus.js";
import { tailRunStream } from "../stream/tail-run-stream.js";
import { ApiError } from "./api-error.js";
import {
  CreateRunBody,
  errorResponses,
  idParam,
  Run,
  RunCancelled,
  RunCreated,
  RunList,
  StreamTicket,
} from "./api-schemas.js";
import type { OpenStreams } from "./open-streams.js";
import { SseWriter, type SseWriterOptions } from "./sse-writer.js";
import type { StreamTickets } from "./stream-tickets.js";
import { requireJsonBody, validationHook } from "./validation.js";

/**
 * The id of a stream's `done` event. A client's reconnect after it (Last-Event-ID: done) is answered 204,
 * which tells a spec EventSource to stop instead of reconnecting to a finished run forever.
 */
export const DONE_EVENT_ID = "done";

function runLinks(run: RunView) {
  return { self: `/v1/runs/${run.runId}`, stream: `/v1/runs/${run.runId}/stream` };
}

/** Where a reconnecting client is: after chunk `afterSeq`, or past `done`. */
type ResumePoint = { afterSeq: number } | "done";

/** Last-Event-ID (header, or `lastEventId` query for clients that cannot set headers). */
function resumePoint(header: string | undefined, query: string | undefined): ResumePoint {
  const raw = (header ?? query ?? "").trim();
  if (raw === "") return { afterSeq: 0 };
  if (raw === DONE_EVENT_ID) return "done";
  if (!/^\d{1,9}$/.test(raw))
    throw new ApiError(
      400,
      "invalid_last_event_id",
      `Last-Event-ID must be a chunk sequence number or "${DONE_EVENT_ID}"`,
    );
  return { afterSeq: Number(raw) };
}

const runIdParams = z.object({ runId: idParam("runId", "run-3f2a") });
const tags = ["runs"];

const createRunRoute = createRoute({
  operationId: "createRun",
  method: "post",
  path: "/threads/{threadId}/runs",
  tags,
  summary: "Start an agent run on a thread",
  description: "One run per thread executes at a time; later runs of the thread wait their turn.",
  middleware: [requireJsonBody] as const,
  request: {
    params: z.object({ threadId: idParam("threadId", "thread-1") }),
    body: { required: true, content: { "application/json": { schema: CreateRunBody } } },
  },
  responses: {
    202: {
      description: "Accepted (or the run this idempotency key already started)",
      content: { "application/json": { schema: RunCreated } },
    },
    ...errorResponses({
      400: "Invalid body or thread ID",
      409: "The idempotency key was used with another input",
      415: "The body is not JSON",
    }),
  },
});

const listRunsRoute = createRoute({
  operationId: "listRuns",
  method: "get",
  path: "/runs",
  tags,
  summary: "The most recent runs, newest first",
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ example: 20 }),
    }),
  },
  responses: {
    200: { description: "Runs", content: { "application/json": { schema: RunList } } },
    ...errorResponses({ 400: "Invalid limit" }),
  },
});

const getRunRoute = createRoute({
  operationId: "getRun",
  method: "get",
  path: "/runs/{runId}",
  tags,
  summary: "A run's status and, once finished, its output",
  request: { params: runIdParams },
  responses: {
    200: { description: "The run", content: { "application/json": { schema: Run } } },
    ...errorResponses({ 400: "Invalid run ID", 404: "No run with this ID" }),
  },
});

const cancelRunRoute = createRoute({
  operationId: "cancelRun",
  method: "post",
  path: "/runs/{runId}/cancel",
  tags,
  summary: "Cancel a run (a finished run is left as it is)",
  request: { params: runIdParams },
  responses: {
    202: {
      description: "Cancelled, or already finished",
      content: { "application/json": { schema: RunCancelled } },
    },
    ...errorResponses({ 400: "Invalid run ID", 404: "No run with this ID" }),
  },
});

const streamTicketRoute = createRoute({
  operationId: "createStreamTicket",
  method: "post",
  path: "/runs/{runId}/stream-ticket",
  tags,
  summary: "A short-lived URL for reading one run's stream without an Authorization header",
  description:
    "For a browser's EventSource, which cannot send headers. The ticket authorizes GET on this run's stream only, until it expires; it is not the API token.",
  request: { params: runIdParams },
  responses: {
    201: {
      description: "The stream URL with its ticket",
      content: { "application/json": { schema: StreamTicket } },
    },
    ...errorResponses({ 400: "Invalid run ID", 404: "No run with this ID" }),
  },
});

const streamRoute = createRoute({
  operationId: "streamRun",
  method: "get",
  path: "/runs/{runId}/stream",
  tags,
  summary: "The run's output as Server-Sent Events",
  description: [
    "`event: chunk` (`id: <seq>`, data `{ seq, text }`) for each piece of output in order, then `event: done`",
    `(\`id: ${DONE_EVENT_ID}\`, data \`{ status, output, error?, chunkCount, source? }\`). \`retry:\` gives the reconnection delay;`,
    "comment lines keep an idle stream open. A reconnect with `Last-Event-ID` resumes after that chunk; one after",
    "`done` (or past the last chunk of a finished run) is answered 204, so an EventSource stops.",
  ].join(" "),
  request: {
    params: runIdParams,
    headers: z.object({
      "last-event-id": z
        .string()
        .optional()
        .openapi({ description: `A chunk seq to resume after, or "${DONE_EVENT_ID}"` }),
    }),
    query: z.object({
      lastEventId: z
        .string()
        .optional()
        .openapi({ description: "Last-Event-ID, for clients that cannot set headers" }),
      ticket: z
        .string()
        .optional()
        .openapi({ description: "A stream ticket (POST .../stream-ticket) instead of the bearer token" }),
    }),
  },
  responses: {
    200: { description: "The event stream", content: { "text/event-stream": { schema: z.string() } } },
    204: { description: "The client has the whole stream already: nothing more will come" },
    ...errorResponses({ 400: "Invalid run ID or Last-Event-ID", 404: "No run with this ID" }),
  },
});

export interface RunsRoutesOptions {
  bus: RunStreamBus;
  /** The SSE streams being served, ended on drain. */
  openStreams: OpenStreams;
  tickets: StreamTickets;
  sse?: SseWriterOptions;
  /** The workflow version new runs are stamped with (undefined: the process's own). */
  dispatchVersion: () => string | undefined;
}

export function runsRoutes({
  bus,
  openStreams,
  tickets,
  sse: sseOptions,
  dispatchVersion,
}: RunsRoutesOptions): OpenAPIHono<{ Bindings: HttpBindings }> {
  const routes = new OpenAPIHono<{ Bindings: HttpBindings }>({ defaultHook: validationHook });

  routes.openapi(createRunRoute, async (c) => {
    const { threadId } = c.req.valid("param");
    const body = c.req.valid("json");
    try {
      const run = await enqueueRun({
        threadId,
        input: body.input,
        idempotencyKey: body.idempotencyKey,
        applicationVersion: dispatchVersion(),
      });
      return c.json(
        { runId: run.runId, threadId: run.threadId, status: run.status, links: runLinks(run) },
        202,
      );
    } catch (error) {
      if (error instanceof RunConflictError) throw new ApiError(409, "idempotency_conflict", error.message);
      throw error;
    }
  });

  routes.openapi(listRunsRoute, async (c) => {
    const runs = await listRecentRuns(c.req.valid("query").limit);
    return c.json({ runs: runs.map(({ input: _input, ...view }) => view) }, 200);
  });

  routes.openapi(getRunRoute, async (c) => {
    const run = await readRun(c.req.valid("param").runId);
    if (!run) throw new ApiError(404, "run_not_found", "no run with this ID");
    const { input: _input, ...view } = run;
    return c.json(view, 200);
  });

  routes.openapi(cancelRunRoute, async (c) => {
    const run = await cancelRun(c.req.valid("param").runId);
    if (!run) throw new ApiError(404, "run_not_found", "no run with this ID");
    return c.json({ runId: run.runId, status: run.status }, 202);
  });

  routes.openapi(streamTicketRoute, async (c) => {
    const { runId } = c.req.valid("param");
    if (!(await readRunStatus(runId))) throw new ApiError(404, "run_not_found", "no run with this ID");
    const { ticket, expiresAt } = tickets.issue(runId);
    return c.json(
      {
        stream: `/v1/runs/${encodeURIComponent(runId)}/stream?ticket=${encodeURIComponent(ticket)}`,
        expiresAt: expiresAt.toISOString(),
      },
      201,
    );
  });

  routes.openapi(streamRoute, async (c) => {
    const { runId } = c.req.valid("param");
    const resume = resumePoint(c.req.header("last-event-id"), c.req.query("lastEventId"));
    const status = await readRunStatus(runId);
    if (!status) throw new ApiError(404, "run_not_found", "no run with this ID");
    if (isTerminal(status.status)) {
      // The client had `done` (its id), or claims more chunks than the finished run has: nothing is left
      // to send, and 204 is how Server-Sent Events tell a client to stop reconnecting.
      const chunkCount = storedChunks(status)?.length;
      if (resume === "done" || (chunkCount !== undefined && resume.afterSeq > chunkCount))
        return c.body(null, 204);
    }
    if (resume === "done")
      throw new ApiError(
        400,
        "invalid_last_event_id",
        "Last-Event-ID is past the end of a run that has not finished",
      );

    const sse = new SseWriter(c.env.outgoing, sseOptions);
    const stream = openStreams.open();
    const controller = new AbortController();
    sse.onClose(() => controller.abort());
    stream.signal.addEventListener("abort", () => controller.abort(), { once: true });
    void (async () => {
      let endedWithDone = false;
      try {
        for await (const event of tailRunStream({
          runId,
          afterSeq: resume.afterSeq,
          bus,
          readStatus: readRunStatus,
          signal: controller.signal,
        })) {
          if (event.type === "chunk") {
            await sse.write({
              event: "chunk",
              id: String(event.seq),
              data: JSON.stringify({ seq: event.seq, text: event.text }),
            });
            streamChunks.inc({ direction: "delivered" });
          } else {
            const { type: _type, at: _at, ...done } = event;
            await sse.write({ event: "done", id: DONE_EVENT_ID, data: JSON.stringify(done) });
            endedWithDone = !sse.closed;
          }
        }
      } catch (error) {
        log.warn({ runId, err: (error as Error).message }, "stream ended by an error");
      } finally {
        // A stream ends without `done` only when the client left or the process drains (the client then
        // resumes elsewhere). Anything else is a bug: say so, with what is known.
        if (!endedWithDone && !controller.signal.aborted)
          log.error(
            { runId, closed: sse.closed, afterSeq: resume.afterSeq },
            "stream ended without done while its client was still connected",
          );
        stream.close();
        sse.end();
      }
    })();
    return RESPONSE_ALREADY_SENT as never;
  });

  return routes;
}
