import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { ApiClient } from "./support/api-client.js";

// The suite's own SSE reader (test/support/api-client.ts), against a server that writes a whole
// stream at once and ends it — as mesh does when it answers a finished run from the stored result.
// Aborting the request inside the read loop made the body's clean-up reject and replace the result:
// about 1 read in 10 lost its `done` (the NATS-restart test's "late stream without done").
describe("the test suite's SSE reader", () => {
  let server: Server;
  let client: ApiClient;

  before(async () => {
    server = createServer((_request, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      let body = "retry: 2000\n\n";
      for (let seq = 1; seq <= 30; seq++)
        body += `event: chunk\nid: ${seq}\ndata: ${JSON.stringify({ seq, text: ` t${seq}` })}\n\n`;
      body += `event: done\nid: done\ndata: ${JSON.stringify({ status: "SUCCESS", chunkCount: 30 })}\n\n`;
      response.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (!address || typeof address === "string") throw new Error("no address");
    client = new ApiClient(`http://127.0.0.1:${address.port}`);
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("keeps every done it read, however fast the stream ends", async () => {
    const reads = await Promise.all(Array.from({ length: 200 }, () => client.readStream("run")));
    const withoutDone = reads.filter((read) => read.done?.status !== "SUCCESS");
    assert.equal(withoutDone.length, 0, `${withoutDone.length} of 200 reads lost done`);
    assert.ok(reads.every((read) => read.chunks.length === 30));
  });

  it("stops after maxChunks, as a client cut off mid-stream", async () => {
    const read = await client.readStream("run", { maxChunks: 10 });
    assert.deepEqual(
      read.chunks.map((chunk) => chunk.seq),
      Array.from({ length: 10 }, (_, index) => index + 1),
    );
    assert.equal(read.done, undefined);
  });
});
