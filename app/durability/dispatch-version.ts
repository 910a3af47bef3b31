import type pg from "pg";
import { log } from "../log.js";
import { readDispatchVersion } from "./workflow-versions.js";

/**
 * The version this process stamps on the runs it enqueues (app/durability/workflow-versions.ts), re-read
 * in the background so an enqueue never waits for it. Mid-roll an api of one version and workers of another
 * keep dispatching: runs go to the version the live workers run, not to the api's own. Until a first read
 * succeeds, or while no live executor dequeues, it is the process's own version; a run stamped with a
 * version nobody serves is version-free and the reaper's pass moves it.
 */
export class DispatchVersion {
  #current: string;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly ownVersion: string,
    private readonly executorTimeoutMs: number,
    private readonly intervalMs: number,
  ) {
    this.#current = ownVersion;
  }

  get current(): string {
    return this.#current;
  }

  async start(): Promise<void> {
    await this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async refresh(): Promise<void> {
    try {
      const version = (await readDispatchVersion(this.pool, this.executorTimeoutMs)) ?? this.ownVersion;
      if (version !== this.#current)
        log.info({ from: this.#current, to: version }, "runs are now dispatched to another workflow version");
      this.#current = version;
    } catch (error) {
      log.warn(
        { err: (error as Error).message },
        "could not read the dispatch version; keeping the last one",
      );
    }
  }
}
