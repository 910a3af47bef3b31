import assert from "node:assert/strict";
import { EventSource, type FetchLikeResponse } from "eventsource";
import { ApiClient } from "./support/api-client.js";
import { CuttingProxy } from "./support/cutting-proxy.js";
import { type MeshProcess, startMesh, stopAll } from "./support/mesh-process.js";
import { expectedOutput } from "./support/run-checks.js";
import { createTestDatabase, dropTestDatabase, NATS_URL } from "./support/services.js";
import { waitFor } from "./support/wait.js";

// Fixture: split topology (1 api + 1 worker on the machine's NATS), an API token, a 40-token run that
// streams for ≈ 2 s, and a client nobody here wrote: the `eventsource` package (WHATWG EventSource for
// Node), reading through a TCP proxy that can cut its connections. A short retry hint keeps it quick.
const TOKEN = "test-token-sse-clients";
const TOKENS = 40;
const RETRY_MS = 300;
const env = {
  MESH_API_TOKEN: TOKEN,
  MESH_BUILTIN_TOKENS: String(TOKENS),
  MESH_BUILTIN_TOKEN_DELAY_MS: "50",
  MESH_CHECKPOINT_EVERY: "8",
  MESH_SSE_RETRY_MS: String(RETRY_MS),
  MESH_SSE_HEARTBEAT_MS: "400",
};

interface StreamRequest {
  lastEventId?: string;
  status?: number;
}

/** An EventSource on a run's stream that records every request it makes and every event it gets. */
function openEventSource(url: string) {
  const requests: StreamRequest[] = [];
  const chunks: Array<{ id: string; seq: number; text: string }> = [];
  const dones: Array<{ id: string; data: { status: string; output?: string } }> = [];
  const source = new EventSource(url, {
    fetch: async (input, init) => {
      const request: StreamRequest = { lastEventId: init.headers?.["Last-Event-ID"] };
      requests.push(request);
      const response = await fetch(input, {
        ...init,
        headers: { ...init.headers, authorization: `Bearer ${TOKEN}` },
      });
      request.status = response.status;
      return response as FetchLikeResponse;
    },
  });
  source.addEventListener("chunk", (event) => {
    const data = JSON.parse(event.data);
    chunks.push({ id: event.lastEventId, seq: data.seq, text: data.text });
  });
  source.addEventListener("done", (event) =>
    dones.push({ id: event.lastEventId, data: JSON.parse(event.data) }),
  );
  return { source, requests, chunks, dones };
}

