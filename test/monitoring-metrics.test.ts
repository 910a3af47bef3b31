import assert from "node:assert/strict";
import { KUBE_STATE_METRICS, meshAlerts } from "../infra/monitoring/alerts.js";
import { dashboardPanels } from "../infra/monitoring/dashboard.js";
import { ApiClient } from "./support/api-client.js";
import { type MeshProcess, startMesh, stopAll } from "./support/mesh-process.js";
import { waitForAllSucceeded } from "./support/run-checks.js";
import { expireStreamData, streamNamesOf } from "./support/run-stream-contents.js";
import { createTestDatabase, dropTestDatabase, NATS_URL } from "./support/services.js";

const TOKEN = "monitoring-test-token";
/** Labels Prometheus adds to every scraped series (and `le`, a histogram's bucket). */
const TARGET_LABELS = new Set(["namespace", "pod", "le"]);

/** Metric families and the label names their series carry, from Prometheus text exposition. */
function exposition(text: string): Map<string, Set<string>> {
  const families = new Map<string, Set<string>>();
  for (const line of text.split("\n")) {
    const declared = /^# TYPE (\w+) /.exec(line);
    if (declared?.[1]) families.set(declared[1], families.get(declared[1]) ?? new Set());
    const sample = /^(\w+?)(?:_bucket|_sum|_count)?\{([^}]*)\}/.exec(line);
    if (!sample?.[1]) continue;
    const family = families.has(sample[1])
      ? sample[1]
      : line.split("{")[0]?.replace(/_(bucket|sum|count)$/, "");
    const labels = families.get(family ?? "") ?? new Set<string>();
    for (const pair of sample[2]?.matchAll(/(\w+)="/g) ?? []) labels.add(pair[1] as string);
    if (family) families.set(family, labels);
  }
  return families;
}

/** The metrics a PromQL expression reads (each with its label matchers), and the labels it groups by. */
function references(expr: string): { metrics: { metric: string; matchers: string[] }[]; grouping: string[] } {
  const metrics = [...expr.matchAll(/\b((?:mesh|kube)_\w+)(\{([^}]*)\})?/g)].map((match) => ({
    metric: (match[1] as string).replace(/_bucket$/, ""),
    matchers: [...(match[3] ?? "").matchAll(/(\w+)\s*(=~|!~|!=|=)/g)].map((pair) => pair[1] as string),
  }));
  const grouping = [...expr.matchAll(/\b(?:by|on) \(([^)]*)\)/g)].flatMap((match) =>
    (match[1] as string).split(",").map((label) => label.trim()),
  );
  return { metrics, grouping };
}

/** Labels of kube-state-metrics' series the alerts group by (kube-state-metrics documents them). */
const KUBE_STATE_LABELS = new Set(["pod", "horizontalpodautoscaler", "reason"]);

// Fixture: a split deployment (api with a token, worker) on a fresh database. One run is streamed, its
// stream data expired and read again (a stored-result fallback), and a request is refused, so the
// labelled counters carry series; then both processes' /metrics are scraped.
describe("every metric an alert or a dashboard panel reads is one real mesh processes export", () => {
  let databaseUrl: string;
  const processes: MeshProcess[] = [];
  let exported: Map<string, Set<string>>;

  before(async () => {
    databaseUrl = await createTestDatabase("monitoring");
    const api = await startMesh({
      role: "api",
      databaseUrl,
      natsUrl: NATS_URL,
      env: { MESH_API_TOKEN: TOKEN },
    });
    const worker = await startMesh({ role: "worker", databaseUrl, natsUrl: NATS_URL });
    processes.push(api, worker);
    const client = new ApiClient(api.url, TOKEN);
    const runId = await client.createRun("monitoring", "what the dashboard shows");
    await waitForAllSucceeded(client, [runId]);
    await client.readStream(runId);
    await expireStreamData(streamNamesOf(databaseUrl), runId);
    assert.equal((await client.readStream(runId)).done?.source, "stored");
    assert.equal((await new ApiClient(api.url).request("GET", "/v1/queues")).status, 401);
    exported = new Map();
    for (const process of processes)
      for (const [family, labels] of exposition(await (await fetch(`${process.url}/metrics`)).text())) {
        const known = exported.get(family) ?? new Set<string>();
        for (const label of labels) known.add(label);
        exported.set(family, known);
      }
  });
  after(async () => {
    await stopAll(processes);
    await dropTestDatabase(databaseUrl);
  });

  const expressions = [
    ...meshAlerts({
      stack: "test",
      namespace: "mesh-test",
      runbookBaseUrl: "docs/operations.md",
      thresholds: {
        dispatchStalledFor: "1m",
        oldestEnqueuedSeconds: 1,
        dispatchP99Seconds: 1,
        streamFallbacksPerSecond: 1,
        authFailuresPerSecond: 1,
        restartsIn15m: 1,
        maxReplicasMinutes: 1,
      },
    }).map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr })),
    ...dashboardPanels("mesh-test").flatMap((panel) =>
      panel.targets.map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr })),
    ),
  ];

  it("reads only exported metric names, with labels their series carry", () => {
    assert.ok(expressions.length >= 15, `${expressions.length} expressions`);
    const problems: string[] = [];
    for (const { where, expr } of expressions) {
      const { metrics, grouping } = references(expr);
      assert.ok(metrics.length > 0, `${where} reads no metric: ${expr}`);
      const labelsInExpression = new Set<string>(TARGET_LABELS);
      for (const { metric } of metrics) {
        if (KUBE_STATE_METRICS.includes(metric))
          for (const label of KUBE_STATE_LABELS) labelsInExpression.add(label);
        for (const label of exported.get(metric) ?? []) labelsInExpression.add(label);
      }
      for (const { metric, matchers } of metrics) {
        if (KUBE_STATE_METRICS.includes(metric)) continue;
        const carried = exported.get(metric);
        if (!carried) problems.push(`${where}: ${metric} is not exported`);
        else
          for (const label of matchers)
            if (!TARGET_LABELS.has(label) && !carried.has(label))
              problems.push(`${where}: ${metric} has no label ${label}`);
      }
      // A label grouped or joined on must be carried by a metric the expression reads.
      for (const label of grouping)
        if (!labelsInExpression.has(label)) problems.push(`${where}: no metric it reads has label ${label}`);
    }
    assert.deepEqual(problems, []);
  });

  it("the check itself fails on a renamed metric and on a label mesh does not export", () => {
    const renamed = references('max by (queue) (mesh_queue_depths{status="ENQUEUED"})').metrics[0];
    assert.equal(renamed?.metric, "mesh_queue_depths");
    assert.equal(exported.has(renamed?.metric ?? ""), false);
    assert.equal(exported.get("mesh_queue_depth")?.has("tier"), false);
    assert.equal(exported.get("mesh_queue_depth")?.has("queue"), true);
    assert.equal(
      exported.get("mesh_stream_fallbacks_total")?.has("reason"),
      true,
      "the fallback was counted",
    );
    assert.equal(exported.get("mesh_auth_failures_total")?.has("reason"), true, "the 401 was counted");
  });
});
