import type { ControlPlane } from "../../control-plane/control-plane.js";
import { query } from "../../support/services.js";

/** One look at the autoscaling loop: the queue, what KEDA reports, what the HPA wants, what runs. */
export interface ScaleSample {
  /** ms since the sampler started. */
  at: number;
  /** The drill's runs waiting for a worker (ENQUEUED) and held by one (PENDING). */
  enqueued: number;
  pending: number;
  succeeded: number;
  /** KEDA's metric as the HPA reads it through the aggregation layer (undefined until it answers). */
  metric?: number;
  /** The HPA's desired and current replicas. */
  desired?: number;
  current?: number;
  /** Worker pods Ready and not terminating. */
  ready: number;
  /** Every worker pod not terminating: its pod-deletion-cost and the drill's runs it holds. */
  workers: { name: string; cost?: string; held: number; ready: boolean }[];
}

/** A worker pod the ReplicaSet chose to remove, and what the workers looked like the moment before. */
export interface ScaleInEvent {
  at: number;
  pod: string;
  /** Runs the removed pod held in the last sample before its deletion. */
  held: number;
  /** Workers that held no run at that sample, besides the removed one. */
  idleOthers: string[];
  /** Every worker's pod-deletion-cost at that sample (what the ReplicaSet ranked them by). */
  costs: Record<string, string | undefined>;
}

interface PodList {
  items: {
    metadata: { name: string; annotations?: Record<string, string>; deletionTimestamp?: string };
    status?: { conditions?: { type: string; status: string }[] };
  }[];
}

const DELETION_COST = "controller.kubernetes.io/pod-deletion-cost";

/** A Kubernetes quantity as a number ("12", "1500m", "2k", metrics-server's CPU "13566278n"). */
export function quantity(value: string): number {
  const match = /^([0-9.]+)([numkMG]?)$/.exec(value);
  if (!match) throw new Error(`not a quantity: ${value}`);
  const scales = { "": 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9 };
  return Number(match[1]) * scales[match[2] as keyof typeof scales];
}

/**
 * Samples the loop every `intervalMs` until stopped, and notes each worker pod the moment it is marked for
 * deletion (a scale-in), with the runs it and the others held just before.
 */
export class ScaleSampler {
  readonly samples: ScaleSample[] = [];
  readonly scaleIns: ScaleInEvent[] = [];
  private readonly started = Date.now();
  private timer?: NodeJS.Timeout;
  private sampling?: Promise<void>;
  private readonly seenDeleted = new Set<string>();

  constructor(
    private readonly options: {
      cluster: ControlPlane;
      namespace: string;
      databaseUrl: string;
      runIds: () => string[];
      workerDeployment: string;
      scaledObject: string;
      intervalMs?: number;
    },
  ) {}

  now(): number {
    return Date.now() - this.started;
  }

  start(): void {
    const tick = async () => {
      this.sampling = this.sample().catch((error: Error) => console.error(`scale sampler: ${error.message}`));
      await this.sampling;
      this.timer = setTimeout(tick, this.options.intervalMs ?? 1_000);
    };
    void tick();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.sampling;
    await this.sample();
  }

  private async sample(): Promise<void> {
    const { cluster, namespace, databaseUrl } = this.options;
    const at = this.now();
    const runIds = this.options.runIds();
    const [statuses, held, pods, metric, hpa] = await Promise.all([
      query<{ status: string; n: number }>(
        databaseUrl,
        "SELECT status, count(*)::int AS n FROM dbos.workflow_status WHERE workflow_uuid = ANY($1) GROUP BY status",
        [runIds],
      ),
      query<{ executor_id: string; n: number }>(
        databaseUrl,
        `SELECT executor_id, count(*)::int AS n FROM dbos.workflow_status
          WHERE workflow_uuid = ANY($1) AND status = 'PENDING' GROUP BY executor_id`,
        [runIds],
      ),
      cluster.api<PodList>(
        "GET",
        `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(`app.kubernetes.io/name=${this.options.workerDeployment}`)}`,
      ),
      cluster.api<{ items?: { value: string }[] }>(
        "GET",
        `/apis/external.metrics.k8s.io/v1beta1/namespaces/${namespace}/s0-postgresql?labelSelector=${encodeURIComponent(`scaledobject.keda.sh/name=${this.options.scaledObject}`)}`,
      ),
      cluster.api<{ status?: { desiredReplicas?: number; currentReplicas?: number } }>(
        "GET",
        `/apis/autoscaling/v2/namespaces/${namespace}/horizontalpodautoscalers/keda-hpa-${this.options.scaledObject}`,
      ),
    ]);
    const count = (status: string) => statuses.find((row) => row.status === status)?.n ?? 0;
    const heldBy = new Map(held.map((row) => [row.executor_id, row.n]));
    const live = pods.body.items.filter((pod) => !pod.metadata.deletionTimestamp);
    const workers = live.map((pod) => ({
      name: pod.metadata.name,
      cost: pod.metadata.annotations?.[DELETION_COST],
      held: heldBy.get(pod.metadata.name) ?? 0,
      ready: pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
    }));
    // A removed worker shows up marked for deletion, or (an idle one exits at once) is simply gone by the
    // next sample: either way it is read from the sample before, as the ReplicaSet saw the workers.
    const previous = this.samples.at(-1);
    const before = previous?.workers ?? [];
    const liveNames = new Set(live.map((pod) => pod.metadata.name));
    const removed = [
      ...pods.body.items.filter((pod) => pod.metadata.deletionTimestamp).map((pod) => pod.metadata.name),
      ...before
        .map((worker) => worker.name)
        .filter((name) => !pods.body.items.some((pod) => pod.metadata.name === name)),
    ];
    for (const name of removed) {
      if (this.seenDeleted.has(name) || liveNames.has(name)) continue;
      this.seenDeleted.add(name);
      this.scaleIns.push({
        at,
        pod: name,
        held: before.find((worker) => worker.name === name)?.held ?? 0,
        idleOthers: before
          .filter((worker) => worker.name !== name && worker.held === 0)
          .map((worker) => worker.name),
        costs: Object.fromEntries(before.map((worker) => [worker.name, worker.cost])),
      });
    }
    const metricValue = metric.status === 200 ? metric.body.items?.[0]?.value : undefined;
    this.samples.push({
      at,
      enqueued: count("ENQUEUED"),
      pending: count("PENDING"),
      succeeded: count("SUCCESS"),
      metric: metricValue === undefined ? undefined : quantity(metricValue),
      desired: hpa.body.status?.desiredReplicas,
      current: hpa.body.status?.currentReplicas,
      ready: workers.filter((worker) => worker.ready).length,
      workers,
    });
  }
}
