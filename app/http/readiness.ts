import type pg from "pg";

export type Lifecycle = "starting" | "ready" | "draining";

/** How long /readyz waits for Postgres: below the readiness probe's timeoutSeconds (3) in the Deployments. */
export const READINESS_DATABASE_TIMEOUT_MS = 2_000;

/**
 * What /readyz answers: 200 only when started, not draining, and Postgres answered recently, within
 * READINESS_DATABASE_TIMEOUT_MS (a Postgres that hangs is as unready as one that refuses). The Postgres
 * probe is cached briefly so a burst of probes costs one query.
 */
export class Readiness {
  #state: Lifecycle = "starting";
  #lastCheck = 0;
  #lastOk = false;
  #inflight: Promise<boolean> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly cacheMs = 1_000,
  ) {}

  get state(): Lifecycle {
    return this.#state;
  }

  markReady(): void {
    if (this.#state === "starting") this.#state = "ready";
  }

  markDraining(): void {
    this.#state = "draining";
  }

  async check(): Promise<{ ready: boolean; reason?: string }> {
    if (this.#state !== "ready") return { ready: false, reason: this.#state };
    const databaseOk = await this.#databaseOk();
    return databaseOk ? { ready: true } : { ready: false, reason: "postgres unreachable" };
  }

  async #databaseOk(): Promise<boolean> {
    if (Date.now() - this.#lastCheck < this.cacheMs) return this.#lastOk;
    this.#inflight ??= Promise.race([
      this.pool.query("SELECT 1").then(() => true),
      new Promise<boolean>((resolve) =>
        setTimeout(() => resolve(false), READINESS_DATABASE_TIMEOUT_MS).unref(),
      ),
    ])
      .catch(() => false)
      .then((ok) => {
        this.#lastOk = ok;
        this.#lastCheck = Date.now();
        this.#inflight = undefined;
        return ok;
      });
    return this.#inflight;
  }
}
