// The policy pack (policy/) as `pulumi preview --policy-pack policy` runs it under the real engine: it
// starts, passes every shipped stack's shape, and refuses a deliberately broken program naming its rule.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@pulumi/kubernetes";
import { meshProgram } from "../../infra/program.js";
import { useTestCluster } from "../control-plane/test-cluster.js";
import { REPO_ROOT } from "../infra/support.js";
import { applyShape, engineStack, stepRecorder } from "./support/engine-stack.js";
import { stackShape } from "./support/stack-shapes.js";

/** The pack as an executable analyzer plugin (policy/analyzer): no Node language host is installed here. */
const POLICY_PACK = join(REPO_ROOT, "policy", "analyzer");
const MESH_POLICIES = [
  "api-role-requires-workers",
  "namespace-default-deny",
  "no-plaintext-secret-env",
  "pods-hardened",
  "rds-private-encrypted",
  "service-selects-no-workers",
];

describe("real engine: the policy pack", () => {
  const cluster = useTestCluster();
  let backendDir: string;
  before(() => {
    backendDir = mkdtempSync(join(tmpdir(), "mesh-engine-policy-"));
  });
  after(() => backendDir && rmSync(backendDir, { recursive: true, force: true }));

  for (const file of ["dev", "prod", "local"]) {
    it(`passes the ${file} stack's shape`, async () => {
      const stack = await engineStack({
        stackName: `policy-${file}`,
        backendDir,
        kubeconfigPath: cluster.current.kubeconfigPath,
      });
      await applyShape(stack, stackShape(file));
      const recorder = stepRecorder();
      const result = await stack.preview({ policyPacks: [POLICY_PACK], onEvent: recorder.onEvent });
      assert.ok(
        (result.changeSummary.create ?? 0) > 5,
        `previewed creates: ${JSON.stringify(result.changeSummary)}`,
      );
      assert.deepEqual([...recorder.policyPacks], ["mesh@0.1.0"], "the mesh pack ran");
      assert.deepEqual([...recorder.passedPolicies].sort(), MESH_POLICIES, "every rule ran and passed");
      assert.deepEqual(recorder.policyViolations, [], "no policy violation");
    });
  }

  it("refuses a program whose Service selects worker pods, naming the rule", async () => {
    const stack = await engineStack({
      stackName: "policy-broken",
      backendDir,
      kubeconfigPath: cluster.current.kubeconfigPath,
      program: async () => {
        const outputs = await meshProgram();
        new k8s.core.v1.Service("worker-leak", {
          metadata: { name: "worker-leak", namespace: outputs.namespace },
          spec: {
            selector: {
              "app.kubernetes.io/name": "mesh-worker",
              "app.kubernetes.io/instance": "mesh-policy-broken",
            },
            ports: [{ port: 80, targetPort: 8080 }],
          },
        });
        return outputs;
      },
    });
    await applyShape(stack, stackShape("dev", { "worker.enabled": true }));
    const recorder = stepRecorder();
    const failure = await stack.preview({ policyPacks: [POLICY_PACK], onEvent: recorder.onEvent }).then(
      () => assert.fail("preview passed a Service that selects worker pods"),
      (error: Error) => error,
    );
    assert.ok(failure);
    assert.ok(
      recorder.policyViolations.some((violation) => violation.startsWith("service-selects-no-workers:")),
      `violations: ${recorder.policyViolations.join("\n")}`,
    );
  });
});
