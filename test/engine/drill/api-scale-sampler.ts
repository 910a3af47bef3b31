import type { ControlPlane } from "../../control-plane/control-plane.js";
import { quantity } from "./scale-sampler.js";

/** One look at the api tier's CPU autoscaling. */
export interface ApiScaleSample {
  /** ms since the drill's `began`. */
  at: number;
  /** The HPA's desired and current replicas, and the CPU utilization it last read (% of requests). */
  desired?: number;
  current?: number;
  utilization?: number;
  /** api pods Ready and not terminating. */
  ready: number;
  /** Every api pod not terminating: its CPU (millicores, metrics API) and the requests it answered. */
  pods: { name: string; ready: boolean; cpuMillis?: number; served?: number }[];
}

interface PodList {
  items: {
    metadata: { name: string; deletionTimestamp?: string };
    status?: { podIP?: string; conditions?: { type: string; status: string }[] };
  }[];
}

/**
 * Samples the api tier every `intervalMs`: the HPA's view, metrics-server's CPU per pod, and per pod the
 * answered requests of `route` from its own /metrics (mesh_http_requests_total, read from this host,
 * which reaches pod addresses as the node does). `served` keeps every pod's last count, also after it is
 * gone.
 */
export class ApiScaleSampler {
  readonly samples: ApiScaleSample[] = [];
  /** The last count of answered requests of each pod ever seen. */
  readonly served = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private sampling?: Promise<void>;

  constructor(
    private readonly options: {
      cluster: ControlPlane;
      namespace: string;
      /** The api pods' label selector and their HPA's name. */
      selector: string;
      hpa: string;
      route: string;
      port: number;
      intervalMs?: number;
      /** The drill's clock (Date.now() at its start), shared with its load. */
      began: number;
    },
  ) {}

  now(): number {
    return Date.now() - this.options.began;
  }

  start(): void {
    this.timer = setInterval(() => {
      this.sampling ??= this.sample()
        .catch((error) => console.log(`      api sampler: ${(error as Error).message}`))
        .finally(() => {
          this.sampling = undefined;
        });
    }, this.options.intervalMs ?? 1_000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sampling;
  }

  private async sample(): Promise<void> {
    const { cluster, namespace } = this.options;
    const at = this.now();
    const [hpa, pods, metrics] = await Promise.all([
      cluster.api<{
        status?: {
          desiredReplicas?: number;
          currentReplicas?: number;
          currentMetrics?: { resource?: { current?: { averageUtilization?: number } } }[];
        };
      }>("GET", `/apis/autoscaling/v2/namespaces/${namespace}/horizontalpodautoscalers/${this.options.hpa}`),
      cluster.api<PodList>(
        "GET",
        `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(this.options.selector)}`,
      ),
      cluster.api<{ items?: { metadata: { name: string }; containers: { usage: { cpu: string } }[] }[] }>(
        "GET",
        `/apis/metrics.k8s.io/v1beta1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(this.options.selector)}`,
      ),
    ]);
    const cpu = new Map(
      (metrics.body.items ?? []).map((item) => [
        item.metadata.name,
        Math.round(item.containers.reduce((sum, container) => sum + quantity(container.usage.cpu), 0) * 1000),
      ]),
    );
    const live = (pods.body.items ?? []).filter((pod) => !pod.metadata.deletionTimestamp);
    const sampled = await Promise.all(
      live.map(async (pod) => {
        const ready = pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
        const served = pod.status?.podIP ? await this.servedBy(pod.status.podIP) : undefined;
        if (served !== undefined) this.served.set(pod.metadata.name, served);
        return { name: pod.metadata.name, ready, cpuMillis: cpu.get(pod.metadata.name), served };
      }),
    );
    this.samples.push({
      at,
      desired: hpa.body.status?.desiredReplicas,
      current: hpa.body.status?.currentReplicas,
      utilization: hpa.body.status?.currentMetrics?.[0]?.resource?.current?.averageUtilization,
      ready: sampled.filter((pod) => pod.ready).length,
      pods: sampled,
    });
  }

  /** The pod's own count of answered requests of the route (200s and others), or undefined. */
  private async servedBy(ip: string): Promise<number | undefined> {
    try {
      const response = await fetch(`http://${ip}:${this.options.port}/metrics`, {
        signal: AbortSignal.timeout(2_000),
      });
      const text = await response.text();
      let total = 0;
      for (const line of text.split("\n"))
        if (line.startsWith("mesh_http_requests_total{") && line.includes(`route="${this.options.route}"`))
          total += Number(line.split(" ").at(-1));
      return total;
    } catch {
      return undefined;
    }
  }
}
