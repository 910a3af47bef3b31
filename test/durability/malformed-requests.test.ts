import assert from "node:assert/strict";
import { request } from "node:http";
import { useCpuHogIfRequested } from "../support/cpu-hog.js";
import { type MeshProcess, startMesh } from "../support/mesh-process.js";
import { createTestDatabase, dropTestDatabase, NATS_URL } from "../support/services.js";

// Fixture: one api process with a token; 1,000+ generated malformed requests from a seeded generator.
const TOKEN = "fuzz-token-31337";
const REQUESTS = 1_000;

/** mulberry32: a tiny seeded PRNG, so a failing case can be replayed. */
function prng(seed: number) {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  label: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

function generateCases(count: number, random: () => number): Case[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const junk = (length: number) =>
    Array.from({ length }, () => String.fromCharCode(Math.floor(random() * 0xd7ff) + 1)).join("");
  // Header values must be printable ASCII on the wire; anything else is refused by the client itself.
  const headerJunk = (length: number) =>
    Array.from({ length }, () => String.fromCharCode(33 + Math.floor(random() * 94))).join("");
  const auth = { authorization: `Bearer ${TOKEN}` };
  const json = { "content-type": "application/json", ...auth };
  const generators: Array<() => Case> = [
    () => ({
      label: "bad JSON",
      method: "POST",
      path: "/v1/threads/t/runs",
      headers: json,
      body: `{"input": ${junk(8)}`,
    }),
    () => ({
      label: "truncated JSON",
      method: "POST",
      path: "/v1/threads/t/runs",
      headers: json,
      body: '{"input": "abc',
    }),
    () => ({
      label: "wrong type",
      method: "POST",
      path: "/v1/threads/t/runs",
      headers: json,
      body: JSON.stringify({ input: pick([1, true, null, [], {}, 3.5]) }),
    }),
    () => ({
      label: "wrong key type",
      method: "POST",
      path: "/v1/threads/t/runs",
      headers: json,
      body: JSON.stringify({ input: "x", idempotencyKey: pick([1, false, {}, ""]) }),
    }),
    () => ({
      label: "JSON scalar",
      method: "POST",
      path: "/v1/threads/t/runs",
      headers: json,
      body: pick(['"s"', "1", "null", "true"]),
    }),
    () => ({
      label: "huge body",
      method: "POST",
      path: "/v1/threads/t/runs",
      headers: json,
      body: JSON.stringify({ input: "y".repeat(260_000 + Math.floor(random() * 100_000)) }),
    }),
    () => ({
      label: "oversized input",
      method: "POST",
      path: "/v1/threads/t/runs",
      headers: json,
      body: JSON.stringify({ input: "z".repeat(32_769 + Math.floor(random() * 1_000)) }),
    }),
    () => ({
      label: "binary body",
      method: "POST",
      path: "/v1/threads/t/runs",
      headers: json,
      body: Buffer.from(junk(64)),
    }),
    () => ({
      label: "bad content type",
      method: "POST",
      path: "/v1/threads/t/runs",
      headers: {
        ...auth,
        "content-type": pick(["text/plain", "application/xml", "multipart/form-data", "junk/;;;"]),
      },
      body: '{"input":"a"}',
    }),
    () => ({
      label: "bad token",
      method: "GET",
      path: "/v1/queues",
      headers: { authorization: `Bearer ${headerJunk(12)}` },
    }),
    () => ({
      label: "bad scheme",
      method: "GET",
      path: "/v1/runs/x",
      headers: { authorization: pick(["Basic abc", "Bearer", "", "token x"]) },
    }),
    () => ({
      label: "bad path",
      method: pick(["GET", "POST", "DELETE", "PUT", "PATCH"]),
      path: pick([
        "/v1/threads/%ZZ/runs",
        "/v1/runs/%00",
        `/v1/runs/${"a".repeat(4000)}`,
        "/v1//runs",
        "/v1/threads/../runs",
        "/v1/automations/%2e%2e",
      ]),
      headers: json,
      body: "{}",
    }),
    () => ({
      label: "bad Last-Event-ID",
      method: "GET",
      path: "/v1/runs/run-nope/stream",
      headers: { ...auth, "last-event-id": pick(["-1", "abc", "1e9", "99999999999999"]) },
    }),
    () => ({
      label: "bad automation",
      method: "POST",
      path: "/v1/automations",
      headers: json,
      body: JSON.stringify({
        name: pick(["", "a b", "x".repeat(300), 5]),
        cron: pick(["", "* *", "61 * * * *", 7]),
        input: pick(["", 1, "ok"]),
      }),
    }),
    () => ({
      label: "unknown method",
      method: pick(["PUT", "PATCH", "OPTIONS"]),
      path: "/v1/runs/run-1",
      headers: auth,
    }),
  ];
  return Array.from({ length: count }, () => pick(generators)());
}

/**
 * Sends one request with node:http (fetch refuses some malformed headers) on its own connection: a
 * GET body goes out unframed, which breaks HTTP framing for anything sent after it on a shared socket.
 */
function send(port: number, testCase: Case): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: testCase.method,
        path: testCase.path,
        headers: testCase.headers,
        agent: false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"]), body }),
        );
      },
    );
    req.on("error", reject);
    req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
    if (testCase.body !== undefined) req.end(testCase.body);
    else req.end();
  });
}

