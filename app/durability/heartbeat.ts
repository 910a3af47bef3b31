import type pg from "pg";
import { log } from "../log.js";

export interface ExecutorIdentity {
  executorId: string;
  role: string;
  version: string;
  listenQueues: string[] | undefined;
}

/**
 * Keeps this process's row in mesh.executors fresh. The reaper treats an executor whose last_seen is
 * older than MESH_EXECUTOR_TIMEOUT_MS as dead; /v1/queues counts the fresh ones as live listeners.
 */
export class Heartbeat {
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly identity: ExecutorIdentity,
    private readonly intervalMs: number,
  ) {}

  async start(): Promise<void> {
    await this.beat();
    this.#timer = setInterval(() => void this.beat(), this.intervalMs);
    this.#timer.unref();
  }

  async beat(): Promise<void> {
    const { executorId, role, version, listenQueues } = this.identity;
    try {
      await this.pool.query(
        `INSERT INTO mesh.executors (executor_id, role, version, listen_queues)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (executor_id) DO UPDATE
           SET role = $2, version = $3, listen_queues = $4, last_seen = now(), stopped_at = NULL, reaped_at = NULL`,
        [executorId, role, version, listenQueues ?? null],
      );
      if (this.#failures > 0) log.info({ failures: this.#failures }, "heartbeat recovered");
      this.#failures = 0;
    } catch (error) {
      this.#failures++;
      if (this.#failures === 1 || this.#failures % 10 === 0) {
        log.warn({ err: (error as Error).message, failures: this.#failures }, "heartbeat failed");
      }
    }
  }

  /** Stops beating and marks the executor stopped, so it stops counting as a live listener at once. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.pool
      .query("UPDATE mesh.executors SET stopped_at = now() WHERE executor_id = $1", [
        this.identity.executorId,
      ])
      .catch((error: Error) => log.warn({ err: error.message }, "could not mark executor stopped"));
  }
}
