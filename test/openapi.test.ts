import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describeHttpApi } from "../app/http/create-http-app.js";
import { recordedResponses } from "./contract/record-responses.js";
import { type RecordedResponse, ResponseContract } from "./contract/response-contract.js";
import { ApiClient } from "./support/api-client.js";
import { type MeshProcess, startMesh, stopAll } from "./support/mesh-process.js";
import { createTestDatabase, dropTestDatabase, NATS_URL } from "./support/services.js";
import { waitFor } from "./support/wait.js";

// Fixture: an api and a worker with an API token; the OpenAPI document the routes generate, the one
// the api serves, and the committed docs/openapi.json.
const TOKEN = "test-token-openapi";
const env = { MESH_API_TOKEN: TOKEN, MESH_BUILTIN_TOKENS: "8", MESH_CHECKPOINT_EVERY: "4" };
const COMMITTED = new URL("../docs/openapi.json", import.meta.url);

describe("the OpenAPI contract", () => {
  let databaseUrl: string;
  let api: MeshProcess;
  let worker: MeshProcess;
  let client: ApiClient;
  // biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document, read field by field
  let document: any;

  before(async () => {
    databaseUrl = await createTestDatabase("openapi");
    api = await startMesh({ role: "api", databaseUrl, natsUrl: NATS_URL, env });
    worker = await startMesh({ role: "worker", databaseUrl, natsUrl: NATS_URL, env });
    client = new ApiClient(api.url, TOKEN);
    document = await describeHttpApi();
  });

  after(async () => {
    await stopAll([api, worker]);
    await dropTestDatabase(databaseUrl);
  });

  it("is served at /openapi.json without a token, equal to the committed docs/openapi.json", async () => {
    const response = await fetch(`${api.url}/openapi.json`);
    assert.equal(response.status, 200);
    const served = await response.json();
    assert.deepEqual(served, document);
    assert.deepEqual(
      JSON.parse(await readFile(COMMITTED, "utf8")),
      document,
      "docs/openapi.json is current (npm run openapi writes it)",
    );
    assert.equal(document.openapi, "3.1.0");
    for (const path of ["/v1/threads/{threadId}/runs", "/v1/runs/{runId}/stream", "/v1/queues", "/healthz"])
      assert.ok(document.paths[path], `documents ${path}`);
    const workerDocument = await fetch(`${worker.url}/openapi.json`);
    assert.equal(workerDocument.status, 404, "a worker serves no API, and no API document");
  });

  it("passes Redocly's recommended rules with no error and no warning", async function () {
    this.timeout(120_000);
    const directory = await mkdtemp(join(tmpdir(), "mesh-openapi-"));
    const file = join(directory, "openapi.json");
    await writeFile(file, JSON.stringify(document));
    const redocly = new URL("../node_modules/.bin/redocly", import.meta.url).pathname;
    const { stdout, stderr } = await promisify(execFile)(redocly, ["lint", file, "--format=json"], {
      env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
    }).catch((error: { stdout: string; stderr: string }) => error);
    const report = JSON.parse(stdout.slice(stdout.indexOf("{")));
    assert.deepEqual(
      report.problems.map(
        (problem: { ruleId: string; message: string }) => `${problem.ruleId}: ${problem.message}`,
      ),
      [],
      stderr,
    );
    assert.equal(report.totals.errors, 0);
  });

  it("catches a response that breaks it: a missing field, an undocumented status, a wrong content type", () => {
    const contract = new ResponseContract(document);
    const run = JSON.stringify({
      runId: "r",
      threadId: "t",
      status: "SUCCESS",
      createdAt: "2026-01-01T00:00:00.000Z",
    });
    const ok = { method: "GET", path: "/v1/runs/r", status: 200, contentType: "application/json", body: run };
    assert.equal(contract.violation(ok), undefined);
    const { createdAt: _createdAt, ...withoutCreatedAt } = JSON.parse(run);
    assert.match(contract.violation({ ...ok, body: JSON.stringify(withoutCreatedAt) }) ?? "", /createdAt/);
    assert.match(
      contract.violation({ ...ok, body: JSON.stringify({ ...JSON.parse(run), status: 3 }) }) ?? "",
      /status/,
    );
    assert.match(contract.violation({ ...ok, status: 418 }) ?? "", /not documented/);
    assert.match(contract.violation({ ...ok, contentType: "text/html" }) ?? "", /content type/);
    assert.match(
      contract.violation({ ...ok, status: 404, body: JSON.stringify({ message: "no" }) }) ?? "",
      /error/,
      "an error without the error shape",
    );
    assert.match(
      contract.violation({ ...ok, path: "/v1/unknown", status: 200 }) ?? "",
      /no documented operation/,
    );
    assert.equal(
      contract.violation({
        ...ok,
        path: "/v1/unknown",
        status: 404,
        body: JSON.stringify({ error: { code: "not_found", message: "no route" } }),
      }),
      undefined,
    );
  });

  it("holds for every operation, answered and refused, as a real api answers it", async () => {
    const runId = await client.createRun("contract", "contract run");
    await waitFor("run finished", async () => (await client.getRun(runId)).status === "SUCCESS");
    const calls: Array<[string, string, unknown?, Record<string, string>?]> = [
      ["GET", "/v1/runs?limit=5"],
      ["GET", "/v1/runs?limit=0"],
      ["GET", `/v1/runs/${runId}`],
      ["GET", "/v1/runs/nope"],
      ["GET", "/v1/runs/bad%20id"],
      ["POST", `/v1/runs/${runId}/cancel`],
      ["POST", `/v1/runs/${runId}/stream-ticket`],
      ["POST", "/v1/runs/nope/stream-ticket"],
      ["GET", `/v1/runs/${runId}/stream`],
      ["GET", `/v1/runs/${runId}/stream`, undefined, { "last-event-id": "done" }],
      ["GET", `/v1/runs/${runId}/stream`, undefined, { "last-event-id": "x" }],
      ["POST", "/v1/threads/contract/runs", { input: "" }],
      ["POST", "/v1/threads/contract/runs", { input: "again", idempotencyKey: "k" }],
      ["POST", "/v1/threads/contract/runs", { input: "other", idempotencyKey: "k" }],
      ["POST", "/v1/automations", { name: "contract", cron: "0 0 1 1 *", input: "yearly" }],
      ["POST", "/v1/automations", { name: "contract", cron: "0 0 1 1 *", input: "yearly" }],
      ["GET", "/v1/automations"],
      ["DELETE", "/v1/automations/contract"],
      ["DELETE", "/v1/automations/contract"],
      ["GET", "/v1/queues"],
      ["GET", "/v1/executors"],
      ["GET", "/v1/no-such-thing"],
      ["GET", "/healthz"],
      ["GET", "/readyz"],
      ["GET", "/metrics"],
    ];
    const answers: RecordedResponse[] = [];
    for (const [method, path, body, headers] of calls) {
      const response = await fetch(`${api.url}${path}`, {
        method,
        headers: client.headers({ ...(body ? { "content-type": "application/json" } : {}), ...headers }),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const contentType = response.headers.get("content-type") ?? undefined;
      const text = await response.text();
      answers.push({
        method,
        path: new URL(path, api.url).pathname,
        status: response.status,
        contentType,
        body: contentType?.startsWith("application/json") ? text : undefined,
      });
    }
    const unauthorized = await fetch(`${api.url}/v1/queues`);
    answers.push({
      method: "GET",
      path: "/v1/queues",
      status: unauthorized.status,
      contentType: unauthorized.headers.get("content-type") ?? undefined,
      body: await unauthorized.text(),
    });
    const statuses = new Set(answers.map((answer) => answer.status));
    for (const status of [200, 201, 202, 204, 400, 401, 404, 409])
      assert.ok(statuses.has(status), `saw ${status}`);
    const contract = new ResponseContract(document);
    assert.deepEqual(answers.map((answer) => contract.violation(answer)).filter(Boolean), []);
    assert.ok(
      recordedResponses().some((response) => response.path === `/v1/runs/${runId}`),
      "the suite-wide recorder sees the suite's API calls",
    );
  });
});
