import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect } from "@nats-io/transport-node";
import { NATS_URL, query } from "../test/support/services.js";
import { sseEvents } from "../test/support/sse-events.js";
import { waitFor } from "../test/support/wait.js";
import { submitRuns } from "./dispatch.js";
import { leastSquaresSlope } from "./fleet-cost.js";
import { type Summary, summarize } from "./stats.js";
import { runStreamNamesOf } from "./streaming.js";
import { withTopology } from "./topology.js";

/** Per stream, one chunk every 500 ms: faster than the api's 1-s idle check, so no stream reads Postgres. */
const TOKEN_DELAY_MS = 500;
/** Chunk latency is measured on this many of the open streams (all of them when fewer are open). */
const SAMPLED_STREAMS = 50;

export interface OpenStreamsPoint {
  clients: number;
  /** The api process's resident set with no stream open (runs running) and with `clients` open. */
  rssBeforeBytes: number;
  rssOpenBytes: number;
  /** Worker publish → SSE client, on up to 50 of the open streams. */
  chunkLatencyMs: Summary;
  chunksPerSecond: number;
  /** The api's CPU time during the window ÷ the window: 1 is one core busy all the time. */
  apiCpuCores: number;
}

export interface OpenStreamsResult {
  points: OpenStreamsPoint[];
  /** Least-squares slope of the api's RSS growth over the number of open streams. */
  bytesPerStream: number;
}

/**
 * One api process holding N concurrent SSE clients, each on its own running run (1 api, 2 workers). For
 * each N: the api's RSS before and while the streams are open, and chunk latency on a sample of them.
 */
export async function openStreams(clientCounts: number[], windowMs: number): Promise<OpenStreamsResult> {
  const points: OpenStreamsPoint[] = [];
  for (const clients of clientCounts) points.push(await openStreamsPoint(clients, windowMs));
  const bytesPerStream = leastSquaresSlope(
    points.map((point) => [point.clients, point.rssOpenBytes - point.rssBeforeBytes]),
  );
  return { points, bytesPerStream };
}

