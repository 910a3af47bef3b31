import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlane } from "../test/control-plane/control-plane.js";
import { applyShape, engineStack, setPathConfig } from "../test/engine/support/engine-stack.js";
import { stackShape } from "../test/engine/support/stack-shapes.js";
import { type Summary, summarize } from "./stats.js";

/** Wall times (ms) of the dev stack's shape under the real Pulumi engine against a real kube-apiserver. */
export interface EngineTimings {
  /** `pulumi preview` of an empty stack (everything to create). */
  previewEmptyMs: Summary;
  /** `pulumi up` from empty to state 1 (waits for the migration Job and the Deployment). */
  upMs: Summary;
  /** `pulumi preview` with nothing to change. */
  previewNoChangeMs: Summary;
  /** `pulumi preview` of rollout step 1 (workers on). */
  previewWorkersOnMs: Summary;
  /** `pulumi destroy` (waits until every object is gone). */
  destroyMs: Summary;
}

const timed = async (action: () => Promise<unknown>) => {
  const started = performance.now();
  await action();
  return performance.now() - started;
};

/**
 * Times the engine's operations on the test control plane (kwok's fake node), `repeats` cycles of
 * up → destroy with previews around them. Not asserted anywhere: a report figure.
 */
export async function engineTimings(repeats: number): Promise<EngineTimings> {
  const controlPlane = await startControlPlane();
  const backendDir = mkdtempSync(join(tmpdir(), "mesh-bench-engine-"));
  const samples = {
    previewEmpty: [],
    up: [],
    previewNoChange: [],
    previewWorkersOn: [],
    destroy: [],
  } as Record<string, number[]>;
  try {
    const stack = await engineStack({
      stackName: "bench",
      backendDir,
      kubeconfigPath: controlPlane.kubeconfigPath,
    });
    for (let cycle = 0; cycle < repeats; cycle++) {
      await applyShape(stack, stackShape("dev"));
      samples.previewEmpty?.push(await timed(() => stack.preview()));
      samples.up?.push(await timed(() => stack.up()));
      samples.previewNoChange?.push(await timed(() => stack.preview()));
      await setPathConfig(stack, { "worker.enabled": true });
      samples.previewWorkersOn?.push(await timed(() => stack.preview()));
      samples.destroy?.push(await timed(() => stack.destroy()));
    }
  } finally {
    await controlPlane.stop();
    rmSync(backendDir, { recursive: true, force: true });
  }
  return {
    previewEmptyMs: summarize(samples.previewEmpty ?? []),
    upMs: summarize(samples.up ?? []),
    previewNoChangeMs: summarize(samples.previewNoChange ?? []),
    previewWorkersOnMs: summarize(samples.previewWorkersOn ?? []),
    destroyMs: summarize(samples.destroy ?? []),
  };
}
