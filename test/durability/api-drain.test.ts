import assert from "node:assert/strict";
import { ApiClient } from "../support/api-client.js";
import { useCpuHogIfRequested } from "../support/cpu-hog.js";
import { type MeshProcess, startMesh, stopAll } from "../support/mesh-process.js";
import { expectedOutput } from "../support/run-checks.js";
import { createTestDatabase, dropTestDatabase, NATS_URL } from "../support/services.js";
import { waitFor } from "../support/wait.js";

// Fixture: two api processes behind "a load balancer" (the test picks one) and one worker; a run of
// 60 tokens at 50 ms, so its stream is open for about three seconds.
const TOKENS = 60;
const env = {
  MESH_BUILTIN_TOKENS: String(TOKENS),
  MESH_BUILTIN_TOKEN_DELAY_MS: "50",
  MESH_SHUTDOWN_GRACE_MS: "5000",
};

describe("durability: an api pod draining with open streams", () => {
  useCpuHogIfRequested();
  let databaseUrl: string;
  let processes: MeshProcess[] = [];

  before(async () => {
    databaseUrl = await createTestDatabase("api_drain");
    processes = await Promise.all([
      startMesh({ role: "api", databaseUrl, natsUrl: NATS_URL, env }),
      startMesh({ role: "api", databaseUrl, natsUrl: NATS_URL, env }),
      startMesh({ role: "worker", databaseUrl, natsUrl: NATS_URL, env }),
    ]);
  });

  after(async () => {
    await stopAll(processes);
    await dropTestDatabase(databaseUrl);
  });

  it("ends open streams cleanly on SIGTERM, and the client resumes on another api with Last-Event-ID", async () => {
    const [draining, remaining] = processes;
    assert.ok(draining && remaining);
    const input = "drain while streaming";
    const runId = await new ApiClient(draining.url).createRun("drain-stream", input);

    const client = new ApiClient(draining.url);
    const reading = client.readStream(runId);
    await waitFor("the run to be streaming", async () => (await client.getRun(runId)).status === "PENDING");
    await new Promise((resolve) => setTimeout(resolve, 600));
    draining.signal("SIGTERM");
    const cut = await reading;
    const { code } = await draining.waitExit();
    assert.equal(code, 0);
    assert.equal(cut.status, 200);
    assert.equal(cut.done, undefined, "the stream ended before the run did");
    assert.ok(
      cut.chunks.length > 0 && cut.chunks.length < TOKENS,
      `got ${cut.chunks.length} chunks before the drain`,
    );

    const resumed = await new ApiClient(remaining.url).readStream(runId, {
      lastEventId: cut.chunks.at(-1)?.id,
    });
    assert.equal(resumed.done?.status, "SUCCESS");
    const seqs = [...cut.chunks, ...resumed.chunks].map((chunk) => chunk.seq);
    assert.deepEqual(
      seqs,
      Array.from({ length: TOKENS }, (_, index) => index + 1),
    );
    assert.equal(
      [...cut.chunks, ...resumed.chunks].map((chunk) => chunk.text).join(""),
      expectedOutput(input, TOKENS),
    );
  });
});
