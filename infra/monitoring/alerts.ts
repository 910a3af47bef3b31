/**
 * mesh's alerts, as PrometheusRule data: each names the stack in its summary, carries a severity, and
 * links to its section of docs/operations.md ("Alerts"), whose headings are the alert names. Expressions
 * are scoped to the stack's namespace (the label Prometheus gives every scraped pod's series).
 */

export interface AlertThresholds {
  /** Runs waiting with no listener this long fire MeshDispatchStalled (a Prometheus duration). */
  dispatchStalledFor: string;
  /** Oldest waiting run, seconds. */
  oldestEnqueuedSeconds: number;
  /** Dispatch latency p99, seconds. */
  dispatchP99Seconds: number;
  /** Stream fallbacks per second (SSE answered from the stored result). */
  streamFallbacksPerSecond: number;
  /** Refused requests (401) per second. */
  authFailuresPerSecond: number;
  /** Container restarts in 15 minutes. */
  restartsIn15m: number;
  /** Minutes an autoscaler may sit at its maximum. */
  maxReplicasMinutes: number;
}

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: "critical" | "warning" };
  annotations: { summary: string; description: string; runbook_url: string };
}

/** A heading's anchor as GitHub renders it (lower case, spaces to dashes, punctuation dropped). */
export function runbookAnchor(alert: string): string {
  return alert
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, "")
    .replace(/ /g, "-");
}

export function meshAlerts(options: {
  stack: string;
  namespace: string;
  runbookBaseUrl: string;
  thresholds: AlertThresholds;
}): AlertRule[] {
  const { stack, namespace, thresholds: t } = options;
  const ns = `namespace="${namespace}"`;
  const rule = (
    alert: string,
    severity: "critical" | "warning",
    forDuration: string,
    expr: string,
    summary: string,
    description: string,
  ): AlertRule => ({
    alert,
    expr,
    for: forDuration,
    labels: { severity },
    annotations: {
      summary: `mesh ${stack}: ${summary}`,
      description,
      runbook_url: `${options.runbookBaseUrl}#${runbookAnchor(alert)}`,
    },
  });
  return [
    rule(
      "MeshDispatchStalled",
      "critical",
      t.dispatchStalledFor,
      `max by (queue) (mesh_queue_depth{${ns},status="ENQUEUED"}) > 0 and on (queue) max by (queue) (mesh_queue_listeners{${ns}}) == 0`,
      "runs wait on {{ $labels.queue }} and no live executor dequeues it",
      "Runs are enqueued but no live executor listens to their queue (every worker unready or gone with dispatchRole=api): they will not start.",
    ),
    rule(
      "MeshRunsAgeing",
      "warning",
      "5m",
      `max by (queue) (mesh_oldest_enqueued_run_age_seconds{${ns}}) > ${t.oldestEnqueuedSeconds}`,
      `the oldest run on {{ $labels.queue }} has waited over ${t.oldestEnqueuedSeconds} s`,
      "The backlog is not draining: workers are saturated, too few, or not taking runs.",
    ),
    rule(
      "MeshDispatchLatencyHigh",
      "warning",
      "10m",
      `histogram_quantile(0.99, sum by (le) (rate(mesh_dispatch_latency_seconds_bucket{${ns}}[5m]))) > ${t.dispatchP99Seconds}`,
      `dispatch latency p99 above ${t.dispatchP99Seconds} s`,
      "Runs take longer than the target from enqueue to start.",
    ),
    rule(
      "MeshExecutorsReaped",
      "warning",
      "0m",
      `sum(increase(mesh_reaped_workflows_total{${ns}}[10m])) > 0`,
      "the reaper took over runs of a dead executor",
      "A worker or all pod died (or froze) holding runs; they were put back on their queue and resume from their last checkpoint.",
    ),
    rule(
      "MeshRunsStranded",
      "critical",
      "5m",
      `max by (version) (mesh_stranded_runs{${ns}}) > 0`,
      "runs wait at workflow version {{ $labels.version }}, which no live executor runs",
      "Runs of a workflow version whose workers are gone: they never start until a worker of that version runs again.",
    ),
    rule(
      "MeshStreamFallbacksRising",
      "warning",
      "10m",
      `sum(rate(mesh_stream_fallbacks_total{${ns}}[5m])) > ${t.streamFallbacksPerSecond}`,
      "run streams fall back to stored results",
      "SSE clients get the stored result instead of live chunks: NATS is down, unreachable, or the stream lost data.",
    ),
    rule(
      "MeshAuthFailuresHigh",
      "warning",
      "10m",
      `sum(rate(mesh_auth_failures_total{${ns}}[5m])) > ${t.authFailuresPerSecond}`,
      "many API requests refused with 401",
      "A client with a stale or wrong token, or someone probing the API.",
    ),
    rule(
      "MeshPodRestarting",
      "warning",
      "0m",
      `sum by (pod) (increase(kube_pod_container_status_restarts_total{${ns}}[15m])) > ${t.restartsIn15m}`,
      "pod {{ $labels.pod }} restarts repeatedly",
      "A mesh or NATS container keeps restarting (crash, failed liveness probe).",
    ),
    rule(
      "MeshPodOOMKilled",
      "warning",
      "0m",
      `max by (pod) (max_over_time(kube_pod_container_status_last_terminated_reason{${ns},reason="OOMKilled"}[15m])) > 0`,
      "pod {{ $labels.pod }} was OOMKilled",
      "A container exceeded its memory limit; runs it held resume on another executor.",
    ),
    rule(
      "MeshAutoscalerAtMax",
      "warning",
      `${t.maxReplicasMinutes}m`,
      `max by (horizontalpodautoscaler) (kube_horizontalpodautoscaler_status_current_replicas{${ns}}) >= max by (horizontalpodautoscaler) (kube_horizontalpodautoscaler_spec_max_replicas{${ns}})`,
      `{{ $labels.horizontalpodautoscaler }} has been at its maximum for ${t.maxReplicasMinutes} minutes`,
      "The autoscaler (the api's HPA, or KEDA's for the workers) cannot add replicas: raise maxReplicas or find what saturates them.",
    ),
  ];
}

/** Series the alerts read that kube-state-metrics exports, not mesh (the metric-name test skips them). */
export const KUBE_STATE_METRICS = [
  "kube_pod_container_status_restarts_total",
  "kube_pod_container_status_last_terminated_reason",
  "kube_horizontalpodautoscaler_status_current_replicas",
  "kube_horizontalpodautoscaler_spec_max_replicas",
];
