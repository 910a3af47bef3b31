import type { HttpBindings } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { Hono } from "hono";
import { z } from "zod";
import { log } from "../log.js";
import { streamChunks } from "../metrics.js";
import { cancelRun, enqueueRun, RunConflictError, readRun, readRunStatus } from "../runs/run-store.js";
import type { RunView } from "../runs/run-view.js";
import type { RunStreamBus } from "../stream/run-stream-bus.js";
import { tailRunStream } from "../stream/tail-run-stream.js";
import { ApiError } from "./api-error.js";
import type { OpenStreams } from "./open-streams.js";
import { SseWriter } from "./sse-writer.js";
import { parseJsonBody, pathId } from "./validation.js";

const MAX_INPUT_CHARS = 32_768;

const createRunBody = z.strictObject({
  input: z
    .string()
    .min(1, "must not be empty")
    .max(MAX_INPUT_CHARS, `must be at most ${MAX_INPUT_CHARS} characters`),
  idempotencyKey: z.string().min(1).max(200).optional(),
});

function runLinks(run: RunView) {
  return { self: `/v1/runs/${run.runId}`, stream: `/v1/runs/${run.runId}/stream` };
}

/** Last-Event-ID (header, or `lastEventId` query for clients that cannot set headers) as a chunk seq. */
function resumeAfter(header: string | undefined, query: string | undefined): number {
  const raw = (header ?? query ?? "").trim();
  if (raw === "") return 0;
  if (!/^\d{1,9}$/.test(raw))
    throw new ApiError(400, "invalid_last_event_id", "Last-Event-ID must be a chunk sequence number");
  return Number(raw);
}

export function runsRoutes(
  bus: RunStreamBus,
  openStreams: OpenStreams,
  dispatchVersion: () => string | undefined,
): Hono<{ Bindings: HttpBindings }> {
  const routes = new Hono<{ Bindings: HttpBindings }>();

  routes.post("/threads/:threadId/runs", async (c) => {
    const threadId = pathId(c, "threadId");
    const body = await parseJsonBody(c, createRunBody);
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

  routes.get("/runs/:runId", async (c) => {
    const run = await readRun(pathId(c, "runId"));
    if (!run) throw new ApiError(404, "run_not_found", "no run with this ID");
    const { input: _input, ...view } = run;
    return c.json(view);
  });

  routes.post("/runs/:runId/cancel", async (c) => {
    const run = await cancelRun(pathId(c, "runId"));
    if (!run) throw new ApiError(404, "run_not_found", "no run with this ID");
    return c.json({ runId: run.runId, status: run.status }, 202);
  });

  routes.get("/runs/:runId/stream", async (c) => {
    const runId = pathId(c, "runId");
    const afterSeq = resumeAfter(c.req.header("last-event-id"), c.req.query("lastEventId"));
    if (!(await readRunStatus(runId))) throw new ApiError(404, "run_not_found", "no run with this ID");

    const sse = new SseWriter(c.env.outgoing);
    const stream = openStreams.open();
    const controller = new AbortController();
    sse.onClose(() => controller.abort());
    stream.signal.addEventListener("abort", () => controller.abort(), { once: true });
    void (async () => {
      try {
        for await (const event of tailRunStream({
          runId,
          afterSeq,
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
            await sse.write({ event: "done", data: JSON.stringify(done) });
          }
        }
      } catch (error) {
        log.warn({ runId, err: (error as Error).message }, "stream ended by an error");
      } finally {
        stream.close();
        sse.end();
      }
    })();
    return RESPONSE_ALREADY_SENT;
  });

  return routes;
}
