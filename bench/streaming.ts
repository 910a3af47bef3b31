import { get, type IncomingMessage } from "node:http";
import { connect } from "@nats-io/transport-node";
import {
  deploymentFromDatabase,
  type RunStreamNames,
  runStreamNames,
} from "../app/stream/run-stream-settings.js";
import { ApiClient } from "../test/support/api-client.js";
import { NATS_URL } from "../test/support/services.js";
import { sseEvents } from "../test/support/sse-events.js";
import { type Summary, summarize } from "./stats.js";
import type { RunningTopology } from "./topology.js";

export const STREAMING_TOKENS = 300;
export const STREAMING_RUN_ENV = {
  MESH_BUILTIN_TOKENS: String(STREAMING_TOKENS),
  MESH_BUILTIN_TOKEN_CPU_US: "0",
  MESH_BUILTIN_TOKEN_DELAY_MS: "2",
  MESH_CHECKPOINT_EVERY: "50",
};

export interface StreamingResult {
  latency: Summary;
  /** Worker publish → a plain NATS subscriber in the client process: the part of `latency` before the api. */
  busHopMs: Summary;
  chunksPerSecond: number;
}

/**
 * Worker publish → SSE client latency through the api. The worker stamps every bus message with its
 * publish time; a direct NATS subscriber reads those stamps, the SSE client stamps arrivals, and the
 * two are joined by chunk seq.
 */
/** The stream and subjects of a topology's processes: they run without MESH_DEPLOYMENT, so their database's name. */
export function runStreamNamesOf(topology: RunningTopology): RunStreamNames {
  return runStreamNames(deploymentFromDatabase(topology.databaseUrl));
}

export async function streamingLatency(topology: RunningTopology, runs: number): Promise<StreamingResult> {
  const runSubject = runStreamNamesOf(topology).subject;
  const nats = await connect({ servers: NATS_URL });
  const client = new ApiClient(topology.api.url);
  const samples: number[] = [];
  const busHop: number[] = [];
  let chunks = 0;
  let streamingMs = 0;
  try {
    for (let index = 0; index < runs; index++) {
      const runId = await client.createRun(`stream-${index}`, `stream ${index}`);
      const publishedAt = new Map<number, number>();
      const subscription = nats.subscribe(runSubject(runId));
      const collecting = (async () => {
        for await (const message of subscription) {
          const event = JSON.parse(new TextDecoder().decode(message.data)) as {
            type: string;
            seq?: number;
            at?: number;
          };
          if (event.type === "chunk" && event.seq !== undefined && event.at !== undefined) {
            publishedAt.set(event.seq, event.at);
            busHop.push(performance.timeOrigin + performance.now() - event.at);
          }
          if (event.type === "done") break;
        }
      })();
      const arrivals = new Map<number, number>();
      await readStreamTimed(topology.api.url, runId, arrivals);
      await Promise.race([collecting, new Promise((resolve) => setTimeout(resolve, 2_000))]);
      subscription.unsubscribe();
      for (const [seq, arrivedAt] of arrivals) {
        const sentAt = publishedAt.get(seq);
        if (sentAt !== undefined) samples.push(arrivedAt - sentAt);
      }
      const times = [...arrivals.values()];
      chunks += arrivals.size;
      streamingMs += Math.max(...times) - Math.min(...times);
    }
  } finally {
    await nats.close();
  }
  return {
    latency: summarize(samples),
    busHopMs: summarize(busHop),
    chunksPerSecond: (chunks / streamingMs) * 1000,
  };
}

/**
 * Reads an SSE stream and records when each chunk arrived (same clock as the worker's stamps). It uses
 * node:http rather than fetch: the web-stream layers of fetch would add their own overhead to what is
 * meant to be mesh's latency.
 */
async function readStreamTimed(baseUrl: string, runId: string, arrivals: Map<number, number>): Promise<void> {
  const response = await new Promise<IncomingMessage>((resolve, reject) =>
    get(`${baseUrl}/v1/runs/${runId}/stream`, resolve).on("error", reject),
  );
  if (response.statusCode !== 200) throw new Error(`stream of ${runId} answered ${response.statusCode}`);
  try {
    for await (const event of sseEvents(response)) {
      if (event.event === "done") return;
      if (event.event === "chunk" && event.id) arrivals.set(Number(event.id), event.receivedAt);
    }
  } finally {
    response.destroy();
  }
}
