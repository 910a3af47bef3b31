import pg from "pg";
import { log } from "./log.js";

export interface MeshPoolOptions {
  /**
   * Postgres ends a session of this pool left idle inside a transaction this long (its locks go with it):
   * a process frozen mid-transaction must not hold them past the time it counts as dead.
   */
  idleTransactionTimeoutMs?: number;
}

/**
 * A small pool for mesh's own queries (heartbeats, queue depth, readiness). DBOS keeps its own pool;
 * sharing one would let a burst of DBOS polling starve health checks.
 */
export function createMeshPool(databaseUrl: string, options: MeshPoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4, connectionTimeoutMillis: 3_000 });
  // An idle client losing its connection (Postgres restart) must not crash the process.
  pool.on("error", (error) => log.warn({ err: error.message }, "mesh pool connection lost"));
  const { idleTransactionTimeoutMs } = options;
  if (idleTransactionTimeoutMs !== undefined) {
    // Queued ahead of the borrower's first query, outside any transaction: it holds for the session.
    const setting = `SET idle_in_transaction_session_timeout = ${Math.max(1, Math.round(idleTransactionTimeoutMs))}`;
    pool.on("connect", (client) => {
      client.query(setting).catch((error: Error) => {
        log.warn(
          { err: error.message },
          "could not set idle_in_transaction_session_timeout on a mesh connection",
        );
      });
    });
  }
  return pool;
}
