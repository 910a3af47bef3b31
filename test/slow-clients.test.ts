import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { ApiClient } from "./support/api-client.js";
import { type MeshProcess, startMesh } from "./support/mesh-process.js";
import { createTestDatabase, dropTestDatabase } from "./support/services.js";

// Fixture: one `all` process with short HTTP limits (headers within 2 s, whole request within 4 s), and runs
// that stream for about 10 s: slow clients are cut, long-lived SSE responses are not.
const HEADERS_TIMEOUT_MS = 2_000;
const REQUEST_TIMEOUT_MS = 4_000;

/** Dribbles `chunks` to a raw connection every `everyMs` until the server closes it; resolves ms until then. */
async function dribbleUntilClosed(port: number, first: string, next: () => string, everyMs: number) {
  const socket: Socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  const started = Date.now();
  let answer = "";
  socket.on("data", (data) => {
    answer += data.toString();
  });
  socket.write(first);
  const timer = setInterval(() => {
    if (!socket.destroyed && socket.writable) socket.write(next());
  }, everyMs);
  await Promise.race([once(socket, "close"), new Promise((resolve) => setTimeout(resolve, 30_000))]);
  clearInterval(timer);
  socket.destroy();
  return { closedAfterMs: Date.now() - started, answer };
}

describe("slow clients: HTTP server limits", () => {
  let databaseUrl: string;
  let mesh: MeshProcess;
  before(async () => {
    databaseUrl = await createTestDatabase("slow_clients");
    mesh = await startMesh({
      role: "all",
      databaseUrl,
      env: {
        MESH_HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
        MESH_HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
        MESH_BUILTIN_TOKENS: "40",
        MESH_BUILTIN_TOKEN_DELAY_MS: "250",
      },
    });
  });
  after(async () => {
    await mesh.stop();
    await dropTestDatabase(databaseUrl);
  });

  it("cuts a client that sends its headers a byte at a time (slowloris)", async () => {
    const { closedAfterMs, answer } = await dribbleUntilClosed(
      mesh.port,
      "GET /healthz HTTP/1.1\r\nHost: mesh\r\n",
      () => "X",
      300,
    );
    assert.ok(closedAfterMs >= HEADERS_TIMEOUT_MS - 200, `cut after ${closedAfterMs} ms, before the limit`);
    assert.ok(closedAfterMs <= HEADERS_TIMEOUT_MS + 3_000, `held for ${closedAfterMs} ms`);
    assert.match(answer, /^HTTP\/1\.1 408 /, answer);
  });

  it("cuts a client that sends its body a byte at a time", async () => {
    const { closedAfterMs, answer } = await dribbleUntilClosed(
      mesh.port,
      "POST /v1/threads/slow/runs HTTP/1.1\r\nHost: mesh\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{",
      () => " ",
      300,
    );
    assert.ok(closedAfterMs >= REQUEST_TIMEOUT_MS - 200, `cut after ${closedAfterMs} ms, before the limit`);
    assert.ok(closedAfterMs <= REQUEST_TIMEOUT_MS + 3_000, `held for ${closedAfterMs} ms`);
    assert.doesNotMatch(answer, /^HTTP\/1\.1 20/, "a slow body never becomes a run");
  });

  it("keeps an SSE stream open well past both limits", async () => {
    const client = new ApiClient(mesh.url);
    const runId = await client.createRun("long", "a long answer");
    const started = Date.now();
    const stream = await client.readStream(runId);
    const openMs = Date.now() - started;
    assert.ok(openMs > REQUEST_TIMEOUT_MS * 2, `stream open ${openMs} ms`);
    assert.equal(stream.done?.status, "SUCCESS");
    assert.equal(stream.chunks.length, 40);
  });
});