async function openStreamsPoint(clients: number, windowMs: number): Promise<OpenStreamsPoint> {
  // Long enough to outlast enqueueing, connecting every client and the window, at 2 chunks/s.
  const tokens = Math.ceil((90_000 + windowMs) / TOKEN_DELAY_MS);
  const env = {
    MESH_BUILTIN_TOKENS: String(tokens),
    MESH_BUILTIN_TOKEN_DELAY_MS: String(TOKEN_DELAY_MS),
    MESH_BUILTIN_TOKEN_CPU_US: "0",
    MESH_CHECKPOINT_EVERY: String(Math.ceil(tokens / 4)),
    MESH_WORKER_CONCURRENCY: String(Math.max(8, Math.ceil(clients / 2))),
  };
  return withTopology({ kind: "split", workers: 2, env }, async (topology) => {
    const runIds = await submitRuns(topology.api.url, clients, 32, "open");
    await waitFor(
      `${clients} runs to be running`,
      async () => {
        const [row] = await query<{ running: string }>(
          topology.databaseUrl,
          "SELECT count(*)::text AS running FROM dbos.workflow_status WHERE workflow_uuid = ANY($1) AND status = 'PENDING'",
          [runIds],
        );
        return Number(row?.running) === clients;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    const rssBeforeBytes = await settledRss(topology.api.pid);

    const sampled = new Set(runIds.slice(0, SAMPLED_STREAMS));
    const publishedAt = new Map<string, number>();
    const nats = await connect({ servers: NATS_URL });
    const runSubject = runStreamNamesOf(topology).subject;
    for (const runId of sampled) {
      nats.subscribe(runSubject(runId), {
        callback: (_error, message) => {
          const event = message.json<{ type: string; seq?: number; at?: number }>();
          if (event.type === "chunk" && event.at !== undefined)
            publishedAt.set(`${runId}:${event.seq}`, event.at);
        },
      });
    }
    await nats.flush();

    const window = { start: Number.POSITIVE_INFINITY, end: Number.POSITIVE_INFINITY };
    const arrivals: Array<{ key: string; at: number }> = [];
    const streams = runIds.map((runId) =>
      openStream(topology.api.url, runId, sampled.has(runId), (seq, at) => {
        if (at >= window.start && at < window.end) arrivals.push({ key: `${runId}:${seq}`, at });
      }),
    );
    try {
      await waitFor(
        `a first chunk on each of ${clients} streams`,
        () => {
          const failure = streams.map((stream) => stream.failure()).find(Boolean);
          if (failure) throw new Error(failure);
          const waiting = streams.filter((stream) => stream.chunkCount() === 0).length;
          if (waiting > 0) throw new Error(`${waiting} of ${clients} streams have no chunk yet`);
          return true;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      // Let connection set-up settle before measuring memory and latency.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      window.start = performance.timeOrigin + performance.now();
      window.end = window.start + windowMs;
      const cpuBefore = cpuSeconds(topology.api.pid);
      const rssSamples: number[] = [];
      while (performance.timeOrigin + performance.now() < window.end) {
        rssSamples.push(rss(topology.api.pid));
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const apiCpuCores = (cpuSeconds(topology.api.pid) - cpuBefore) / (windowMs / 1000);
      // The publish stamps of the window's last chunks come in with them; give them a moment.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const latencies = arrivals.flatMap(({ key, at }) => {
        const sentAt = publishedAt.get(key);
        return sentAt === undefined ? [] : [at - sentAt];
      });
      const ended = streams.filter((stream) => stream.ended());
      if (ended.length > 0) throw new Error(`${ended.length} of ${clients} streams ended during the window`);
      return {
        clients,
        rssBeforeBytes,
        rssOpenBytes: summarize(rssSamples).p50,
        chunkLatencyMs: summarize(latencies),
        chunksPerSecond:
          (streams.reduce((sum, stream) => sum + stream.chunksIn(window), 0) / windowMs) * 1000,
        apiCpuCores,
      };
    } finally {
      for (const stream of streams) stream.close();
      await nats.close();
      // The runs would stream for another minute and a worker's drain waits for them: nothing of them is
      // kept (the database is dropped next), so the workers are killed instead.
      await Promise.all(
        topology.workers.map((worker) => {
          worker.signal("SIGKILL");
          return worker.waitExit();
        }),
      );
    }
  });
}

interface OpenStream {
  /** Why the stream cannot deliver (refused, connection error, ended before a chunk), if it cannot. */
  failure(): string | undefined;
  chunkCount(): number;
  ended(): boolean;
  chunksIn(window: { start: number; end: number }): number;
  close(): void;
}

/**
 * One SSE client on its own connection. Sampled streams are parsed and report each chunk's arrival;
 * the rest only count frames, so the client side stays cheap next to the api it measures.
 */
function openStream(
  baseUrl: string,
  runId: string,
  sampled: boolean,
  onChunk: (seq: number, arrivedAt: number) => void,
): OpenStream {
  const chunkTimes: number[] = [];
  let failure: string | undefined;
  let ended = false;
  const request = httpRequest(`${baseUrl}/v1/runs/${runId}/stream`, { agent: false }, (response) => {
    if (response.statusCode !== 200) {
      failure = `stream of ${runId} answered ${response.statusCode}`;
      response.resume();
      return;
    }
    void (async () => {
      if (sampled) {
        for await (const event of sseEvents(response)) {
          if (event.event !== "chunk" || !event.id) continue;
          chunkTimes.push(event.receivedAt);
          onChunk(Number(event.id), event.receivedAt);
        }
      } else {
        for await (const bytes of response as AsyncIterable<Buffer>) {
          const at = performance.timeOrigin + performance.now();
          for (
            let index = bytes.indexOf("event: chunk");
            index >= 0;
            index = bytes.indexOf("event: chunk", index + 1)
          )
            chunkTimes.push(at);
        }
      }
    })()
      .catch(() => undefined)
      .finally(() => {
        ended = true;
      });
  });
  request.on("error", (error) => {
    failure = `stream of ${runId}: ${error.message}`;
  });
  request.end();
  return {
    failure: () =>
      failure ??
      (ended && chunkTimes.length === 0 ? `stream of ${runId} ended before its first chunk` : undefined),
    chunkCount: () => chunkTimes.length,
    ended: () => ended,
    chunksIn: (window) => chunkTimes.filter((at) => at >= window.start && at < window.end).length,
    close: () => request.destroy(),
  };
}

/** Resident set size of a process, from /proc (Linux). */
function rss(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** User + system CPU time of a process so far, from /proc (Linux; clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces) start past its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The median of a few RSS readings a quarter second apart, so one GC does not set the baseline. */
async function settledRss(pid: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const samples: number[] = [];
  for (let index = 0; index < 5; index++) {
    samples.push(rss(pid));
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return summarize(samples).p50;
}
