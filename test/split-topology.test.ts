import assert from "node:assert/strict";
import { builtinToken } from "../app/model/builtin.js";
import { ApiClient, type Json } from "./support/api-client.js";
import { type MeshProcess, startMesh, stopAll } from "./support/mesh-process.js";
import { expireStreamData, streamNamesOf } from "./support/run-stream-contents.js";
import {
  createTestDatabase,
  dropTestDatabase,
  executionSpans,
  NATS_URL,
  workflowRows,
} from "./support/services.js";
import { waitFor } from "./support/wait.js";

// Fixture: the api-plus-worker topology — 1 api and 2 workers on one fresh database, real NATS.
const TOKENS = 24;
const env = { MESH_BUILTIN_TOKENS: String(TOKENS), MESH_CHECKPOINT_EVERY: "6", MESH_WORKER_CONCURRENCY: "8" };

describe("split topology: 1 api + 2 workers", () => {
  let databaseUrl: string;
  let api: MeshProcess;
  let workers: MeshProcess[];
  let client: ApiClient;

  before(async () => {
    databaseUrl = await createTestDatabase("split");
    api = await startMesh({ role: "api", databaseUrl, natsUrl: NATS_URL, env });
    workers = await Promise.all(
      [1, 2].map(() => startMesh({ role: "worker", databaseUrl, natsUrl: NATS_URL, env })),
    );
    client = new ApiClient(api.url);
  });

  after(async () => {
    await stopAll([api, ...workers]);
    await dropTestDatabase(databaseUrl);
  });

  it("warns at start-up that the api runs without a token (the workers serve no API and do not)", () => {
    assert.ok(
      api.logs.some((line) => line.includes("MESH_API_TOKEN is not set")),
      "the api warns",
    );
    for (const worker of workers)
      assert.ok(!worker.logs.some((line) => line.includes("MESH_API_TOKEN is not set")));
  });

  const expectedOutput = (input: string) =>
    Array.from({ length: TOKENS }, (_, index) => builtinToken(input, index)).join("");

  it("executes 30 runs over 10 threads on the workers only, one run per thread at a time", async () => {
    const submitted: Array<{ runId: string; threadId: string; input: string }> = [];
    for (let index = 0; index < 30; index++) {
      const threadId = `thread-${index % 10}`;
      const input = `question ${index}`;
      submitted.push({ runId: await client.createRun(threadId, input), threadId, input });
    }

    const runs = await waitFor(
      "all 30 runs to finish",
      async () => {
        const views = await Promise.all(submitted.map(({ runId }) => client.getRun(runId)));
        return views.every((run) => run.status === "SUCCESS" || run.status === "ERROR") ? views : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
    assert.deepEqual(
      runs.map((run) => run.status),
      submitted.map(() => "SUCCESS"),
    );
    for (const [index, run] of runs.entries())
      assert.equal(run.output, expectedOutput(submitted[index]?.input ?? ""));

    const rows = (await workflowRows(databaseUrl)).filter((row) => row.name === "agentRun");
    assert.equal(rows.length, 30);
    const workerIds = new Set(workers.map((worker) => worker.executorId));
    for (const row of rows)
      assert.ok(workerIds.has(row.executor_id ?? ""), `${row.workflow_uuid} ran on ${row.executor_id}`);
    // The api executed zero workflows of any kind, internal ones included.
    const onApi = (await workflowRows(databaseUrl)).filter((row) => row.executor_id === api.executorId);
    assert.deepEqual(onApi, []);
    // Both workers took part.
    assert.equal(new Set(rows.map((row) => row.executor_id)).size, 2);

    // No two runs of one thread overlapped. DBOS stamps a workflow's start and completion with the
    // transaction-start time of Postgres, which can precede the commit that another worker waited on;
    // the executing worker's own stamps on its first and last step show when the run really executed.
    const spans = await executionSpans(databaseUrl);
    const byThread = new Map<string, Array<{ start: number; end: number }>>();
    for (const row of rows) {
      const span = spans.get(row.workflow_uuid);
      assert.ok(span, `no steps recorded for ${row.workflow_uuid}`);
      byThread.set(row.queue_partition_key ?? "", [
        ...(byThread.get(row.queue_partition_key ?? "") ?? []),
        span,
      ]);
    }
    assert.equal(byThread.size, 10);
    for (const [thread, threadSpans] of byThread) {
      threadSpans.sort((a, b) => a.start - b.start);
      for (let index = 1; index < threadSpans.length; index++) {
        const previous = threadSpans[index - 1];
        const current = threadSpans[index];
        assert.ok(
          previous && current && current.start >= previous.end,
          `runs of ${thread} overlapped: ${JSON.stringify(threadSpans)}`,
        );
      }
    }
  });

  it("streams a worker's run through the api in order, resumes with Last-Event-ID, and replays after completion", async () => {
    const input = "stream me through the api";
    const runId = await client.createRun("stream-thread", input);

    const first = await client.readStream(runId, { maxChunks: 5 });
    assert.deepEqual(
      first.chunks.map((chunk) => chunk.seq),
      [1, 2, 3, 4, 5],
    );
    const resumed = await client.readStream(runId, { lastEventId: first.chunks.at(-1)?.id });
    assert.deepEqual(
      resumed.chunks.map((chunk) => chunk.seq),
      Array.from({ length: TOKENS - 5 }, (_, index) => index + 6),
    );
    assert.equal(resumed.done?.status, "SUCCESS");
    const text = [...first.chunks, ...resumed.chunks].map((chunk) => chunk.text).join("");
    assert.equal(text, expectedOutput(input));
    assert.equal(resumed.done?.output, text);
    assert.equal(resumed.done?.source, undefined, "served live from JetStream, not from the stored result");

    const late = await client.readStream(runId);
    assert.equal(late.chunks.length, TOKENS);
    assert.equal(late.chunks.map((chunk) => chunk.text).join(""), text);
    assert.equal(late.done?.status, "SUCCESS");
    const run = await client.getRun(runId);
    assert.ok(workers.some((worker) => worker.executorId === run.executorId));
  });

  it("fires a per-second automation exactly once per tick over a window, none missing, every tick on a worker", async () => {
    // Three processes (1 api + 2 workers) share the schedule; over about 8 s, every second that fell in
    // the window must have exactly one run.
    const createdAt = Date.now();
    const created = await client.request("POST", "/v1/automations", {
      name: "every-second",
      cron: "* * * * * *",
      input: "tick",
    });
    assert.equal(created.status, 201);
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    assert.equal((await client.request("DELETE", "/v1/automations/every-second")).status, 204);
    const deletedAt = Date.now();
    const ticks = await waitFor(
      "every fired tick to finish",
      async () => {
        const rows = (await workflowRows(databaseUrl)).filter((row) => row.name === "automationRun");
        return rows.length > 0 && rows.every((row) => row.status === "SUCCESS") ? rows : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );

    const tickTimes = ticks
      .map((row) => Date.parse(row.workflow_uuid.replace(/^sched-every-second-/, "")))
      .sort();
    assert.equal(new Set(tickTimes).size, ticks.length, "one run per tick");
    const first = tickTimes[0] ?? 0;
    const last = tickTimes.at(-1) ?? 0;
    const expected = Array.from({ length: (last - first) / 1000 + 1 }, (_, index) => first + index * 1000);
    assert.deepEqual(tickTimes, expected, "no second missing between the first and the last tick");
    assert.ok(first - createdAt <= 2_000, `first tick ${first - createdAt} ms after the create`);
    assert.ok(deletedAt - last <= 2_000, `last tick ${deletedAt - last} ms before the delete`);
    assert.ok(ticks.length >= 6, `${ticks.length} ticks in about 8 s`);
    console.log(
      `      ${ticks.length} ticks over ${((deletedAt - createdAt) / 1000).toFixed(1)} s, each once`,
    );
    for (const row of ticks) {
      assert.equal(row.queue_name, "automations");
      assert.ok(
        workers.some((worker) => worker.executorId === row.executor_id),
        `tick ran on ${row.executor_id}`,
      );
    }
    const listed = await client.request("GET", "/v1/automations");
    assert.deepEqual(listed.body.automations, []);
  });

  it("rebuilds a finished run's stream from the stored result when its stream data expired, and counts it", async () => {
    const runId = await client.createRun("expired-stream", "stored answer");
    const live = await client.readStream(runId);
    assert.equal(live.done?.status, "SUCCESS");
    assert.equal(live.done?.source, undefined, "the first read came from JetStream");
    await expireStreamData(streamNamesOf(databaseUrl), runId);
    const fallbacks = async () =>
      Number(
        /mesh_stream_fallbacks_total\{[^}]*\} (\d+)/.exec(
          await (await fetch(`${api.url}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    const before = await fallbacks();
    const rebuilt = await client.readStream(runId);
    assert.equal(rebuilt.done?.status, "SUCCESS");
    assert.equal(rebuilt.done?.source, "stored", JSON.stringify(rebuilt.done));
    assert.deepEqual(
      rebuilt.chunks.map((chunk) => chunk.text),
      live.chunks.map((chunk) => chunk.text),
      "the same chunks, in order",
    );
    assert.equal(rebuilt.done?.output, expectedOutput("stored answer"));
    assert.equal(await fallbacks(), before + 1, "mesh_stream_fallbacks_total counted it");
    assert.ok(
      api.logs.some((line) => line.includes(runId) && /stored/i.test(line)),
      "and logged it",
    );
  });

  it("keeps /v1 off the workers: every /v1 path answers 404 there, health and metrics answer", async () => {
    for (const worker of workers) {
      for (const [method, path] of [
        ["GET", "/v1/queues"],
        ["POST", "/v1/threads/t/runs"],
        ["GET", "/v1/runs/anything"],
        ["GET", "/v1/automations"],
      ] as const) {
        const response = await fetch(`${worker.url}${path}`, { method });
        assert.equal(response.status, 404, `${method} ${path} on a worker`);
        assert.equal(((await response.json()) as Json).error.code, "not_found");
      }
      assert.equal((await fetch(`${worker.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${worker.url}/readyz`)).status, 200);
      const metrics = await (await fetch(`${worker.url}/metrics`)).text();
      assert.match(metrics, /mesh_process_info\{role="worker"/);
      assert.match(metrics, /mesh_dispatch_latency_seconds_bucket/);
    }
  });

  it("shows both workers as live listeners of both run queues", async () => {
    const { body } = await client.request("GET", "/v1/queues");
    for (const queue of body.queues) {
      assert.equal(queue.listeners, 2, `${queue.name} listeners`);
      assert.deepEqual(queue.listenerIds, workers.map((worker) => worker.executorId).sort());
    }
  });
});
