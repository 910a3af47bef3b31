import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { ApiClient } from "./support/api-client.js";
import { type MeshProcess, startMesh } from "./support/mesh-process.js";
import { createTestDatabase, dropTestDatabase } from "./support/services.js";
import { waitFor } from "./support/wait.js";

// Fixture: a local stand-in for an OpenAI-compatible streaming chat API, and one `all` process using it.
const STAND_IN_TOKENS = ["Hello", ",", " from", " the", " stand", "-in", "."];
const API_KEY = "sk-test-stand-in";

describe("openai:<model> provider against a local stand-in API", () => {
  let standIn: Server;
  const requests: Array<{
    authorization?: string;
    body: { model: string; stream: boolean; messages: unknown[] };
  }> = [];
  let databaseUrl: string;
  let mesh: MeshProcess;

  before(async () => {
    standIn = createServer(async (request: IncomingMessage, response) => {
      let raw = "";
      for await (const part of request) raw += part;
      requests.push({ authorization: request.headers.authorization, body: JSON.parse(raw) });
      if (request.url !== "/v1/chat/completions") {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { "content-type": "text/event-stream" });
      for (const token of STAND_IN_TOKENS) {
        response.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: token } }] })}\n\n`);
      }
      response.write(
        `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\n`,
      );
      response.end("data: [DONE]\n\n");
    });
    standIn.listen(0, "127.0.0.1");
    await once(standIn, "listening");
    const address = standIn.address();
    const port = typeof address === "object" && address ? address.port : 0;

    databaseUrl = await createTestDatabase("openai");
    mesh = await startMesh({
      role: "all",
      databaseUrl,
      env: {
        MESH_MODEL: "openai:stand-in-1",
        OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
        OPENAI_API_KEY: API_KEY,
      },
    });
  });

  after(async () => {
    await mesh.stop();
    standIn.close();
    await dropTestDatabase(databaseUrl);
  });

  it("streams the model's deltas as chunks and stores them as the run's output", async () => {
    const client = new ApiClient(mesh.url);
    const runId = await client.createRun("openai-thread", "Say hello");
    const stream = await client.readStream(runId);
    assert.deepEqual(
      stream.chunks.map((chunk) => chunk.text),
      STAND_IN_TOKENS,
    );
    assert.equal(stream.done?.status, "SUCCESS");
    const run = await waitFor("the run to succeed", async () => {
      const view = await client.getRun(runId);
      return view.status === "SUCCESS" ? view : undefined;
    });
    assert.equal(run.output, STAND_IN_TOKENS.join(""));

    const [request] = requests;
    assert.equal(request?.authorization, `Bearer ${API_KEY}`);
    assert.equal(request?.body.model, "stand-in-1");
    assert.equal(request?.body.stream, true);
    assert.deepEqual(request?.body.messages, [{ role: "user", content: "Say hello" }]);
  });
});
