// #21 item 4, live: a real Prometheus scrapes mesh's pods on a real node through the PodMonitors the stack
// renders (read back from the API server, translated as the Prometheus Operator does), loads the rendered
// PrometheusRule, and MeshDispatchStalled goes pending, then firing, while runs wait with no worker
// listening — and resolves when the workers return and take them.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { ControlPlane } from "../control-plane/control-plane.js";
import {
  type PodMonitor,
  type PrometheusRule,
  ruleFileOf,
  scrapeConfigsOf,
} from "../monitoring/prometheus-operator.js";
import { type ActiveAlert, type PrometheusServer, startPrometheus } from "../monitoring/prometheus-server.js";
import { ApiClient } from "../support/api-client.js";
import { expectedOutput } from "../support/run-checks.js";
import { waitFor } from "../support/wait.js";
import {
  type RealDrillEnvironment,
  realNodeResources,
  startRealDrillEnvironment,
} from "./drill/real-drill-environment.js";
import { stackShape } from "./support/stack-shapes.js";

const STACK = "live-alerts";
const NAMESPACE = `mesh-${STACK}`;
const TOKENS = 8;
/** The stack's `for` on MeshDispatchStalled: short, so the drill sees pending turn into firing. */
const STALLED_FOR_SECONDS = 20;
const ALERT = "MeshDispatchStalled";

interface PodList {
  items: {
    metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string };
    status?: { phase?: string; podIP?: string };
  }[];
}

