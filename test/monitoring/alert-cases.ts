// promtool unit tests for mesh's alerts, written for the prod stack (namespace mesh-prod) at the default
// thresholds (infra/config.ts). Each alert has the synthetic series that must fire it — with the labels
// and expanded summary an operator gets — and healthy series that must leave it silent. Series are
// promtool's expanding notation ('a+bxn': a, then n steps of +b, one step per minute).

/** One series: a selector in PromQL notation and its values. */
export interface InputSeries {
  series: string;
  values: string;
}

export interface FiringCase {
  series: InputSeries[];
  /** Evaluated here, the alert fires with these labels (besides severity) and this summary. */
  firesAt: string;
  labels: Record<string, string>;
  summary: string;
  /** Evaluated here, the same series only make it pending: its `for` has not elapsed. */
  pendingAt?: string;
}

export interface SilentCase {
  name: string;
  series: InputSeries[];
  at: string;
}

export interface AlertCase {
  alert: string;
  fires: FiringCase;
  silent: SilentCase[];
}

const NS = 'namespace="mesh-prod"';

/** A scraped series of one pod of the stack (what the PodMonitor's targets add: namespace, pod). */
const pod = (metric: string, podName: string, labels: string, values: string): InputSeries => ({
  series: `${metric}{${NS},pod="${podName}"${labels ? `,${labels}` : ""}}`,
  values,
});

/** Every pod reports the whole queue's state (it is read from Postgres): two api pods here. */
const queueGauge = (metric: string, labels: string, values: string): InputSeries[] => [
  pod(metric, "mesh-7d9c-a", labels, values),
  pod(metric, "mesh-7d9c-b", labels, values),
];

/** A dispatch latency histogram whose observations (60 per minute) all land in one bucket. */
function latencyHistogram(upperBound: number): InputSeries[] {
  const buckets = ["0.05", "0.5", "1", "2.5", "+Inf"];
  return buckets.map((le) => ({
    series: `mesh_dispatch_latency_seconds_bucket{${NS},pod="mesh-worker-5f-a",queue="thread-gate",le="${le}"}`,
    values: le === "+Inf" || Number(le) >= upperBound ? "0+60x30" : "0x30",
  }));
}

