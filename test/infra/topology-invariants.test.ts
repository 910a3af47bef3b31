import assert from "node:assert/strict";
import { objectOf, type RenderedStack, renderStack, selects } from "./support.js";

// Fixture: the dev stack (state 1) and the two rollout steps of DESIGN §3.3 applied to it.
const STATE_1: string[] = [];
const STATE_2 = ["worker.enabled=true"];
const STATE_3 = ["worker.enabled=true", "dispatchRole=api"];

describe("topology invariants (DESIGN §3.3)", () => {
  let one: RenderedStack;
  let two: RenderedStack;
  let three: RenderedStack;

  before(async () => {
    one = await renderStack("dev", STATE_1);
    two = await renderStack("dev", STATE_2);
    three = await renderStack("dev", STATE_3);
  });

  const inputsOf = (stack: RenderedStack, type: string, name: string) => {
    const resource = stack.resources.find((candidate) => candidate.type === type && candidate.name === name);
    assert.ok(resource, `${type} ${name} not registered`);
    return JSON.stringify(resource.inputs);
  };

  it("keeps the main Deployment, Service and PDB byte-identical when workers are switched on (1 -> 2)", () => {
    for (const [type, name] of [
      ["kubernetes:apps/v1:Deployment", "mesh-deployment"],
      ["kubernetes:core/v1:Service", "mesh-service"],
      ["kubernetes:policy/v1:PodDisruptionBudget", "mesh-pdb"],
    ] as const) {
      assert.equal(inputsOf(two, type, name), inputsOf(one, type, name), `${name} changed`);
    }
  });

  it("only adds resources when workers are switched on (1 -> 2)", () => {
    const names = (stack: RenderedStack) =>
      new Set(stack.resources.map((resource) => `${resource.type} ${resource.name}`));
    const before = names(one);
    const after = names(two);
    assert.deepEqual(
      [...before].filter((name) => !after.has(name)),
      [],
    );
    const added = [...after].filter((name) => !before.has(name)).sort();
    assert.deepEqual(added, [
      "kubernetes:apps/v1:Deployment mesh-worker-deployment",
      "kubernetes:policy/v1:PodDisruptionBudget mesh-worker-pdb",
    ]);
    // Everything that existed before is unchanged, not only the main tier.
    for (const resource of one.resources) {
      assert.equal(
        inputsOf(two, resource.type, resource.name),
        JSON.stringify(resource.inputs),
        `${resource.name} changed`,
      );
    }
  });

  it("changes only MESH_DISPATCH_ROLE of the main container on the role switch (2 -> 3)", () => {
    const before = objectOf(two.objects, "Deployment", "mesh");
    const after = objectOf(three.objects, "Deployment", "mesh");
    const roleOf = (deployment: typeof before) =>
      deployment.spec.template.spec.containers[0].env.find(
        (entry: { name: string }) => entry.name === "MESH_DISPATCH_ROLE",
      ).value;
    assert.equal(roleOf(before), "all");
    assert.equal(roleOf(after), "api");
    const withoutRole = (deployment: typeof before) => {
      const copy = structuredClone(deployment);
      const env = copy.spec.template.spec.containers[0].env;
      env.find((entry: { name: string }) => entry.name === "MESH_DISPATCH_ROLE").value = "<role>";
      return copy;
    };
    assert.deepEqual(withoutRole(after), withoutRole(before));
    // ...and nothing else in the stack changes.
    for (const resource of two.resources) {
      if (resource.name === "mesh-deployment") continue;
      assert.equal(
        inputsOf(three, resource.type, resource.name),
        JSON.stringify(resource.inputs),
        `${resource.name} changed`,
      );
    }
  });

  it("rolls back by the same steps in reverse (3 -> 2 -> 1 gives back the same inputs)", async () => {
    const backToTwo = await renderStack("dev", STATE_2);
    const backToOne = await renderStack("dev", STATE_1);
    assert.deepEqual(
      backToTwo.resources.map((resource) => JSON.stringify(resource.inputs)).sort(),
      two.resources.map((resource) => JSON.stringify(resource.inputs)).sort(),
    );
    assert.deepEqual(
      backToOne.resources.map((resource) => JSON.stringify(resource.inputs)).sort(),
      one.resources.map((resource) => JSON.stringify(resource.inputs)).sort(),
    );
  });

  it("keeps every selector equal across the three states", () => {
    const selectorsOf = (stack: RenderedStack) => ({
      deployment: objectOf(stack.objects, "Deployment", "mesh").spec.selector,
      service: objectOf(stack.objects, "Service", "mesh").spec.selector,
      pdb: objectOf(stack.objects, "PodDisruptionBudget", "mesh").spec.selector,
    });
    assert.deepEqual(selectorsOf(two), selectorsOf(one));
    assert.deepEqual(selectorsOf(three), selectorsOf(one));
    const workerSelector = (stack: RenderedStack) =>
      objectOf(stack.objects, "Deployment", "mesh-worker").spec.selector;
    assert.deepEqual(workerSelector(three), workerSelector(two));
  });

  it("has the Service select main pods and never worker pods, in every state", () => {
    for (const stack of [one, two, three]) {
      const service = objectOf(stack.objects, "Service", "mesh");
      const mainLabels = objectOf(stack.objects, "Deployment", "mesh").spec.template.metadata.labels;
      assert.ok(selects(service.spec.selector, mainLabels), "Service must select main pods");
      const mainDeployment = objectOf(stack.objects, "Deployment", "mesh");
      assert.ok(selects(mainDeployment.spec.selector.matchLabels, mainLabels));
      const worker = stack.objects.find(
        (object) => object.kind === "Deployment" && object.metadata.name === "mesh-worker",
      );
      if (worker) {
        const workerLabels = worker.spec.template.metadata.labels;
        assert.equal(selects(service.spec.selector, workerLabels), false, "Service selects worker pods");
        assert.equal(
          selects(mainDeployment.spec.selector.matchLabels, workerLabels),
          false,
          "main selector matches workers",
        );
        assert.equal(
          selects(worker.spec.selector.matchLabels, mainLabels),
          false,
          "worker selector matches main pods",
        );
      }
    }
  });

  it("is refused as dispatchRole=api without workers", async () => {
    await assert.rejects(renderStack("dev", ["dispatchRole=api"]), /no pod would dequeue the run queues/);
  });
});