describe("live alerts: a real Prometheus scrapes the pods through the PodMonitors and fires MeshDispatchStalled", () => {
  let drill: RealDrillEnvironment;
  let cluster: ControlPlane;
  let prometheus: PrometheusServer;
  const apiToken = randomBytes(16).toString("hex");
  const shape = stackShape("dev", {
    dispatchRole: "api",
    "api.replicas": 1,
    "worker.enabled": true,
    "worker.replicas": 1,
    "worker.concurrency": 2,
    "api.resources": realNodeResources("512Mi"),
    "worker.resources": realNodeResources("512Mi"),
    "monitoring.enabled": true,
    "monitoring.scrapeInterval": "2s",
    "monitoring.thresholds.dispatchStalledFor": `${STALLED_FOR_SECONDS}s`,
    "extraEnv.MESH_BUILTIN_TOKENS": String(TOKENS),
    "extraEnv.MESH_BUILTIN_TOKEN_DELAY_MS": "20",
  });
  const runningPods = async () =>
    (await cluster.api<PodList>("GET", `/api/v1/namespaces/${NAMESPACE}/pods`)).body.items.filter(
      (pod) =>
        !pod.metadata.deletionTimestamp &&
        pod.status?.phase === "Running" &&
        pod.metadata.labels?.["app.kubernetes.io/component"] !== "migration",
    );
  const scaleWorkers = async (replicas: number) => {
    const patched = await cluster.api(
      "PATCH",
      `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/mesh-worker/scale`,
      { spec: { replicas } },
    );
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
  };
  const stalled = async (): Promise<ActiveAlert | undefined> =>
    (await prometheus.alerts()).find((alert) => alert.labels.alertname === ALERT);

  before(async function () {
    this.timeout(1_200_000);
    drill = await startRealDrillEnvironment({
      stackName: STACK,
      nodes: [{ name: "node-a", zone: "zone-a" }],
      meshImage: String(shape.values.image),
      shape,
      apiToken,
    });
    cluster = drill.cluster;
    // What the operator would read: the monitors and rules the stack created, from the API server.
    const monitors = await cluster.api<{ items: PodMonitor[] }>(
      "GET",
      `/apis/monitoring.coreos.com/v1/namespaces/${NAMESPACE}/podmonitors`,
    );
    const rules = await cluster.api<{ items: PrometheusRule[] }>(
      "GET",
      `/apis/monitoring.coreos.com/v1/namespaces/${NAMESPACE}/prometheusrules`,
    );
    const access = {
      server: cluster.server,
      caFile: cluster.certificates.caCert,
      certFile: cluster.certificates.adminCert,
      keyFile: cluster.certificates.adminKey,
    };
    prometheus = await startPrometheus({
      scrapeConfigs: monitors.body.items.flatMap((monitor) => scrapeConfigsOf(monitor, access)),
      ruleFile: ruleFileOf(rules.body.items),
      scrapeInterval: "2s",
      evaluationInterval: "2s",
    });
  });

  after(async function () {
    this.timeout(300_000);
    await prometheus?.stop();
    await drill?.stop();
  });

  it("scrapes every api and worker pod at its pod address, through the PodMonitor of its tier", async () => {
    const pods = await runningPods();
    assert.deepEqual(pods.map((pod) => pod.metadata.labels?.["app.kubernetes.io/name"]).sort(), [
      "mesh",
      "mesh-worker",
    ]);
    const targets = await waitFor(
      "a healthy target per pod",
      async () => {
        const active = (await prometheus.targets()).filter((target) => target.health === "up");
        return active.length === pods.length ? active : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1_000 },
    );
    for (const pod of pods) {
      const target = targets.find((entry) => entry.labels.pod === pod.metadata.name);
      assert.ok(target, `${pod.metadata.name} is a target`);
      assert.equal(new URL(target.scrapeUrl).hostname, pod.status?.podIP, "scraped at the pod's address");
      assert.equal(target.labels.namespace, NAMESPACE);
      assert.equal(
        target.scrapePool,
        `podMonitor/${NAMESPACE}/${pod.metadata.labels?.["app.kubernetes.io/name"]}/0`,
      );
    }
    const listeners = await waitFor("the listener gauge scraped", async () => {
      const result = await prometheus.query(
        `mesh_queue_listeners{namespace="${NAMESPACE}",queue="thread-gate"}`,
      );
      return result.length > 0 ? result : undefined;
    });
    assert.ok(
      listeners.every((sample) => Number(sample.value[1]) >= 1),
      "the worker listens while it runs",
    );
  });

  it(`fires ${ALERT} while a run waits with no worker listening (pending ${STALLED_FOR_SECONDS} s first), and resolves when the workers return`, async function () {
    this.timeout(600_000);
    assert.equal(await stalled(), undefined, "no stalled dispatch while the worker listens");
    const started = Date.now();
    const at = (time: number) => `${((time - started) / 1_000).toFixed(1)} s`;
    await scaleWorkers(0);
    await waitFor(
      "the worker gone",
      async () => !(await runningPods()).some((pod) => pod.metadata.name.startsWith("mesh-worker")),
      { timeoutMs: 180_000, intervalMs: 1_000 },
    );
    const workersGone = Date.now();
    const client = new ApiClient(drill.serviceUrl, apiToken);
    const input = `stalled ${randomBytes(4).toString("hex")}`;
    const runId = await client.createRun("live-alerts", input);
    const submitted = Date.now();

    const timeline: Record<string, number> = {};
    const firing = await waitFor(
      `${ALERT} firing`,
      async () => {
        const alert = await stalled();
        if (alert?.state === "pending") timeline.pending ??= Date.now();
        return alert?.state === "firing" ? alert : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 500 },
    );
    timeline.firing = Date.now();
    assert.ok(timeline.pending, "the alert was pending before it fired");
    assert.ok(
      timeline.firing - timeline.pending >= (STALLED_FOR_SECONDS - 2) * 1_000,
      `pending for its \`for\` (${STALLED_FOR_SECONDS} s) before firing: ${timeline.firing - timeline.pending} ms`,
    );
    assert.equal(firing.labels.queue, "thread-gate");
    assert.equal(firing.labels.severity, "critical");
    assert.equal(
      firing.annotations.summary,
      `mesh ${STACK}: runs wait on thread-gate and no live executor dequeues it`,
    );
    assert.match(firing.annotations.runbook_url ?? "", /operations\.md#meshdispatchstalled$/);
    assert.equal((await client.getRun(runId)).status, "ENQUEUED", "the run still waits");

    await scaleWorkers(1);
    const scaledUp = Date.now();
    const run = await waitFor(
      "the run taken and finished by the returning worker",
      async () => {
        const body = await client.getRun(runId);
        return body.status === "SUCCESS" ? body : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 1_000 },
    );
    assert.equal(run.output, expectedOutput(input, TOKENS));
    const finished = Date.now();
    await waitFor("the alert resolved", async () => (await stalled()) === undefined, {
      timeoutMs: 120_000,
      intervalMs: 500,
    });
    const resolved = Date.now();
    // Resolved means gone from Prometheus' active alerts; a moment later it must still be gone.
    await sleep(5_000);
    assert.equal(await stalled(), undefined, "resolved stays resolved");
    console.log(
      `    live ${ALERT}: workers gone ${at(workersGone)}, run submitted ${at(submitted)}, pending ${at(timeline.pending)}, ` +
        `firing ${at(timeline.firing)} (for ${STALLED_FOR_SECONDS} s), workers scaled up ${at(scaledUp)}, ` +
        `run SUCCESS ${at(finished)}, resolved ${at(resolved)}`,
    );
  });
});
