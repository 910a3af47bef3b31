import type { ControlPlane } from "../../control-plane/control-plane.js";
import { query } from "../../support/services.js";

interface PodList {
  items: {
    metadata: { name: string; deletionTimestamp?: string; labels?: Record<string, string> };
    status: { conditions?: { type: string; status: string }[] };
  }[];
}

/** One sample: runs waiting and running on the thread-gate queue, and the run slots of ready workers. */
export interface DispatchSample {
  at: number;
  waiting: number;
  running: number;
  slots: number;
}

/**
 * Watches whether dispatch keeps up during a drill: every `intervalMs`, the thread-gate queue's waiting
 * (ENQUEUED) and running (PENDING) runs from Postgres, and the run slots of the worker pods the API shows
 * Ready and not terminating (× the stack's worker concurrency). A sample stalls when runs wait while a
 * slot is free; the longest stretch of stalled samples is the longest dispatch pause. Slots of a pod that
 * is draining (terminating) do not count: it takes no run by design. Threads must not repeat within a
 * run's length, or runs waiting behind their thread's previous run would count as stalls.
 */
export class DispatchSampler {
  readonly samples: DispatchSample[] = [];
  private timer?: NodeJS.Timeout;
  private sampling?: Promise<void>;

  constructor(
    private readonly options: {
      cluster: ControlPlane;
      namespace: string;
      databaseUrl: string;
      workerConcurrency: number;
      intervalMs: number;
      began: number;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (!this.sampling) this.sampling = this.sample().finally(() => (this.sampling = undefined));
    }, this.options.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sampling;
  }

  /** The longest stretch of consecutive stalled samples, in ms, and when it began (ms since `began`). */
  longestPause(): { ms: number; atMs: number } {
    let longest = { ms: 0, atMs: 0 };
    let since: number | undefined;
    for (const sample of this.samples) {
      const stalled = sample.waiting > 0 && sample.running < sample.slots;
      if (stalled && since === undefined) since = sample.at;
      if (!stalled) since = undefined;
      if (since !== undefined && sample.at - since > longest.ms)
        longest = { ms: sample.at - since, atMs: since };
    }
    return longest;
  }

  private async sample(): Promise<void> {
    const at = Date.now() - this.options.began;
    const [counts, pods] = await Promise.all([
      query<{ status: string; count: string }>(
        this.options.databaseUrl,
        `SELECT status, count(*)::text AS count FROM dbos.workflow_status
          WHERE queue_name = 'thread-gate' AND status IN ('ENQUEUED', 'PENDING') GROUP BY status`,
      ),
      this.options.cluster.api<PodList>("GET", `/api/v1/namespaces/${this.options.namespace}/pods`),
    ]);
    const count = (status: string) => Number(counts.find((row) => row.status === status)?.count ?? 0);
    const readyWorkers = pods.body.items.filter(
      (pod) =>
        pod.metadata.labels?.["app.kubernetes.io/component"] === "worker" &&
        !pod.metadata.deletionTimestamp &&
        pod.status.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True"),
    ).length;
    this.samples.push({
      at,
      waiting: count("ENQUEUED"),
      running: count("PENDING"),
      slots: readyWorkers * this.options.workerConcurrency,
    });
  }
}
