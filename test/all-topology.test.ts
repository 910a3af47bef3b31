import assert from "node:assert/strict";
import { builtinToken } from "../app/model/builtin.js";
import { ApiClient, type Json } from "./support/api-client.js";
import { type MeshProcess, startMesh } from "./support/mesh-process.js";
import { createTestDatabase, dropTestDatabase, workflowRows } from "./support/services.js";
import { waitFor } from "./support/wait.js";

// Fixture: the all-only topology — one `all` process, no NATS (in-process bus), API token required.
const TOKEN = "test-token-all-topology";
const TOKENS = 16;

describe("all topology: one process, in-process bus", () => {
  let databaseUrl: string;
  let mesh: MeshProcess;
  let client: ApiClient;
  let startedAt: number;

  before(async () => {
    startedAt = Date.now();
    databaseUrl = await createTestDatabase("all");
    mesh = await startMesh({
      role: "all",
      databaseUrl,
      env: { MESH_API_TOKEN: TOKEN, MESH_BUILTIN_TOKENS: String(TOKENS), MESH_CHECKPOINT_EVERY: "4" },
    });
    client = new ApiClient(mesh.url, TOKEN);
  });

  after(async () => {
    await mesh.stop();
    await dropTestDatabase(databaseUrl);
  });

  it("completes runs on the single process and streams them", async () => {
    const runIds = await Promise.all([1, 2, 3].map((index) => client.createRun(`t${index}`, `all ${index}`)));
    const stream = await client.readStream(runIds[0] ?? "");
    assert.equal(stream.done?.status, "SUCCESS");
    assert.deepEqual(
      stream.chunks.map((chunk) => chunk.seq),
      Array.from({ length: TOKENS }, (_, index) => index + 1),
    );
    const expected = Array.from({ length: TOKENS }, (_, index) => builtinToken("all 1", index)).join("");
    assert.equal(stream.chunks.map((chunk) => chunk.text).join(""), expected);

    for (const runId of runIds) {
      const run = await waitFor(`${runId} to succeed`, async () => {
        const view = await client.getRun(runId);
        return view.status === "SUCCESS" ? view : undefined;
      });
      assert.equal(run.executorId, mesh.executorId);
      assert.ok(run.createdAt && run.startedAt && run.completedAt);
    }
    const rows = await workflowRows(databaseUrl);
    assert.ok(
      rows.filter((row) => row.name === "agentRun").every((row) => row.executor_id === mesh.executorId),
    );
  });

  it("returns the same run for the same idempotency key, and refuses the key with another input", async () => {
    const first = await client.request("POST", "/v1/threads/idem/runs", {
      input: "once",
      idempotencyKey: "key-1",
    });
    const second = await client.request("POST", "/v1/threads/idem/runs", {
      input: "once",
      idempotencyKey: "key-1",
    });
    assert.equal(first.status, 202);
    assert.equal(second.status, 202);
    assert.equal(second.body.runId, first.body.runId);
    assert.deepEqual(first.body.links, {
      self: `/v1/runs/${first.body.runId}`,
      stream: `/v1/runs/${first.body.runId}/stream`,
    });
    const conflict = await client.request("POST", "/v1/threads/idem/runs", {
      input: "twice",
      idempotencyKey: "key-1",
    });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error.code, "idempotency_conflict");
    const rows = (await workflowRows(databaseUrl)).filter((row) => row.workflow_uuid === first.body.runId);
    assert.equal(rows.length, 1);
  });

  it("answers bad requests with 4xx JSON errors", async () => {
    const raw = async (method: string, path: string, body?: string, contentType = "application/json") => {
      const response = await fetch(`${mesh.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": contentType },
        body,
      });
      return { status: response.status, body: await response.json() };
    };
    const cases: Array<[string, Promise<{ status: number; body: Json }>, number, string]> = [
      ["invalid JSON", raw("POST", "/v1/threads/t/runs", "{not json"), 400, "invalid_json"],
      [
        "empty input",
        raw("POST", "/v1/threads/t/runs", JSON.stringify({ input: "" })),
        400,
        "invalid_request",
      ],
      [
        "oversized input",
        raw("POST", "/v1/threads/t/runs", JSON.stringify({ input: "x".repeat(32_769) })),
        400,
        "invalid_request",
      ],
      [
        "input of the wrong type",
        raw("POST", "/v1/threads/t/runs", JSON.stringify({ input: 42 })),
        400,
        "invalid_request",
      ],
      ["missing input", raw("POST", "/v1/threads/t/runs", JSON.stringify({})), 400, "invalid_request"],
      [
        "unknown field",
        raw("POST", "/v1/threads/t/runs", JSON.stringify({ input: "a", x: 1 })),
        400,
        "invalid_request",
      ],
      ["a JSON array", raw("POST", "/v1/threads/t/runs", "[]"), 400, "invalid_request"],
      [
        "not JSON content",
        raw("POST", "/v1/threads/t/runs", "input=a", "text/plain"),
        415,
        "unsupported_media_type",
      ],
      ["a huge body", raw("POST", "/v1/threads/t/runs", "x".repeat(300_000)), 413, "body_too_large"],
      [
        "a bad thread id",
        raw("POST", "/v1/threads/bad%20id/runs", JSON.stringify({ input: "a" })),
        400,
        "invalid_path",
      ],
      ["an unknown run", raw("GET", "/v1/runs/run-does-not-exist"), 404, "run_not_found"],
      ["the stream of an unknown run", raw("GET", "/v1/runs/run-nope/stream"), 404, "run_not_found"],
      ["cancelling an unknown run", raw("POST", "/v1/runs/run-nope/cancel"), 404, "run_not_found"],
      ["an unknown path", raw("GET", "/v1/nothing-here"), 404, "not_found"],
      [
        "a bad cron",
        raw("POST", "/v1/automations", JSON.stringify({ name: "bad", cron: "every day", input: "a" })),
        400,
        "invalid_schedule",
      ],
      [
        "a bad time zone",
        raw(
          "POST",
          "/v1/automations",
          JSON.stringify({ name: "tz", cron: "* * * * *", input: "a", timezone: "Mars/Base" }),
        ),
        400,
        "invalid_schedule",
      ],
    ];
    for (const [label, pending, status, code] of cases) {
      const { status: actual, body } = await pending;
      assert.equal(actual, status, `${label}: ${JSON.stringify(body)}`);
      assert.equal(body.error.code, code, label);
      assert.equal(typeof body.error.message, "string", label);
    }
  });

  it("requires the bearer token on /v1 but not on health endpoints", async () => {
    for (const authorization of [undefined, "Bearer wrong", `Basic ${TOKEN}`, "Bearer"]) {
      const response = await fetch(`${mesh.url}/v1/queues`, {
        headers: authorization ? { authorization } : {},
      });
      assert.equal(response.status, 401, String(authorization));
      assert.equal(((await response.json()) as Json).error.code, "unauthorized");
    }
    assert.equal(
      (await fetch(`${mesh.url}/v1/queues`, { headers: { authorization: `Bearer ${TOKEN}` } })).status,
      200,
    );
    assert.equal((await fetch(`${mesh.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${mesh.url}/metrics`)).status, 200);
  });

  it("counts every refused request and logs refusals rate-limited, without token material", async () => {
    const failures = async () => {
      const text = await (await fetch(`${mesh.url}/metrics`)).text();
      const count = (reason: string) =>
        Number(new RegExp(`mesh_auth_failures_total\\{reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
      return { missing: count("missing_token"), invalid: count("invalid_token") };
    };
    const before = await failures();
    const guess = "Bearer guessed-token-7c1e0f";
    for (let attempt = 0; attempt < 20; attempt++) {
      await fetch(`${mesh.url}/v1/queues`, { headers: { authorization: guess } });
      await fetch(`${mesh.url}/v1/queues`);
    }
    const after = await failures();
    assert.equal(after.invalid - before.invalid, 20);
    assert.equal(after.missing - before.missing, 20);
    // Rate-limited: at most one line per 10 s window since the process started, however many refusals.
    const refusals = mesh.logs.filter((line) => line.includes("without a valid bearer token"));
    const windows = Math.ceil((Date.now() - startedAt) / 10_000);
    assert.ok(
      refusals.length >= 1 && refusals.length <= windows,
      `${refusals.length} log lines, ${windows} windows`,
    );
    for (const line of mesh.logs)
      assert.ok(!line.includes("guessed-token-7c1e0f"), `token material logged: ${line}`);
  });

  it("warns at start-up only when the API runs without a token", () => {
    assert.ok(!mesh.logs.some((line) => line.includes("MESH_API_TOKEN is not set")));
  });

  it("creates, lists and deletes an automation of every accepted name shape", async () => {
    // Yearly: never fires during the test.
    for (const name of ["a", "9lives", "Daily.Report_v2-final", "a..b", "x".repeat(100)]) {
      const created = await client.request("POST", "/v1/automations", {
        name,
        cron: "0 0 1 1 *",
        input: "yearly",
      });
      assert.equal(created.status, 201, `${name}: ${JSON.stringify(created.body)}`);
      const listed = await client.request("GET", "/v1/automations");
      assert.ok(
        listed.body.automations.some((automation: { name: string }) => automation.name === name),
        name,
      );
      const deleted = await client.request("DELETE", `/v1/automations/${encodeURIComponent(name)}`);
      assert.equal(deleted.status, 204, `${name} could not be deleted: ${JSON.stringify(deleted.body)}`);
      const after = await client.request("GET", "/v1/automations");
      assert.ok(
        !after.body.automations.some((automation: { name: string }) => automation.name === name),
        name,
      );
    }
  });

  it("refuses automation names the API could not address again", async () => {
    for (const name of [".", "..", ".hidden", "-lead", "_lead", "a/b", "a b", "", "x".repeat(101)]) {
      const created = await client.request("POST", "/v1/automations", {
        name,
        cron: "0 0 1 1 *",
        input: "yearly",
      });
      assert.equal(created.status, 400, `${JSON.stringify(name)} accepted`);
      assert.equal(created.body.error.code, "invalid_request", JSON.stringify(created.body));
    }
    assert.deepEqual((await client.request("GET", "/v1/automations")).body.automations, []);
  });

  it("answers 409 to every concurrent create of a name but one", async () => {
    const attempts = await Promise.all(
      Array.from({ length: 8 }, () =>
        client.request("POST", "/v1/automations", { name: "raced", cron: "0 0 1 1 *", input: "yearly" }),
      ),
    );
    const statuses = attempts.map((attempt) => attempt.status).sort();
    assert.deepEqual(
      statuses,
      [201, 409, 409, 409, 409, 409, 409, 409],
      JSON.stringify(attempts.map((a) => a.body)),
    );
    assert.equal((await client.request("DELETE", "/v1/automations/raced")).status, 204);
  });

  it("cancels an enqueued run", async () => {
    // Occupy the thread so the next run waits in the queue.
    await client.createRun("cancel-thread", "first");
    const runId = await client.createRun("cancel-thread", "second");
    const cancel = await client.request("POST", `/v1/runs/${runId}/cancel`);
    assert.equal(cancel.status, 202);
    const run = await waitFor("the run to be cancelled", async () => {
      const view = await client.getRun(runId);
      return view.status === "CANCELLED" ? view : undefined;
    });
    assert.equal(run.output, undefined);
    const stream = await client.readStream(runId);
    assert.equal(stream.done?.status, "CANCELLED");
  });

  it("exports Prometheus metrics for the role, runs, queues, executors and stream", async () => {
    const text = await (await fetch(`${mesh.url}/metrics`)).text();
    assert.match(text, /mesh_process_info\{role="all",version="mesh-wf-1",executor="[^"]+"\} 1/);
    assert.match(text, /mesh_runs\{status="SUCCESS"\} [1-9]/);
    assert.match(text, /mesh_queue_depth\{queue="thread-gate",status="ENQUEUED"\}/);
    assert.match(text, /mesh_live_executors\{role="all"\} 1/);
    assert.match(text, /mesh_dispatch_latency_seconds_count\{queue="thread-gate"\} [1-9]/);
    assert.match(text, /mesh_stream_chunks_total\{direction="published"\} [1-9]/);
    assert.match(text, /mesh_stream_chunks_total\{direction="delivered"\} [1-9]/);
  });

  it("counts answered requests by route pattern, never by raw path", async () => {
    const runId = await client.createRun("metrics-route", "count me");
    const count = async () => {
      const text = await (await fetch(`${mesh.url}/metrics`)).text();
      const match = text.match(
        /mesh_http_requests_total\{method="GET",route="\/v1\/runs\/:runId",status="200"\} (\d+)/,
      );
      return Number(match?.[1] ?? 0);
    };
    const before = await count();
    for (let index = 0; index < 3; index++) await client.getRun(runId);
    assert.equal(await count(), before + 3);
    await fetch(`${mesh.url}/no/such/path`);
    const text = await (await fetch(`${mesh.url}/metrics`)).text();
    assert.match(text, /mesh_http_requests_total\{method="GET",route="unmatched",status="404"\} [1-9]/);
    assert.doesNotMatch(text, new RegExp(`route="[^"]*${runId}`), "no run ID in a label");
  });
});