describe("Server-Sent Events as a standard EventSource client reads them", () => {
  let databaseUrl: string;
  let api: MeshProcess;
  let worker: MeshProcess;
  let client: ApiClient;
  let proxy: CuttingProxy;

  before(async () => {
    databaseUrl = await createTestDatabase("sse_clients");
    api = await startMesh({ role: "api", databaseUrl, natsUrl: NATS_URL, env });
    worker = await startMesh({ role: "worker", databaseUrl, natsUrl: NATS_URL, env });
    client = new ApiClient(api.url, TOKEN);
    const { hostname, port } = new URL(api.url);
    proxy = await CuttingProxy.start({ host: hostname, port: Number(port) });
  });

  after(async () => {
    await proxy?.stop();
    await stopAll([api, worker]);
    await dropTestDatabase(databaseUrl);
  });

  it("resumes through cut connections with every chunk once, in order, and stops reconnecting after done", async () => {
    const input = "eventsource through cuts";
    const runId = await client.createRun("es-cuts", input);
    const reader = openEventSource(`${proxy.url}/v1/runs/${runId}/stream`);
    try {
      await waitFor("10 chunks", async () => reader.chunks.length >= 10, { timeoutMs: 30_000 });
      assert.ok(proxy.cutAll() >= 1, "a connection was cut");
      await waitFor("25 chunks", async () => reader.chunks.length >= 25, { timeoutMs: 30_000 });
      assert.ok(proxy.cutAll() >= 1, "a connection was cut");
      await waitFor("done", async () => reader.dones.length >= 1, { timeoutMs: 60_000 });
      const doneAt = reader.requests.length;
      // Long enough for a client that is not stopped to reconnect several times (retry is 300 ms).
      await new Promise((resolve) => setTimeout(resolve, 10 * RETRY_MS));

      const run = await client.getRun(runId);
      assert.equal(run.status, "SUCCESS");
      assert.equal(run.output, expectedOutput(input, TOKENS));
      assert.deepEqual(
        reader.chunks.map((chunk) => chunk.seq),
        Array.from({ length: TOKENS }, (_, index) => index + 1),
        "every chunk once, in order",
      );
      assert.deepEqual(
        reader.chunks.map((chunk) => chunk.id),
        reader.chunks.map((chunk) => String(chunk.seq)),
      );
      assert.equal(reader.chunks.map((chunk) => chunk.text).join(""), run.output);
      assert.ok(reader.requests.length >= 3, `resumed after each cut (${reader.requests.length} requests)`);
      assert.ok(
        reader.requests.slice(1, doneAt).every((request) => request.lastEventId !== undefined),
        "each resume sent Last-Event-ID",
      );

      assert.equal(reader.dones.length, 1, "one done, never a second");
      assert.equal(reader.dones[0]?.id, "done", "done carries an id");
      assert.equal(reader.dones[0]?.data.output, run.output);
      const afterDone = reader.requests.slice(doneAt);
      assert.ok(afterDone.length <= 1, `at most one reconnect after done (${afterDone.length})`);
      assert.deepEqual(
        afterDone.map((request) => [request.lastEventId, request.status]),
        afterDone.length === 0 ? [] : [["done", 204]],
        "the reconnect after done is answered 204",
      );
      assert.equal(reader.source.readyState, EventSource.CLOSED, "the client stopped");
    } finally {
      reader.source.close();
    }
  });

  it("gives a client of a finished run the whole output, then 204 on its reconnect", async () => {
    const input = "eventsource after the end";
    const runId = await client.createRun("es-finished", input);
    await waitFor("run finished", async () => (await client.getRun(runId)).status === "SUCCESS", {
      timeoutMs: 60_000,
    });
    const reader = openEventSource(`${proxy.url}/v1/runs/${runId}/stream`);
    try {
      await waitFor("the client stopped", async () => reader.source.readyState === EventSource.CLOSED, {
        timeoutMs: 30_000,
      });
      await new Promise((resolve) => setTimeout(resolve, 5 * RETRY_MS));
      assert.equal(reader.chunks.map((chunk) => chunk.text).join(""), expectedOutput(input, TOKENS));
      assert.equal(reader.dones.length, 1);
      assert.deepEqual(
        reader.requests.map((request) => [request.lastEventId, request.status]),
        [
          [undefined, 200],
          ["done", 204],
        ],
      );
    } finally {
      reader.source.close();
    }
  });

  it("answers 204 past a finished run's last chunk, and done alone to a client that missed only done", async () => {
    const runId = await client.createRun("es-past", "eventsource past the end");
    await waitFor("run finished", async () => (await client.getRun(runId)).status === "SUCCESS", {
      timeoutMs: 60_000,
    });
    const stream = (lastEventId: string) =>
      fetch(`${api.url}/v1/runs/${runId}/stream`, {
        headers: { authorization: `Bearer ${TOKEN}`, "last-event-id": lastEventId },
      });
    assert.equal((await stream(String(TOKENS + 1))).status, 204);
    assert.equal((await stream("done")).status, 204);
    const missedDone = await client.readStream(runId, { lastEventId: String(TOKENS) });
    assert.equal(missedDone.chunks.length, 0);
    assert.equal(missedDone.done?.status, "SUCCESS");
    const unfinished = await client.createRun("es-past-unfinished", "not finished yet");
    assert.equal(
      (
        await fetch(`${api.url}/v1/runs/${unfinished}/stream`, {
          headers: { authorization: `Bearer ${TOKEN}`, "last-event-id": "done" },
        })
      ).status,
      400,
      "done is refused for a run that has not finished",
    );
  });

  it("tells clients the reconnection delay and keeps an idle stream alive with comments", async () => {
    // A run queued behind a running run of its thread: its stream stays silent until its turn.
    const head = await client.createRun("es-idle", "eventsource idle head");
    const queued = await client.createRun("es-idle", "eventsource idle queued");
    const controller = new AbortController();
    const response = await fetch(`${api.url}/v1/runs/${queued}/stream`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: controller.signal,
    });
    let text = "";
    const decoder = new TextDecoder();
    try {
      for await (const bytes of response.body as AsyncIterable<Uint8Array>) {
        text += decoder.decode(bytes, { stream: true });
        if ((text.match(/^: keep-alive$/gm) ?? []).length >= 2) break;
        if (text.includes("event: chunk")) break;
      }
    } finally {
      controller.abort();
    }
    assert.ok(
      text.startsWith(`retry: ${RETRY_MS}\n\n`),
      `starts with the retry hint: ${JSON.stringify(text.slice(0, 40))}`,
    );
    assert.ok(
      (text.match(/^: keep-alive$/gm) ?? []).length >= 2,
      `keep-alive comments before the first chunk: ${JSON.stringify(text.slice(0, 200))}`,
    );
    await waitFor("both runs finished", async () => (await client.getRun(queued)).status === "SUCCESS", {
      timeoutMs: 60_000,
    });
    assert.equal((await client.getRun(head)).status, "SUCCESS");
  });
});