/** A body sent in slow pieces, optionally abandoned half-way. */
function sendSlowly(port: number, abandon: boolean): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/v1/threads/slow/runs",
        headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", () => resolve(-1));
    const pieces = ['{"inp', 'ut": "sl', "ow bo", 'dy"}'];
    let index = 0;
    const timer = setInterval(() => {
      if (abandon && index === 2) {
        clearInterval(timer);
        req.destroy();
        return;
      }
      const piece = pieces[index++];
      if (piece === undefined) {
        clearInterval(timer);
        req.end();
      } else req.write(piece);
    }, 150);
  });
}

describe("durability: malformed requests", () => {
  useCpuHogIfRequested();
  let databaseUrl: string;
  let api: MeshProcess;

  before(async () => {
    databaseUrl = await createTestDatabase("fuzz");
    api = await startMesh({ role: "api", databaseUrl, natsUrl: NATS_URL, env: { MESH_API_TOKEN: TOKEN } });
  });

  after(async () => {
    await api.stop();
    await dropTestDatabase(databaseUrl);
  });

  it(`answers ${REQUESTS} generated malformed requests with 4xx JSON errors and stays up`, async () => {
    const cases = generateCases(REQUESTS, prng(20261127));
    const statuses = new Map<number, number>();
    const concurrency = 16;
    for (let start = 0; start < cases.length; start += concurrency) {
      const batch = cases.slice(start, start + concurrency);
      const answers = await Promise.all(batch.map((testCase) => send(api.port, testCase)));
      for (const [index, answer] of answers.entries()) {
        const testCase = batch[index] as Case;
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        assert.ok(
          answer.status >= 400 && answer.status < 500,
          `${testCase.label} ${testCase.method} ${testCase.path.slice(0, 60)} -> ${answer.status}: ${answer.body.slice(0, 200)}`,
        );
        assert.match(
          answer.contentType,
          /application\/json/,
          `${testCase.label} ${testCase.method} ${testCase.path.slice(0, 60)} -> ${answer.status} ${answer.contentType}: ${answer.body.slice(0, 80)}`,
        );
        const parsed = JSON.parse(answer.body) as { error?: { code?: unknown; message?: unknown } };
        assert.equal(typeof parsed.error?.code, "string", testCase.label);
        assert.equal(typeof parsed.error?.message, "string", testCase.label);
      }
    }
    console.log(`      status counts: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);

    const slow = await Promise.all([
      sendSlowly(api.port, false),
      sendSlowly(api.port, true),
      sendSlowly(api.port, false),
    ]);
    assert.equal(slow[0], 202, "a slow but complete body is accepted");
    assert.equal(slow[1], -1, "an abandoned body just closes");
    assert.equal(api.exited, false);
    assert.equal((await fetch(`${api.url}/readyz`)).status, 200);
    const errors = api.logs.filter((line) => /"level":(50|60)/.test(line));
    assert.deepEqual(errors, [], "no request produced a server error");
  });
});
