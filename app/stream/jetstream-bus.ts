import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { log } from "../log.js";
import { AsyncQueue } from "./async-queue.js";
import { natsConnectOptions } from "./nats-servers.js";
import { preciseNow, type RunStreamBus, type StreamEvent } from "./run-stream-bus.js";
import {
  DEFAULT_RUN_STREAM_SETTINGS,
  type RunStreamNames,
  type RunStreamSettings,
} from "./run-stream-settings.js";
import { convergeRunStream, createRunStreamIfMissing } from "./run-stream-setup.js";

export interface JetStreamBusOptions {
  servers: string;
  name: string;
  /** This deployment's stream and subjects (app/stream/run-stream-settings.ts). */
  names: RunStreamNames;
  /** The run stream's size and replicas. */
  stream?: RunStreamSettings;
  /**
   * Whether this process owns the stream's settings (it migrates: `MESH_AUTO_MIGRATE`): it converges an
   * existing stream. Others only create a missing one.
   */
  ownsStreamSettings?: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Run output on JetStream: stream MESH_RUNS_<DEPLOYMENT>, subject mesh.<deployment>.runs.<runId>, bounded
 * by age and size.
 * Each chunk carries a message ID (`<runId>:<seq>`) so a segment re-run after a crash is deduplicated
 * by the server within its duplicate window.
 */
export async function createJetStreamBus(options: JetStreamBusOptions): Promise<RunStreamBus> {
  const connection: NatsConnection = await connect({
    ...natsConnectOptions(options.servers),
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    timeout: 5_000,
  });
  let connected = true;
  void (async () => {
    for await (const status of connection.status()) {
      if (status.type === "disconnect") {
        connected = false;
        log.warn("NATS disconnected; stream chunks are dropped until it is back (run output stays durable)");
      } else if (status.type === "reconnect") {
        connected = true;
        log.info("NATS reconnected");
      }
    }
  })();

  const manager = await jetstreamManager(connection);
  const settings = options.stream ?? DEFAULT_RUN_STREAM_SETTINGS;
  const { names } = options;
  const runSubject = names.subject;
  if (options.ownsStreamSettings) await convergeRunStream(manager, names, settings);
  else await createRunStreamIfMissing(manager, names, settings);
  const js = jetstream(connection, { timeout: 5_000 });

  const encode = (event: StreamEvent) => encoder.encode(JSON.stringify({ ...event, at: preciseNow() }));

  return {
    kind: "jetstream",
    // Chunks go out as plain publishes that the stream captures: no per-token round trip for the ack.
    // The Nats-Msg-Id header still lets the stream drop a re-run segment's repeats. A chunk lost on
    // the way is caught by readers (done.chunkCount) and filled from the stored result.
    async publishChunk(runId, chunk) {
      if (!connected) return;
      const msgHeaders = headers();
      msgHeaders.set("Nats-Msg-Id", `${runId}:${chunk.seq}`);
      connection.publish(runSubject(runId), encode({ type: "chunk", ...chunk }), { headers: msgHeaders });
    },
    // `done` waits for the stream's ack: published on the same connection after the chunks, so once it
    // is stored, every chunk before it has been processed by the server.
    async publishDone(runId, done) {
      if (!connected) return;
      await js.publish(runSubject(runId), encode({ type: "done", ...done }), {
        msgID: `${runId}:done`,
        timeout: 5_000,
      });
    },
    async hasMessages(runId) {
      const message = await manager.streams.getMessage(names.stream, { last_by_subj: runSubject(runId) });
      return message !== null;
    },
    async *tail(runId, signal) {
      // Two copies of every event, merged: the live one from a plain subscription arrives at core NATS
      // latency; the ordered consumer replays the stream from the start and fills whatever the live
      // copy missed (before the subscription existed, or while disconnected). Readers keep each seq
      // once, in order.
      const events = new AsyncQueue<StreamEvent>();
      const parse = (data: Uint8Array) => JSON.parse(decoder.decode(data)) as StreamEvent;
      const live = connection.subscribe(runSubject(runId));
      void (async () => {
        for await (const message of live) events.push(parse(message.data));
      })().catch(() => undefined);
      const consumer = await js.consumers.get(names.stream, {
        filter_subjects: runSubject(runId),
        deliver_policy: DeliverPolicy.All,
      });
      const replay = await consumer.consume({ max_messages: 512 });
      void (async () => {
        for await (const message of replay) events.push(parse(message.data));
        events.close();
      })().catch((error: unknown) => events.fail(error));
      const stop = () => {
        live.unsubscribe();
        void replay.close();
        events.close();
      };
      signal.addEventListener("abort", stop, { once: true });
      try {
        yield* events;
      } finally {
        signal.removeEventListener("abort", stop);
        stop();
      }
    },
    isAvailable: () => connected && !connection.isClosed(),
    async close() {
      await connection.drain().catch(() => connection.close());
    },
  };
}
