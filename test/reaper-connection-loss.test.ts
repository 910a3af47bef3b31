import assert from "node:assert/strict";
import pg from "pg";
import { Reaper } from "../app/durability/reaper.js";
import { createTestDatabase, dropTestDatabase } from "./support/services.js";

// The reaper holds one pool connection for its whole pass (the advisory lock is per session). Postgres
// restarting between two of its queries kills that connection while nothing waits on it: pg then emits
// 'error' on the client, and with no listener that takes the process down (seen once in CI as an api
// crashing in the Postgres-restart test). Here the connection is terminated right after the pass's first
// query, deterministically, in this very process.
describe("the reaper when its connection dies mid-pass", () => {
  let databaseUrl: string;
  let pool: pg.Pool;

  before(async () => {
    databaseUrl = await createTestDatabase("reaper_loss");
    pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    pool.on("error", () => undefined); // idle clients: the pool's own concern
  });

  after(async () => {
    await pool.end();
    await dropTestDatabase(databaseUrl);
  });

  it("survives it: the pass fails, is logged, and the next pass gets a fresh connection", async () => {
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    const connect = pool.connect.bind(pool);
    let terminated = 0;
    // After the pass's first query (the lock), its backend is terminated and the 'error' event is let
    // through before the pass goes on.
    (pool as unknown as { connect: () => Promise<pg.PoolClient> }).connect = async () => {
      const client = await connect();
      const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
      let first = true;
      (client as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (...args) => {
        const result = await query(...args);
        if (first && terminated === 0) {
          first = false;
          const pid = (client as unknown as { processID: number }).processID;
          await admin.query("SELECT pg_terminate_backend($1)", [pid]);
          terminated++;
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
        return result;
      };
      return client;
    };
    const reaper = new Reaper(pool, { selfId: "reaper-test", executorTimeoutMs: 5_000, intervalMs: 60_000 });
    assert.equal(await reaper.reapOnce(), 0, "the broken pass reaps nothing");
    assert.equal(terminated, 1);
    (pool as unknown as { connect: () => Promise<pg.PoolClient> }).connect = connect;
    const { rows } = await pool.query<{ alive: number }>("SELECT 1 AS alive");
    assert.equal(rows[0]?.alive, 1, "the pool hands out working connections afterwards");
    await admin.end();
  });
});
