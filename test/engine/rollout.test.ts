// The two-step rollout of DESIGN §3.3 as the real engine diffs it, for every worker autoscaling mode:
// 1 → 2 only creates (every object the render adds, nothing updated or replaced), 2 → 3 is one update of
// the main Deployment whose only change is MESH_DISPATCH_ROLE, and 3 → 2 → 1 mirror them.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { objectKey } from "../../infra/render/kubernetes-objects.js";
import { useTestCluster } from "../control-plane/test-cluster.js";
import {
  applyShape,
  changes,
  describeSteps,
  engineStack,
  type ResourceStep,
  setPathConfig,
  stepRecorder,
} from "./support/engine-stack.js";
import { renderOffline, setPath, stackShape } from "./support/stack-shapes.js";

const STACK = "rollout";
/** The only property a 2 ↔ 3 step may change: MESH_DISPATCH_ROLE is the main container's first env entry. */
const ROLE_ENV_PATH = "spec.template.spec.containers[0].env[0].value";

/** Worker autoscaling as `pulumi config set --path` would set it, per mode. */
const MODES: Record<string, Record<string, string | number | boolean>> = {
  "fixed replicas": { "worker.autoscaling.enabled": false },
  cpu: { "worker.autoscaling.enabled": true, "worker.autoscaling.mode": "cpu" },
  queueDepth: { "worker.autoscaling.enabled": true, "worker.autoscaling.mode": "queueDepth" },
};

describe("real engine: the two-step rollout and its rollback", () => {
  const cluster = useTestCluster();
  let backendDir: string;
  let stack: Stack;
  const shape = stackShape("dev");

  before(async function () {
    this.timeout(180_000);
    backendDir = mkdtempSync(join(tmpdir(), "mesh-engine-rollout-"));
    stack = await engineStack({
      stackName: STACK,
      backendDir,
      kubeconfigPath: cluster.current.kubeconfigPath,
    });
    await applyShape(stack, shape);
    const result = await stack.up();
    assert.equal(result.summary.result, "succeeded");
  });
  after(async function () {
    this.timeout(180_000);
    await stack?.destroy().catch(() => undefined);
    if (backendDir) rmSync(backendDir, { recursive: true, force: true });
  });

  /** `pulumi config set --path ...` then `pulumi up`; returns the steps that changed something. */
  async function configSetAndUp(values: Record<string, string | number | boolean>): Promise<ResourceStep[]> {
    await setPathConfig(stack, values);
    for (const [key, value] of Object.entries(values)) setPath(shape.values, key, value);
    const recorder = stepRecorder();
    const result = await stack.up({ onEvent: recorder.onEvent });
    assert.equal(result.summary.result, "succeeded", recorder.diagnostics.join("\n"));
    return changes(recorder.steps);
  }

  const renderedKeys = () => new Set(renderOffline(STACK, shape).map(objectKey));

  for (const [mode, settings] of Object.entries(MODES)) {
    describe(`workers with ${mode}`, () => {
      let workerTypes: string[] = [];

      it("changes nothing while workers are off", async () => {
        const steps = await configSetAndUp(settings);
        assert.deepEqual(describeSteps(steps), []);
      });

      it("1 → 2 (worker.enabled=true) only creates: every object the render adds, nothing updated or replaced", async () => {
        const before = renderedKeys();
        const steps = await configSetAndUp({ "worker.enabled": true });
        const added = [...renderedKeys()].filter((key) => !before.has(key)).sort();
        assert.ok(added.some((key) => key.startsWith("Deployment/") && key.endsWith("/mesh-worker")));
        assert.ok(
          steps.every((step) => step.op === "create"),
          `only creates in step 1:\n${describeSteps(steps).join("\n")}`,
        );
        // One create per object the render adds; component resources group them and are no object.
        const objects = steps.filter((step) => step.type.startsWith("kubernetes:"));
        assert.equal(
          objects.length,
          added.length,
          `created ${describeSteps(steps).join(", ")} for ${added.join(", ")}`,
        );
        workerTypes = steps.map((step) => `${step.type} ${step.name}`).sort();
      });

      it("2 → 3 (dispatchRole=api) is one update of the main Deployment: MESH_DISPATCH_ROLE only", async () => {
        const steps = await configSetAndUp({ dispatchRole: "api" });
        assert.deepEqual(describeSteps(steps), [
          `update kubernetes:apps/v1:Deployment mesh-deployment [${ROLE_ENV_PATH}]`,
        ]);
      });

      it("3 → 2 (dispatchRole=all) is the mirror image: one update of MESH_DISPATCH_ROLE", async () => {
        const steps = await configSetAndUp({ dispatchRole: "all" });
        assert.deepEqual(describeSteps(steps), [
          `update kubernetes:apps/v1:Deployment mesh-deployment [${ROLE_ENV_PATH}]`,
        ]);
      });

      it("2 → 1 (worker.enabled=false) only deletes what step 1 created", async () => {
        const steps = await configSetAndUp({ "worker.enabled": false });
        assert.ok(
          steps.every((step) => step.op === "delete"),
          `only deletes:\n${describeSteps(steps).join("\n")}`,
        );
        assert.deepEqual(steps.map((step) => `${step.type} ${step.name}`).sort(), workerTypes);
      });
    });
  }
});
