import type { ControlPlane } from "../../control-plane/control-plane.js";
import { query } from "../../support/services.js";

interface PodList {
  items: {
    metadata: { name: string; deletionTimestamp?: string; labels?: Record<string, string> };
    spec: { containers: { image: string }[] };
    status: { conditions?: { type: string; status: string }[] };
  }[];
}

/** One workflow version in a sample: its runs waiting and running, and the run slots of its ready workers. */
export interface VersionSample {
  waiting: number;
  running: number;
  slots: number;
}

export interface DispatchSample {
  at: number;
  versions: Record<string, VersionSample>;
}

/**
 * Watches whether dispatch keeps up during a drill: every `intervalMs`, per workflow version, the
 * thread-gate queue's waiting (ENQUEUED) and running (PENDING) runs from Postgres, and the run slots of the
 * worker pods of that version (by image) the API shows Ready and not terminating (× the stack's worker
 * concurrency). A sample stalls when some version's runs wait while one of its workers has a free slot
 * (a run can only run on its own version's workers; runs waiting for a busy version's workers are
 * capacity, not a stall); the longest stretch of stalled samples is the longest dispatch pause. Slots of a
 * pod that is draining (terminating) do not count: it takes no run by design. Runs waiting behind a
 * running run of their own thread are not counted as waiting: they cannot start, by design.
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
      /** The workflow version each worker image carries. */
      versionOfImage: Record<string, string>;
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
      const stalled = Object.values(sample.versions).some(
        (version) => version.waiting > 0 && version.running < version.slots,
      );
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
      query<{ version: string; status: string; count: string }>(
        this.options.databaseUrl,
        // A run queued behind a running run of its own thread cannot start (one run per thread): it is
        // not waiting for dispatch. The drill chains runs on threads, and a chained run's predecessor may
        // be an orphan of the kill -9, PENDING until the reaper puts it back.
        `SELECT application_version AS version, status, count(*)::text AS count FROM dbos.workflow_status w
          WHERE queue_name = 'thread-gate' AND status IN ('ENQUEUED', 'PENDING')
            AND NOT (status = 'ENQUEUED' AND EXISTS (
              SELECT 1 FROM dbos.workflow_status running
               WHERE running.queue_name = w.queue_name AND running.status = 'PENDING'
                 AND running.queue_partition_key = w.queue_partition_key))
          GROUP BY 1, 2`,
      ),
      this.options.cluster.api<PodList>("GET", `/api/v1/namespaces/${this.options.namespace}/pods`),
    ]);
    const versions: Record<string, VersionSample> = {};
    const of = (version: string) => {
      versions[version] ??= { waiting: 0, running: 0, slots: 0 };
      return versions[version];
    };
    for (const row of counts) {
      if (row.status === "ENQUEUED") of(row.version).waiting += Number(row.count);
      else of(row.version).running += Number(row.count);
    }
    for (const pod of pods.body.items) {
      const ready =
        pod.metadata.labels?.["app.kubernetes.io/component"] === "worker" &&
        !pod.metadata.deletionTimestamp &&
        pod.status.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True");
      const version = this.options.versionOfImage[pod.spec.containers[0]?.image ?? ""];
      if (ready && version) of(version).slots += this.options.workerConcurrency;
    }
    this.samples.push({ at, versions });
  }
}
