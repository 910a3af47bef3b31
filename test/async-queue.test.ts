import assert from "node:assert/strict";
import { AsyncQueue } from "../app/stream/async-queue.js";

describe("AsyncQueue (merges the live and replayed copies of a run's stream)", () => {
  it("yields items in push order, across awaits, until closed", async () => {
    const queue = new AsyncQueue<number>();
    queue.push(1);
    setTimeout(() => {
      queue.push(2);
      queue.push(3);
      queue.close();
    }, 10);
    const seen: number[] = [];
    for await (const item of queue) seen.push(item);
    assert.deepEqual(seen, [1, 2, 3]);
  });

  it("delivers what was queued before failing, then throws", async () => {
    const queue = new AsyncQueue<string>();
    queue.push("a");
    queue.fail(new Error("consumer gone"));
    queue.push("ignored after the end");
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const item of queue) seen.push(item);
    }, /consumer gone/);
    assert.deepEqual(seen, ["a"]);
  });

  it("wakes a waiting consumer on failure", async () => {
    const queue = new AsyncQueue<string>();
    setTimeout(() => queue.fail(new Error("late failure")), 10);
    await assert.rejects(async () => {
      for await (const _item of queue) assert.fail("no item expected");
    }, /late failure/);
  });
});
