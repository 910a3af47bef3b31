import { log } from "../log.js";
import { podDeletionCost } from "../metrics.js";
import { POD_DELETION_COST_ANNOTATION } from "./in-cluster-api.js";

export interface DeletionCostOptions {
  /** Writes the annotation on this process's own pod. */
  patch: (annotations: Record<string, string>) => Promise<void>;
  /**
   * At most one write per interval: Kubernetes asks that the annotation not track a metric write by
   * write (each is a pod update every controller watching pods sees). The latest count always lands.
   */
  minIntervalMs?: number;
  /** After a failed write, the next attempt waits this long (doubling up to 30 s). */
  retryMs?: number;
}

/**
 * Keeps this worker's pod-deletion-cost equal to the runs it holds, so that when the autoscaler removes
 * workers the ReplicaSet controller picks idle ones first and a worker in the middle of runs is kept.
 * Writes are coalesced (one in flight, at most one per interval, always the latest count); a failed write
 * is logged and retried, never thrown: scale-in then falls back to Kubernetes' own order.
 */
export class DeletionCostReporter {
  #wanted = 0;
  #written?: number;
  #writing = false;
  #timer?: NodeJS.Timeout;
  #lastWriteAt = 0;
  #failures = 0;
  #stopped = false;

  constructor(private readonly options: DeletionCostOptions) {}

  /** The worker holds `runs` runs now. */
  update(runs: number): void {
    this.#wanted = runs;
    this.#schedule();
  }

  /** Writes the current count (0 at start-up: a new worker is idle). */
  start(): void {
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#stopped || this.#writing || this.#timer || this.#written === this.#wanted) return;
    const interval = this.#failures > 0 ? this.#retryDelay() : (this.options.minIntervalMs ?? 1_000);
    const waitMs = Math.max(0, this.#lastWriteAt + interval - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#write();
    }, waitMs);
  }

  #retryDelay(): number {
    return Math.min(30_000, (this.options.retryMs ?? 1_000) * 2 ** (this.#failures - 1));
  }

  async #write(): Promise<void> {
    const cost = this.#wanted;
    // The count may have come back to what the pod already says while the write waited for its turn.
    if (cost === this.#written) return;
    this.#writing = true;
    this.#lastWriteAt = Date.now();
    try {
      await this.options.patch({ [POD_DELETION_COST_ANNOTATION]: String(cost) });
      this.#written = cost;
      podDeletionCost.set(cost);
      if (this.#failures > 0) log.info({ cost }, "pod-deletion-cost written again");
      this.#failures = 0;
    } catch (error) {
      this.#failures++;
      // The first failure and then every tenth: a missing Role or policy is worth one clear line, not a flood.
      if (this.#failures % 10 === 1)
        log.warn(
          { err: (error as Error).message, failures: this.#failures, retryMs: this.#retryDelay() },
          "could not write this pod's pod-deletion-cost; scale-in may pick this worker while it holds runs",
        );
    } finally {
      this.#writing = false;
      this.#schedule();
    }
  }
}
