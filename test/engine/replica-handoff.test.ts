// Replica handoff (#25), under the real engine against the real API server and its controllers: a worker
// tier running 4 replicas is put under a CPU autoscaler with `pulumi config set`, and a watch records the
// Deployment's desired count through every update — it must never go below 4 (server-side apply resets a
// field no manager owns to its default, 1), the autoscaler must own it afterwards (raising minReplicas
// scales it; an unrelated update does not undo that), and turning autoscaling off keeps the count.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { HANDOFF_FIELD_MANAGER } from "../../infra/replica-handoff.js";
import { useTestCluster } from "../control-plane/test-cluster.js";
import {
  applyShape,
  changes,
  describeSteps,
  engineStack,
  setPathConfig,
  stepRecorder,
} from "./support/engine-stack.js";
import { watchReplicas } from "./support/replica-watch.js";
import { stackShape } from "./support/stack-shapes.js";

const NAMESPACE = "mesh-replicas";
const WORKER = "mesh-worker";
/** The HPA controller syncs every 15 s; a count it changes shows within a few syncs. */
const AUTOSCALER_WAIT_MS = 90_000;

interface Autoscaler {
  status?: { currentReplicas?: number; desiredReplicas?: number; conditions?: { type: string }[] };
}

describe("real engine: autoscaling takes over a running tier without resetting its replicas", function () {
  this.timeout(600_000);
  const cluster = useTestCluster();
  let backendDir: string;
  let stack: Stack;
  let watcher: Awaited<ReturnType<typeof watchReplicas>>;

  before(async function () {
    this.timeout(240_000);
    backendDir = mkdtempSync(join(tmpdir(), "mesh-engine-replicas-"));
    stack = await engineStack({
      stackName: "replicas",
      backendDir,
      kubeconfigPath: cluster.current.kubeconfigPath,
    });
    // State 2 of the dev stack with 4 fixed workers on the fake node.
    await applyShape(stack, stackShape("dev", { "worker.enabled": true, "worker.replicas": 4 }));
    const deployed = await stack.up();
    assert.equal(deployed.summary.result, "succeeded");
    watcher = await watchReplicas(cluster.current.kubeconfigPath, NAMESPACE, WORKER);
  });
  after(async function () {
    this.timeout(240_000);
    watcher?.stop();
    await stack?.destroy().catch(() => undefined);
    if (backendDir) rmSync(backendDir, { recursive: true, force: true });
  });

  async function up(values: Record<string, string | number | boolean>) {
    await setPathConfig(stack, values);
    const recorder = stepRecorder();
    const result = await stack.up({ onEvent: recorder.onEvent });
    assert.equal(result.summary.result, "succeeded", recorder.diagnostics.join("\n"));
    return describeSteps(changes(recorder.steps));
  }

  async function liveReplicas(): Promise<{ spec?: number; ready?: number }> {
    const { body } = await cluster.current.api<{
      spec: { replicas?: number };
      status: { readyReplicas?: number };
    }>("GET", `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${WORKER}`);
    return { spec: body.spec.replicas, ready: body.status.readyReplicas };
  }

  async function eventually<T>(
    what: string,
    read: () => Promise<T>,
    done: (value: T) => boolean,
  ): Promise<T> {
    const deadline = Date.now() + AUTOSCALER_WAIT_MS;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(value)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  const autoscaler = async () =>
    (
      await cluster.current.api<Autoscaler>(
        "GET",
        `/apis/autoscaling/v2/namespaces/${NAMESPACE}/horizontalpodautoscalers/${WORKER}`,
      )
    ).body;

  it("turning the autoscaler on keeps all 4 replicas through the update, with the count held by the handoff patch", async () => {
    assert.deepEqual(await liveReplicas(), { spec: 4, ready: 4 }, "4 workers running before");
    const mark = watcher.mark();
    const steps = await up({
      "worker.autoscaling.enabled": true,
      "worker.autoscaling.mode": "cpu",
      "worker.autoscaling.minReplicas": 2,
      "worker.autoscaling.maxReplicas": 10,
    });
    // The autoscaler has evaluated the tier (its controller acts on a count below minReplicas even when
    // it cannot read metrics, as here): a reset to 1 would have been raised to 2 by now, never back to 4.
    await eventually(
      "the HPA reports the tier",
      autoscaler,
      (hpa) => hpa.status?.currentReplicas !== undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 16_000)); // one more HPA sync
    const seen = watcher.since(mark);
    assert.ok(seen.length >= 1, "the watch saw the Deployment's update");
    const counts = seen.map((sample) => sample.replicas);
    assert.ok(
      counts.every((count) => count !== undefined && count >= 4),
      `desired replicas through the update: ${counts.join(" → ")}`,
    );
    assert.ok(
      steps.some((step) =>
        step.startsWith("create kubernetes:apps/v1:DeploymentPatch mesh-worker-replica-handoff"),
      ),
      steps.join("\n"),
    );
    assert.deepEqual(await liveReplicas(), { spec: 4, ready: 4 });
    assert.deepEqual(watcher.latest()?.owners, [HANDOFF_FIELD_MANAGER], "the patch alone owns the count");
  });

  it("leaves the count to the autoscaler afterwards: it scales the tier, and a later update does not undo it", async () => {
    await up({ "worker.autoscaling.minReplicas": 6 });
    await eventually("the HPA raises the tier to its new minimum", liveReplicas, (live) => live.spec === 6);
    const owners = watcher.latest()?.owners ?? [];
    assert.ok(
      !owners.includes(HANDOFF_FIELD_MANAGER),
      `the autoscaler took the field over: ${owners.join(", ")}`,
    );

    // An unrelated change that rolls the tier: the handoff patch is not re-applied, the count stays 6.
    const mark = watcher.mark();
    const steps = await up({ "extraEnv.REPLICA_TEST_ROLL": "1" });
    assert.ok(
      steps.some((step) => step.startsWith(`update kubernetes:apps/v1:Deployment ${WORKER}-deployment`)),
      steps.join("\n"),
    );
    assert.ok(
      !steps.some((step) => step.includes("replica-handoff")),
      `the patch is left alone: ${steps.join("\n")}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 16_000)); // one more HPA sync
    const counts = watcher.since(mark).map((sample) => sample.replicas);
    assert.ok(
      counts.length >= 1 && counts.every((count) => count === 6),
      `through the roll: ${counts.join(" → ")}`,
    );
  });

  it("turning the autoscaler off keeps the count: the Deployment declares it again, and the configured count applies after", async () => {
    const mark = watcher.mark();
    const steps = await up({ "worker.autoscaling.enabled": false, "worker.replicas": 6 });
    assert.ok(
      steps.includes(`delete kubernetes:apps/v1:DeploymentPatch ${WORKER}-replica-handoff`),
      steps.join("\n"),
    );
    assert.ok(
      steps.includes(`delete kubernetes:autoscaling/v2:HorizontalPodAutoscaler ${WORKER}-hpa`),
      steps.join("\n"),
    );
    const seen = watcher.since(mark);
    const counts = seen.map((sample) => sample.replicas);
    assert.ok(
      counts.every((count) => count === 6),
      `through the update: ${counts.join(" → ")}`,
    );
    await eventually("6 ready", liveReplicas, (live) => live.ready === 6);
    assert.deepEqual(await liveReplicas(), { spec: 6, ready: 6 });
    const owners = watcher.latest()?.owners ?? [];
    assert.ok(
      owners.some((owner) => owner.startsWith("pulumi-kubernetes-")),
      `Pulumi's Deployment owns the count again: ${owners.join(", ")}`,
    );
    // The configured count applies again, whoever else co-owned the field.
    await up({ "worker.replicas": 5 });
    await eventually("5 ready", liveReplicas, (live) => live.spec === 5 && live.ready === 5);
  });

  it("hands over again, and a destroy removes the tier with its patch", async () => {
    const mark = watcher.mark();
    // minReplicas back within reach of the running 5: with 6 the HPA would rightly raise the tier at its
    // first sync, mid-update on a slow machine, and the count could not be told from a handoff's.
    await up({ "worker.autoscaling.enabled": true, "worker.autoscaling.minReplicas": 2 });
    await new Promise((resolve) => setTimeout(resolve, 16_000)); // one HPA sync: it keeps the 5
    const counts = watcher.since(mark).map((sample) => sample.replicas);
    assert.ok(
      counts.every((count) => count === 5),
      `through the update: ${counts.join(" → ")}`,
    );
    assert.deepEqual(watcher.latest()?.owners, [HANDOFF_FIELD_MANAGER], "a new patch holds the count");
    const destroyed = await stack.destroy();
    assert.equal(destroyed.summary.result, "succeeded");
  });
});
