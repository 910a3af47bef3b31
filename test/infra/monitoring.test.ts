import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runbookAnchor } from "../../infra/monitoring/alerts.js";
import { validateAgainstOpenApi } from "../../infra/render/kubernetes-schema.js";
import { objectOf, podLabelsOf, REPO_ROOT, type RenderedStack, renderStack, selects } from "./support.js";

const ALERTS = [
  "MeshDispatchStalled",
  "MeshRunsAgeing",
  "MeshDispatchLatencyHigh",
  "MeshExecutorsReaped",
  "MeshRunsStranded",
  "MeshStreamFallbacksRising",
  "MeshAuthFailuresHigh",
  "MeshPodRestarting",
  "MeshPodOOMKilled",
  "MeshAutoscalerAtMax",
];

/** The anchors of docs/operations.md's headings, as GitHub renders them. */
function operationsAnchors(): Set<string> {
  const text = readFileSync(join(REPO_ROOT, "docs/operations.md"), "utf8");
  return new Set(
    [...text.matchAll(/^#+ (.+)$/gm)].map((match) => runbookAnchor((match[1] as string).trim())),
  );
}

// Fixture: prod (monitoring on, labelled for kube-prometheus-stack) and dev (off) under Pulumi's mocks.
describe("monitoring: PodMonitors, alerts with runbooks, a dashboard (monitoring.enabled)", () => {
  let prod: RenderedStack;
  let dev: RenderedStack;
  before(async () => {
    prod = await renderStack("prod");
    dev = await renderStack("dev");
  });

  it("scrapes each tier's pods with a PodMonitor the Prometheus selects, on the port that serves /metrics", () => {
    for (const tier of ["mesh", "mesh-worker"]) {
      const monitor = objectOf(prod.objects, "PodMonitor", tier);
      assert.equal(monitor.metadata.labels.release, "kube-prometheus-stack");
      assert.ok(
        selects(monitor.spec.selector.matchLabels, podLabelsOf(prod.objects, tier)),
        `${tier}'s pods`,
      );
      const other = tier === "mesh" ? "mesh-worker" : "mesh";
      assert.ok(
        !selects(monitor.spec.selector.matchLabels, podLabelsOf(prod.objects, other)),
        `not ${other}'s`,
      );
      const [endpoint] = monitor.spec.podMetricsEndpoints;
      assert.deepEqual([endpoint.port, endpoint.path], ["http", "/metrics"]);
      const container = objectOf(prod.objects, "Deployment", tier).spec.template.spec.containers[0];
      assert.ok(container.ports.some((port: { name: string }) => port.name === endpoint.port));
    }
  });

  it("alerts on each failure the runbook covers: severity, a summary naming the stack, a runbook anchor that exists", () => {
    const rule = objectOf(prod.objects, "PrometheusRule", "mesh");
    const rules = rule.spec.groups.flatMap((group: { rules: unknown[] }) => group.rules);
    assert.deepEqual(
      rules.map((entry: { alert: string }) => entry.alert),
      ALERTS,
    );
    const anchors = operationsAnchors();
    for (const entry of rules) {
      assert.ok(["critical", "warning"].includes(entry.labels.severity), entry.alert);
      assert.match(entry.annotations.summary, /^mesh prod: /, entry.alert);
      const [page, anchor] = entry.annotations.runbook_url.split("#");
      assert.equal(page, "docs/operations.md");
      assert.ok(anchors.has(anchor), `${entry.alert}: docs/operations.md has no section #${anchor}`);
      assert.match(entry.expr, /namespace="mesh-prod"/, `${entry.alert} is scoped to the stack`);
    }
  });

  it("ships the dashboard as a ConfigMap the Grafana sidecar loads, every query scoped to the stack", () => {
    const configMap = objectOf(prod.objects, "ConfigMap", "mesh-dashboard");
    assert.equal(configMap.metadata.labels.grafana_dashboard, "1");
    const dashboard = JSON.parse(configMap.data["mesh-mesh-prod.json"]);
    assert.equal(dashboard.title, "mesh prod");
    const titles = dashboard.panels.map((panel: { title: string }) => panel.title);
    for (const wanted of [
      /Queue depth/,
      /Dispatch latency/,
      /by outcome/,
      /Live executors/,
      /Replicas/,
      /fallbacks/,
      /401/,
    ])
      assert.ok(
        titles.some((title: string) => wanted.test(title)),
        `a panel for ${wanted}`,
      );
    for (const panel of dashboard.panels)
      for (const target of panel.targets) assert.match(target.expr, /namespace="mesh-prod"/, panel.title);
  });

  it("renders nothing of it with monitoring off (dev)", () => {
    assert.deepEqual(
      dev.objects.filter(
        (object) =>
          ["PodMonitor", "PrometheusRule"].includes(object.kind) || object.metadata.name === "mesh-dashboard",
      ),
      [],
    );
  });

  it("checks the objects against the Prometheus Operator's schema: a misspelt field fails", async () => {
    const monitor = structuredClone(objectOf(prod.objects, "PodMonitor", "mesh"));
    assert.deepEqual((await validateAgainstOpenApi([monitor])).problems, []);
    monitor.spec.podMetricEndpoints = monitor.spec.podMetricsEndpoints;
    delete monitor.spec.podMetricsEndpoints;
    const { problems } = await validateAgainstOpenApi([monitor]);
    assert.ok(
      problems.some((problem) => problem.message.includes("podMetricEndpoints")),
      JSON.stringify(problems),
    );
  });
});
