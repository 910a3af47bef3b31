// Invalid stack config under the real engine: `pulumi preview` fails naming the key, and nothing is created
// (neither in the stack state nor in the cluster).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { useTestCluster } from "../control-plane/test-cluster.js";
import { applyShape, engineStack, stepRecorder } from "./support/engine-stack.js";
import { stackShape } from "./support/stack-shapes.js";

const CASES = [
  {
    title: "dispatchRole=api without workers",
    overrides: { dispatchRole: "api" },
    expected: /mesh:dispatchRole: dispatchRole=api requires worker\.enabled=true/,
  },
  {
    title: "a typo'd key (worker.enabeld)",
    overrides: { "worker.enabeld": true },
    expected: /mesh:worker: unknown key enabeld/,
  },
];

describe("real engine: invalid config is refused before anything is created", () => {
  const cluster = useTestCluster();
  let backendDir: string;
  before(() => {
    backendDir = mkdtempSync(join(tmpdir(), "mesh-engine-invalid-"));
  });
  after(() => backendDir && rmSync(backendDir, { recursive: true, force: true }));

  CASES.forEach(({ title, overrides, expected }, index) => {
    it(`refuses ${title}: preview and up fail naming the key, nothing is created`, async () => {
      const stackName = `invalid-${index}`;
      const stack = await engineStack({
        stackName,
        backendDir,
        kubeconfigPath: cluster.current.kubeconfigPath,
      });
      await applyShape(stack, stackShape("dev", overrides));
      for (const operation of ["preview", "up"] as const) {
        const recorder = stepRecorder();
        const failure = await stack[operation]({ onEvent: recorder.onEvent }).then(
          () => assert.fail(`${operation} succeeded with ${title}`),
          (error: Error) => error,
        );
        assert.match(`${failure.message}\n${recorder.diagnostics.join("\n")}`, expected, operation);
        assert.deepEqual(
          recorder.steps.filter((step) => step.type !== "pulumi:pulumi:Stack").map((step) => step.urn),
          [],
          `${operation} registered no resource`,
        );
      }
      const exported = await stack.exportStack();
      const kept = (exported.deployment.resources ?? []).filter(
        (resource: { type: string }) => resource.type !== "pulumi:pulumi:Stack",
      );
      assert.deepEqual(kept, [], "the state holds no resource");
      assert.equal((await cluster.current.api("GET", "/api/v1/namespaces/mesh-dev-shape")).status, 404);
      assert.equal((await cluster.current.api("GET", `/api/v1/namespaces/mesh-${stackName}`)).status, 404);
    });
  });
});
