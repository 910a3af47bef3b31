import assert from "node:assert/strict";
import type { RegisteredResource } from "../../infra/render/run-under-mocks.js";
import {
  HANDOFF_FIELD_MANAGER,
  parseReplicaLedger,
  type ReplicaLedger,
} from "../../infra/replica-handoff.js";
import { renderStack } from "./support.js";

// Fixture: the dev stack under Pulumi's mocks, with workers (4 fixed replicas) and the replica ledger a
// previous update would have left. The real engine's test (test/engine/replica-handoff.test.ts) shows the
// count on a live Deployment through the update; this one pins what the program registers.
const PATCH = "kubernetes:apps/v1:DeploymentPatch";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const WORKERS = ["worker.enabled=true", "worker.replicas=4"];
const CPU_AUTOSCALING = [
  "worker.autoscaling.enabled=true",
  "worker.autoscaling.mode=cpu",
  "worker.autoscaling.minReplicas=2",
  "worker.autoscaling.maxReplicas=10",
];

const patches = (resources: RegisteredResource[]) => resources.filter((resource) => resource.type === PATCH);
const deploymentNamed = (resources: RegisteredResource[], name: string) => {
  const found = resources.find(
    (resource) => resource.type === DEPLOYMENT && resource.inputs.metadata?.name === name,
  );
  assert.ok(found, `Deployment ${name}`);
  return found;
};

describe("replica handoff (#25): autoscaling takes over a running tier's count", () => {
  it("turning autoscaling on: a patch under its own field manager holds the previous count, and the Deployment that drops spec.replicas waits for it", async () => {
    const previous: ReplicaLedger = { fixed: { mesh: 2, "mesh-worker": 4 }, held: {} };
    const { resources, outputs } = await renderStack("dev", [...WORKERS, ...CPU_AUTOSCALING], {
      previousReplicas: previous,
    });
    const [patch, ...others] = patches(resources);
    assert.ok(patch, "a handoff patch");
    assert.deepEqual(others, [], "only the tier that switched gets one");
    assert.equal(patch.name, "mesh-worker-replica-handoff");
    assert.equal(patch.inputs.metadata.name, "mesh-worker");
    assert.equal(patch.inputs.metadata.namespace, "mesh-dev");
    assert.equal(patch.inputs.metadata.annotations["pulumi.com/patchFieldManager"], HANDOFF_FIELD_MANAGER);
    assert.deepEqual(patch.inputs.spec, { replicas: 4 });

    const worker = deploymentNamed(resources, "mesh-worker");
    assert.equal(worker.inputs.spec.replicas, undefined, "the autoscaler owns the count");
    assert.ok(
      worker.engine.dependsOn.includes(`${PATCH}::mesh-worker-replica-handoff`),
      `the Deployment's update waits for the patch: ${worker.engine.dependsOn.join(", ")}`,
    );
    assert.ok(patch.order < worker.order);
    assert.deepEqual(outputs.replicaHandoff, { fixed: { mesh: 2 }, held: { "mesh-worker": 4 } });
  });

  it("keeps the patch unchanged while autoscaling stays on, whatever the configured count says now", async () => {
    const previous: ReplicaLedger = { fixed: { mesh: 2 }, held: { "mesh-worker": 4 } };
    const { resources } = await renderStack(
      "dev",
      ["worker.enabled=true", "worker.replicas=9", ...CPU_AUTOSCALING],
      {
        previousReplicas: previous,
      },
    );
    assert.deepEqual(
      patches(resources).map((patch) => [patch.name, patch.inputs.spec]),
      [["mesh-worker-replica-handoff", { replicas: 4 }]],
    );
  });

  it("needs no patch for a tier that never declared a count, and none once autoscaling is off again", async () => {
    // A new tier, born autoscaled: nothing to lose.
    const fresh = await renderStack("dev", [...WORKERS, ...CPU_AUTOSCALING], {
      previousReplicas: { fixed: { mesh: 2 }, held: {} },
    });
    assert.deepEqual(patches(fresh.resources), []);
    // A stack's first update.
    const first = await renderStack("dev", [...WORKERS, ...CPU_AUTOSCALING]);
    assert.deepEqual(patches(first.resources), []);
    // Off again: the Deployment declares its count; the patch leaves the stack.
    const off = await renderStack("dev", WORKERS, {
      previousReplicas: { fixed: { mesh: 2 }, held: { "mesh-worker": 4 } },
    });
    assert.deepEqual(patches(off.resources), []);
    assert.equal(deploymentNamed(off.resources, "mesh-worker").inputs.spec.replicas, 4);
    assert.deepEqual(off.outputs.replicaHandoff, { fixed: { mesh: 2, "mesh-worker": 4 }, held: {} });
  });

  it("hands over the api tier too, and reads a stack's counts from its topology output when it has no ledger yet", async () => {
    const legacy = parseReplicaLedger(undefined, {
      state: 2,
      main: { deployment: "mesh", role: "all", replicas: 3 },
      worker: { deployment: "mesh-worker", role: "worker", replicas: "2-10 (cpu)" },
    });
    assert.deepEqual(legacy, { fixed: { mesh: 3 }, held: {} });
    const { resources } = await renderStack(
      "dev",
      ["api.autoscaling.enabled=true", "api.autoscaling.minReplicas=2", "api.autoscaling.maxReplicas=6"],
      { previousReplicas: legacy },
    );
    assert.deepEqual(
      patches(resources).map((patch) => [patch.inputs.metadata.name, patch.inputs.spec]),
      [["mesh", { replicas: 3 }]],
    );
    assert.equal(parseReplicaLedger(undefined, undefined), undefined, "a first update has none");
  });
});
