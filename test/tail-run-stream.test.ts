import assert from "node:assert/strict";
import type { WorkflowStatus } from "@dbos-inc/dbos-sdk";
import { createMemoryBus } from "../app/stream/memory-bus.js";
import { type ClientStreamEvent, tailRunStream } from "../app/stream/tail-run-stream.js";
import { AGENT_RUN_WORKFLOW } from "../app/workflows/agent-run.js";

// tailRunStream's promise to a client: a finished run's stream ends with `done`, whatever broke on the way.
// Here the status read fails at moments a real one can (Postgres restarting, a pool timing out).

const RUN_ID = "run-tail-test";
const CHUNKS = ["alpha ", "beta ", "gamma"];

function finishedStatus(): WorkflowStatus {
  return {
    workflowID: RUN_ID,
    workflowName: AGENT_RUN_WORKFLOW,
    status: "SUCCESS",
    input: [{ threadId: "thread-1", input: "hello", enqueuedAt: 0 }],
    output: { chunks: CHUNKS },
  } as unknown as WorkflowStatus;
}

/** A status read that throws on the calls listed (1-based), and answers the finished run otherwise. */
function failingReads(failOn: number[]) {
  let calls = 0;
  return async () => {
    calls += 1;
    if (failOn.includes(calls)) throw new Error(`status read ${calls} failed`);
    return finishedStatus();
  };
}

async function collect(events: AsyncIterable<ClientStreamEvent>): Promise<ClientStreamEvent[]> {
  const all: ClientStreamEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

describe("tailRunStream: a finished run's stream ends with done", () => {
  it("answers from the stored result when the first status read fails", async () => {
    const events = await collect(
      tailRunStream({
        runId: RUN_ID,
        afterSeq: 0,
        bus: createMemoryBus(),
        readStatus: failingReads([1]),
        signal: new AbortController().signal,
      }),
    );
    assert.deepEqual(
      events.filter((event) => event.type === "chunk").map((event) => event.text),
      CHUNKS,
    );
    const done = events.at(-1);
    assert.equal(done?.type, "done");
    assert.equal(done?.type === "done" && done.status, "SUCCESS");
  });

  it("completes a stream whose chunks were lost when the status read fails mid-stream, without repeats", async () => {
    const bus = createMemoryBus();
    await bus.publishChunk(RUN_ID, { seq: 1, text: CHUNKS[0] ?? "" });
    // Chunks 2 and 3 were published while the bus was down; done says there were 3.
    await bus.publishDone(RUN_ID, { status: "SUCCESS", output: CHUNKS.join(""), chunkCount: 3 });
    const events = await collect(
      tailRunStream({
        runId: RUN_ID,
        afterSeq: 0,
        bus,
        // Call 2 is the wait for the terminal status after done: it fails.
        readStatus: failingReads([2]),
        signal: new AbortController().signal,
      }),
    );
    assert.deepEqual(
      events.filter((event) => event.type === "chunk").map((event) => event.seq),
      [1, 2, 3],
    );
    assert.equal(events.at(-1)?.type, "done");
  });

  it("ends an unfinished run's stream with the error (the client resumes with Last-Event-ID)", async () => {
    let calls = 0;
    const readStatus = async () => {
      calls += 1;
      if (calls === 1) throw new Error("status read failed");
      return { ...finishedStatus(), status: "PENDING", output: undefined } as unknown as WorkflowStatus;
    };
    await assert.rejects(
      collect(
        tailRunStream({
          runId: RUN_ID,
          afterSeq: 0,
          bus: createMemoryBus(),
          readStatus,
          signal: new AbortController().signal,
        }),
      ),
      /status read failed/,
    );
  });
  it("ends with done when the bus's tail ends early, without done, on a finished run", async () => {
    // A bus whose tail delivers every chunk and then just ends (no `done`): the idle check answers.
    const bus = {
      ...createMemoryBus(),
      isAvailable: () => true,
      hasMessages: async () => true,
      async *tail() {
        for (const [index, text] of CHUNKS.entries()) yield { type: "chunk" as const, seq: index + 1, text };
      },
    };
    const events = await collect(
      tailRunStream({
        runId: RUN_ID,
        afterSeq: 0,
        bus,
        readStatus: async () => finishedStatus(),
        signal: new AbortController().signal,
      }),
    );
    assert.deepEqual(
      events.map((event) => (event.type === "chunk" ? event.text : `done ${event.status}`)),
      [...CHUNKS, "done SUCCESS"],
    );
  });
});
