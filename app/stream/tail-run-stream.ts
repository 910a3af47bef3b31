import type { WorkflowStatus } from "@dbos-inc/dbos-sdk";
import { log } from "../log.js";
import { streamFallbacks } from "../metrics.js";
import { isTerminal, storedChunks, toRunView } from "../runs/run-view.js";
import { IDLE, withIdleTicks } from "./idle-ticks.js";
import type { RunStreamBus, StreamEvent } from "./run-stream-bus.js";

/** A stream event as sent to a client; `source: "stored"` marks events rebuilt from the stored result. */
export type ClientStreamEvent = StreamEvent & { source?: "stored" };

export interface TailRunStreamOptions {
  runId: string;
  /** The last chunk seq the client already has (Last-Event-ID); 0 for the whole stream. */
  afterSeq: number;
  bus: RunStreamBus;
  readStatus: (runId: string) => Promise<WorkflowStatus | undefined>;
  signal: AbortSignal;
  /** How long the stream may be silent before the run's stored status is checked. */
  idleCheckMs?: number;
}

/**
 * The events of a run for one SSE client: chunks after `afterSeq` exactly once and in order, then `done`.
 * Live chunks come from the bus. When the bus has nothing to give (NATS down, data expired, or the run
 * ended without a `done` message) and the run has finished, the rest is rebuilt from the stored
 * result, and that is logged and counted: a client never gets a silent empty stream.
 */
export async function* tailRunStream(options: TailRunStreamOptions): AsyncGenerator<ClientStreamEvent> {
  const position = { lastSeq: options.afterSeq };
  try {
    yield* tailFromBus(options, position);
  } catch (error) {
    // Whatever broke the live path (a bus or database error mid-stream), a finished run's client still
    // gets the rest and `done` from the stored result; an unfinished run's stream ends, and the client
    // resumes with Last-Event-ID.
    if (options.signal.aborted) return;
    const status = await waitForTerminal(options.readStatus, options.runId, options.signal, 2_000).catch(
      () => undefined,
    );
    if (!status || !isTerminal(status.status)) throw error;
    log.warn(
      { runId: options.runId, err: (error as Error).message },
      "stream failed; answering from the stored result",
    );
    yield* storedRest(status, "stream_error", position, options.runId);
  }
}

async function* tailFromBus(
  options: TailRunStreamOptions,
  position: { lastSeq: number },
): AsyncGenerator<ClientStreamEvent> {
  const { runId, bus, readStatus, signal } = options;

  const fallback = (status: WorkflowStatus, reason: string) => storedRest(status, reason, position, runId);

  const initial = await readStatus(runId);
  if (!initial) return;
  if (isTerminal(initial.status)) {
    const reason = !bus.isAvailable()
      ? "nats_unavailable"
      : !(await bus.hasMessages(runId).catch(() => false))
        ? "stream_expired"
        : undefined;
    if (reason) {
      yield* fallback(initial, reason);
      return;
    }
  }

  const controller = new AbortController();
  const stop = () => controller.abort();
  signal.addEventListener("abort", stop, { once: true });
  try {
    for await (const event of withIdleTicks(
      tailOrEmpty(bus, runId, controller.signal),
      options.idleCheckMs ?? 1_000,
    )) {
      if (signal.aborted) return;
      if (event === IDLE) {
        const status = await readStatus(runId).catch(() => undefined);
        if (status && isTerminal(status.status)) {
          // Finished, yet the bus has been silent: its `done` was never published (NATS was down, or the
          // run failed or was cancelled). The stored result is the truth.
          yield* fallback(status, bus.isAvailable() ? "done_missing" : "nats_unavailable");
          return;
        }
        continue;
      }
      if (event.type === "chunk") {
        if (event.seq !== position.lastSeq + 1) continue; // a re-run segment repeats earlier seqs
        position.lastSeq = event.seq;
        yield event;
      } else {
        if (event.chunkCount !== undefined && position.lastSeq < event.chunkCount) {
          // Chunks were lost on the way (published while NATS was down): complete from the stored result.
          const status = await waitForTerminal(readStatus, runId, signal);
          if (status) {
            yield* fallback(status, "chunks_missing");
            return;
          }
        }
        yield event;
        return;
      }
    }
  } finally {
    signal.removeEventListener("abort", stop);
    controller.abort();
  }
}

/** The chunks after `position` and `done`, rebuilt from a finished run's stored result; logged and counted. */
async function* storedRest(
  status: WorkflowStatus,
  reason: string,
  position: { lastSeq: number },
  runId: string,
): AsyncGenerator<ClientStreamEvent> {
  streamFallbacks.inc({ reason });
  log.warn({ runId, reason, afterSeq: position.lastSeq }, "stream answered from the stored run result");
  const chunks = storedChunks(status) ?? [];
  while (position.lastSeq < chunks.length) {
    position.lastSeq += 1;
    yield {
      type: "chunk",
      seq: position.lastSeq,
      text: chunks[position.lastSeq - 1] ?? "",
      source: "stored",
    };
  }
  const view = toRunView(status);
  yield {
    type: "done",
    status: view.status,
    output: view.output,
    error: view.error,
    chunkCount: storedChunks(status)?.length,
    source: "stored",
  };
}

/** The bus's tail, or an endless silence if the bus cannot be reached (the idle check then decides). */
async function* tailOrEmpty(
  bus: RunStreamBus,
  runId: string,
  signal: AbortSignal,
): AsyncGenerator<StreamEvent> {
  try {
    yield* bus.tail(runId, signal);
  } catch (error) {
    if (signal.aborted) return;
    log.warn({ runId, err: (error as Error).message }, "stream tail failed; waiting on the stored result");
  }
  await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

/** The run's status once it is terminal (its done step may be seconds ahead of DBOS recording it). */
async function waitForTerminal(
  readStatus: (runId: string) => Promise<WorkflowStatus | undefined>,
  runId: string,
  signal: AbortSignal,
  timeoutMs = 10_000,
): Promise<WorkflowStatus | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (!signal.aborted && Date.now() < deadline) {
    const status = await readStatus(runId);
    if (!status || isTerminal(status.status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return undefined;
}
