/**
 * mesh's Grafana dashboard (JSON model), provisioned by a ConfigMap the Grafana sidecar picks up. Every
 * query is scoped to the stack's namespace; the panels are what an operator looks at first: the queues,
 * dispatch latency, run outcomes, live executors, replicas, streaming and refused requests.
 */

export interface DashboardPanel {
  title: string;
  /** PromQL, one per series. */
  targets: { expr: string; legendFormat: string }[];
  unit: string;
}

export function dashboardPanels(namespace: string): DashboardPanel[] {
  const ns = `namespace="${namespace}"`;
  return [
    {
      title: "Queue depth by queue and status",
      unit: "short",
      targets: [
        { expr: `max by (queue, status) (mesh_queue_depth{${ns}})`, legendFormat: "{{queue}} {{status}}" },
      ],
    },
    {
      title: "Oldest waiting run",
      unit: "s",
      targets: [
        { expr: `max by (queue) (mesh_oldest_enqueued_run_age_seconds{${ns}})`, legendFormat: "{{queue}}" },
      ],
    },
    {
      title: "Dispatch latency",
      unit: "s",
      targets: [0.5, 0.9, 0.99].map((quantile) => ({
        expr: `histogram_quantile(${quantile}, sum by (le) (rate(mesh_dispatch_latency_seconds_bucket{${ns}}[5m])))`,
        legendFormat: `p${Math.round(quantile * 100)}`,
      })),
    },
    {
      title: "Runs finished per second by outcome",
      unit: "ops",
      targets: [
        { expr: `sum by (outcome) (rate(mesh_runs_executed_total{${ns}}[5m]))`, legendFormat: "{{outcome}}" },
      ],
    },
    {
      title: "Live executors by role",
      unit: "short",
      targets: [
        { expr: `max by (role) (mesh_live_executors{${ns}})`, legendFormat: "{{role}}" },
        { expr: `max by (queue) (mesh_queue_listeners{${ns}})`, legendFormat: "listening on {{queue}}" },
      ],
    },
    {
      title: "Replicas per tier",
      unit: "short",
      targets: [
        { expr: `count by (role) (mesh_process_info{${ns}})`, legendFormat: "{{role}} pods" },
        {
          expr: `max by (horizontalpodautoscaler) (kube_horizontalpodautoscaler_spec_max_replicas{${ns}})`,
          legendFormat: "{{horizontalpodautoscaler}} max",
        },
      ],
    },
    {
      title: "Stream chunks and fallbacks per second",
      unit: "ops",
      targets: [
        {
          expr: `sum by (direction) (rate(mesh_stream_chunks_total{${ns}}[5m]))`,
          legendFormat: "chunks {{direction}}",
        },
        {
          expr: `sum by (reason) (rate(mesh_stream_fallbacks_total{${ns}}[5m]))`,
          legendFormat: "fallback {{reason}}",
        },
      ],
    },
    {
      title: "Refused requests (401) per second",
      unit: "ops",
      targets: [
        { expr: `sum by (reason) (rate(mesh_auth_failures_total{${ns}}[5m]))`, legendFormat: "{{reason}}" },
      ],
    },
  ];
}

/** The dashboard's JSON model: one row of timeseries panels per two entries. */
export function meshDashboard(stack: string, namespace: string): Record<string, unknown> {
  return {
    title: `mesh ${stack}`,
    uid: `mesh-${namespace}`.slice(0, 40),
    tags: ["mesh"],
    timezone: "browser",
    schemaVersion: 39,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    panels: dashboardPanels(namespace).map((panel, index) => ({
      id: index + 1,
      type: "timeseries",
      title: panel.title,
      gridPos: { h: 8, w: 12, x: (index % 2) * 12, y: Math.floor(index / 2) * 8 },
      fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
      targets: panel.targets.map((target, targetIndex) => ({
        refId: String.fromCharCode(65 + targetIndex),
        expr: target.expr,
        legendFormat: target.legendFormat,
      })),
    })),
  };
}
