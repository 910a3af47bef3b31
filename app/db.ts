import pg from "pg";
import { log } from "./log.js";

/**
 * A small pool for mesh's own queries (heartbeats, queue depth, readiness). DBOS keeps its own pool;
 * sharing one would let a burst of DBOS polling starve health checks.
 */
export function createMeshPool(databaseUrl: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4, connectionTimeoutMillis: 3_000 });
  // An idle client losing its connection (Postgres restart) must not crash the process.
  pool.on("error", (error) => log.warn({ err: error.message }, "mesh pool connection lost"));
  return pool;
}