export const ALERT_CASES: AlertCase[] = [
  {
    alert: "MeshDispatchStalled",
    fires: {
      series: [
        ...queueGauge("mesh_queue_depth", 'queue="thread-gate",status="ENQUEUED"', "3x10"),
        ...queueGauge("mesh_queue_listeners", 'queue="thread-gate"', "0x10"),
        // automations has no listener either, but nothing waits on it: no alert for it.
        ...queueGauge("mesh_queue_depth", 'queue="automations",status="ENQUEUED"', "0x10"),
        ...queueGauge("mesh_queue_listeners", 'queue="automations"', "0x10"),
      ],
      pendingAt: "1m",
      firesAt: "3m",
      labels: { queue: "thread-gate" },
      summary: "mesh prod: runs wait on thread-gate and no live executor dequeues it",
    },
    silent: [
      {
        name: "runs wait and workers listen",
        series: [
          ...queueGauge("mesh_queue_depth", 'queue="thread-gate",status="ENQUEUED"', "3x10"),
          ...queueGauge("mesh_queue_listeners", 'queue="thread-gate"', "2x10"),
        ],
        at: "5m",
      },
      {
        name: "no listener, but runs only in flight (PENDING), none waiting",
        series: [
          ...queueGauge("mesh_queue_depth", 'queue="thread-gate",status="ENQUEUED"', "0x10"),
          ...queueGauge("mesh_queue_depth", 'queue="thread-gate",status="PENDING"', "2x10"),
          ...queueGauge("mesh_queue_listeners", 'queue="thread-gate"', "0x10"),
        ],
        at: "5m",
      },
      {
        name: "another stack's namespace is stalled",
        series: [
          {
            series: 'mesh_queue_depth{namespace="mesh-dev",pod="x",queue="thread-gate",status="ENQUEUED"}',
            values: "3x10",
          },
          {
            series: 'mesh_queue_listeners{namespace="mesh-dev",pod="x",queue="thread-gate"}',
            values: "0x10",
          },
        ],
        at: "5m",
      },
    ],
  },
  {
    alert: "MeshRunsAgeing",
    fires: {
      series: queueGauge("mesh_oldest_enqueued_run_age_seconds", 'queue="thread-gate"', "400+60x10"),
      pendingAt: "3m",
      firesAt: "6m",
      labels: { queue: "thread-gate" },
      summary: "mesh prod: the oldest run on thread-gate has waited over 300 s",
    },
    silent: [
      {
        name: "the oldest run waited 100 s",
        series: queueGauge("mesh_oldest_enqueued_run_age_seconds", 'queue="thread-gate"', "100x10"),
        at: "6m",
      },
    ],
  },
  {
    alert: "MeshDispatchLatencyHigh",
    fires: {
      series: latencyHistogram(2.5),
      pendingAt: "8m",
      firesAt: "20m",
      labels: {},
      summary: "mesh prod: dispatch latency p99 above 1 s",
    },
    silent: [{ name: "every run starts within 50 ms", series: latencyHistogram(0.05), at: "20m" }],
  },
  {
    alert: "MeshExecutorsReaped",
    fires: {
      series: [pod("mesh_reaped_workflows_total", "mesh-worker-5f-b", "", "0 0 0 2 2 2 2")],
      firesAt: "4m",
      labels: {},
      summary: "mesh prod: the reaper took over runs of a dead executor",
    },
    silent: [
      {
        name: "no executor reaped",
        series: [pod("mesh_reaped_workflows_total", "mesh-worker-5f-b", "", "0x10")],
        at: "5m",
      },
      {
        name: "ten minutes after the last reap",
        series: [pod("mesh_reaped_workflows_total", "mesh-worker-5f-b", "", "0 0 0 2x20")],
        at: "20m",
      },
    ],
  },
  {
    alert: "MeshRunsStranded",
    fires: {
      series: queueGauge("mesh_stranded_runs", 'version="v7"', "3x10"),
      pendingAt: "2m",
      firesAt: "6m",
      labels: { version: "v7" },
      summary: "mesh prod: runs wait at workflow version v7, which no live executor runs",
    },
    silent: [
      {
        name: "no stranded run",
        series: queueGauge("mesh_stranded_runs", 'version="v7"', "0x10"),
        at: "6m",
      },
    ],
  },
  {
    alert: "MeshStreamFallbacksRising",
    fires: {
      series: [pod("mesh_stream_fallbacks_total", "mesh-7d9c-a", 'reason="stream_unavailable"', "0+6x30")],
      pendingAt: "6m",
      firesAt: "20m",
      labels: {},
      summary: "mesh prod: run streams fall back to stored results",
    },
    silent: [
      {
        name: "one fallback a minute",
        series: [pod("mesh_stream_fallbacks_total", "mesh-7d9c-a", 'reason="stream_unavailable"', "0+1x30")],
        at: "20m",
      },
    ],
  },
  {
    alert: "MeshAuthFailuresHigh",
    fires: {
      series: [pod("mesh_auth_failures_total", "mesh-7d9c-a", 'reason="bad_token"', "0+60x30")],
      pendingAt: "6m",
      firesAt: "20m",
      labels: {},
      summary: "mesh prod: many API requests refused with 401",
    },
    silent: [
      {
        name: "six refusals a minute",
        series: [pod("mesh_auth_failures_total", "mesh-7d9c-a", 'reason="bad_token"', "0+6x30")],
        at: "20m",
      },
    ],
  },
  {
    alert: "MeshPodRestarting",
    fires: {
      series: [
        {
          series: `kube_pod_container_status_restarts_total{${NS},pod="mesh-worker-5f-b",container="mesh"}`,
          values: "0 1 2 3 3 3",
        },
      ],
      firesAt: "4m",
      labels: { pod: "mesh-worker-5f-b" },
      summary: "mesh prod: pod mesh-worker-5f-b restarts repeatedly",
    },
    silent: [
      {
        name: "one restart in 15 minutes",
        series: [
          {
            series: `kube_pod_container_status_restarts_total{${NS},pod="mesh-worker-5f-b",container="mesh"}`,
            values: "0 1 1 1 1 1",
          },
        ],
        at: "4m",
      },
    ],
  },
  {
    alert: "MeshPodOOMKilled",
    fires: {
      series: [
        {
          series: `kube_pod_container_status_last_terminated_reason{${NS},pod="mesh-worker-5f-b",container="mesh",reason="OOMKilled"}`,
          values: "1x5",
        },
      ],
      firesAt: "2m",
      labels: { pod: "mesh-worker-5f-b" },
      summary: "mesh prod: pod mesh-worker-5f-b was OOMKilled",
    },
    silent: [
      {
        name: "the last termination was a clean exit",
        series: [
          {
            series: `kube_pod_container_status_last_terminated_reason{${NS},pod="mesh-worker-5f-b",container="mesh",reason="Completed"}`,
            values: "1x5",
          },
        ],
        at: "2m",
      },
    ],
  },
  {
    alert: "MeshAutoscalerAtMax",
    fires: {
      series: [
        {
          series: `kube_horizontalpodautoscaler_status_current_replicas{${NS},horizontalpodautoscaler="keda-hpa-mesh-worker"}`,
          values: "4x30",
        },
        {
          series: `kube_horizontalpodautoscaler_spec_max_replicas{${NS},horizontalpodautoscaler="keda-hpa-mesh-worker"}`,
          values: "4x30",
        },
      ],
      pendingAt: "10m",
      firesAt: "16m",
      labels: { horizontalpodautoscaler: "keda-hpa-mesh-worker" },
      summary: "mesh prod: keda-hpa-mesh-worker has been at its maximum for 15 minutes",
    },
    silent: [
      {
        name: "one replica below the maximum",
        series: [
          {
            series: `kube_horizontalpodautoscaler_status_current_replicas{${NS},horizontalpodautoscaler="keda-hpa-mesh-worker"}`,
            values: "3x30",
          },
          {
            series: `kube_horizontalpodautoscaler_spec_max_replicas{${NS},horizontalpodautoscaler="keda-hpa-mesh-worker"}`,
            values: "4x30",
          },
        ],
        at: "20m",
      },
    ],
  },
];
