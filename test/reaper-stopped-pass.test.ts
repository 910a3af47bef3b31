import assert from "node:assert/strict";
import pg from "pg";
import { runMigrations } from "../app/durability/migrations.js";
import { Reaper } from "../app/durability/reaper.js";
import { createTestDatabase, dropTestDatabase } from "./support/services.js";
import { waitFor } from "./support/wait.js";

// One reaper at a time holds the reaper lock. A process stopped in the middle of its pass (SIGSTOP, a long
// pause) sends nothing more; if its lock outlived that, no other process could ever take over the runs of
// dead executors — the frozen-worker durability test caught exactly that under CPU load. Here the first
// pass stops right after taking the lock, deterministically: a second reaper must get it once the executor
// timeout has passed.
describe("the reaper when another pass stopped half-way", () => {
  let databaseUrl: string;
  const pools: pg.Pool[] = [];
  const newPool = () => {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    pool.on("error", () => undefined); // the stopped pass's connection is ended by Postgres
    pools.push(pool);
    return pool;
  };

  before(async () => {
    databaseUrl = await createTestDatabase("reaper_stopped");
    await runMigrations(databaseUrl, { version: "reaper-test", promote: true });
  });

  after(async () => {
    // The stopped pass never releases its client: its pool is not waited for.
    for (const pool of pools) void pool.end().catch(() => undefined);
    await dropTestDatabase(databaseUrl);
  });

  it("takes the lock once the stopped pass's executor timeout has passed", async () => {
    const executorTimeoutMs = 3_000;
    // Reaper A: every query after the one that took the lock is never sent, as from a frozen process.
    const stoppedPool = newPool();
    const connect = stoppedPool.connect.bind(stoppedPool);
    let stoppedHoldsLock = false;
    // pool.query's own connect(callback) goes through unchanged; the pass's checked-out client is wrapped.
    (stoppedPool as unknown as { connect: (callback?: unknown) => unknown }).connect = async (
      callback?: unknown,
    ) => {
      if (typeof callback === "function") return (connect as (callback: unknown) => void)(callback);
      const client = await connect();
      const query = client.query.bind(client) as (
        ...args: unknown[]
      ) => Promise<{ rows: { locked?: boolean }[] }>;
      (client as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (...args) => {
        if (stoppedHoldsLock) return new Promise(() => undefined);
        const result = await query(...args);
        if (result.rows?.[0]?.locked === true) stoppedHoldsLock = true;
        return result;
      };
      return client;
    };
    void new Reaper(stoppedPool, { selfId: "stopped", executorTimeoutMs, intervalMs: 60_000 }).reapOnce();
    await waitFor("the stopped pass to hold the lock", () => stoppedHoldsLock, { timeoutMs: 10_000 });

    // Reaper B, in another process's place: its passes find the lock taken until Postgres ends A's.
    const livePool = newPool();
    const liveConnect = livePool.connect.bind(livePool);
    let liveLocked = false;
    // pool.query's own connect(callback) goes through unchanged; the pass's checked-out client is wrapped.
    (livePool as unknown as { connect: (callback?: unknown) => unknown }).connect = async (
      callback?: unknown,
    ) => {
      if (typeof callback === "function") return (liveConnect as (callback: unknown) => void)(callback);
      const client = await liveConnect();
      const query = client.query.bind(client) as (
        ...args: unknown[]
      ) => Promise<{ rows: { locked?: boolean }[] }>;
      (client as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (...args) => {
        const result = await query(...args);
        if (result.rows?.[0]?.locked === true) liveLocked = true;
        return result;
      };
      return client;
    };
    const live = new Reaper(livePool, { selfId: "live", executorTimeoutMs, intervalMs: 60_000 });
    assert.equal(await live.reapOnce(), 0);
    assert.equal(liveLocked, false, "the lock is taken while the stopped pass is within its timeout");
    await waitFor(
      "the live reaper to take the lock",
      async () => {
        await live.reapOnce();
        return liveLocked;
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    );
  });
});
