import { setTimeout as sleep } from "node:timers/promises";

/**
 * Where the SIGTERM drain stops local run bodies: at a checkpoint boundary, never inside a segment. Once
 * the drain starts, a body that reaches its next boundary parks there for good (its run stays PENDING in
 * DBOS, every completed segment recorded), so the run can be handed to another worker without any
 * segment executing twice. Runs that finish before reaching a boundary finish here.
 */
export class ExecutionGate {
  #stopping = false;
  readonly #running = new Set<string>();
  readonly #parked = new Set<string>();
  readonly #leftLocally = new Set<string>();
  readonly #watchers = new Set<(running: number) => void>();

  /** A run body starts executing here. */
  begin(runId: string): void {
    this.#running.add(runId);
    this.#changed();
  }

  /** A run body returned or threw here: DBOS records its outcome; it must not be handed back. */
  end(runId: string): void {
    this.#running.delete(runId);
    this.#leftLocally.add(runId);
    this.#changed();
  }

  /**
   * Calls `watcher` with the number of run bodies executing here now, then whenever it changes. The
   * first call matters: a worker starts dequeuing before its watchers are set up, and a backlog fills its
   * slots at once, so a watcher told only of changes would believe it idle until a run ended.
   */
  watchRunning(watcher: (running: number) => void): void {
    this.#watchers.add(watcher);
    watcher(this.#running.size);
  }

  #changed(): void {
    for (const watcher of this.#watchers) watcher(this.#running.size);
  }

  /** Called before each checkpointed segment. Once the drain started, it never returns. */
  async atCheckpoint(runId: string): Promise<void> {
    if (!this.#stopping) return;
    this.#parked.add(runId);
    await new Promise<never>(() => {});
  }

  stopAtCheckpoints(): void {
    this.#stopping = true;
  }

  /** Waits until every running body has parked or ended; false when `timeoutMs` ran out first. */
  async settled(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while ([...this.#running].some((runId) => !this.#parked.has(runId))) {
      if (Date.now() >= deadline) return false;
      await sleep(20);
    }
    return true;
  }

  /** Runs whose bodies ended in this process (their outcome is DBOS's to record, not to re-run). */
  get leftLocally(): ReadonlySet<string> {
    return this.#leftLocally;
  }

  /** Runs still inside a segment (the drain's budget ran out before they reached a boundary). */
  get midSegment(): string[] {
    return [...this.#running].filter((runId) => !this.#parked.has(runId));
  }
}

export const executionGate = new ExecutionGate();
