import assert from "node:assert/strict";
import type { RegisteredResource } from "../../infra/render/run-under-mocks.js";
import { objectOf, type RenderedStack, renderStack, selects } from "./support.js";

// Fixture: the dev stack (state 1) and the two rollout steps of DESIGN §3.3 applied to it.
const STATE_1: string[] = [];
const STATE_2 = ["worker.enabled=true"];
const STATE_3 = ["worker.enabled=true", "dispatchRole=api"];

/** Every stack file, with every worker autoscaling mode, in each of the three states. */
const STACK_FILES = ["dev", "prod", "local"];
const WORKER_MODES: Record<string, string[]> = {
  "fixed replicas": ["worker.autoscaling.enabled=false"],
  cpu: ["worker.autoscaling.enabled=true", "worker.autoscaling.mode=cpu"],
  queueDepth: ["worker.autoscaling.enabled=true", "worker.autoscaling.mode=queueDepth"],
};
const STATES = {
  1: ["worker.enabled=false", "dispatchRole=all"],
  2: ["worker.enabled=true", "dispatchRole=all"],
  3: ["worker.enabled=true", "dispatchRole=api"],
};

/**
 * A resource as the engine sees it: type and name, the parent chain and provider that make up its URN and
 * its provider reference, what it depends on, every other resource option, and its inputs. Two resources
 * with equal views are the same resource to `pulumi up`, unchanged.
 */
const asEngineSeesIt = (resource: RegisteredResource) =>
  JSON.stringify({
    type: resource.type,
    name: resource.name,
    engine: resource.engine,
    inputs: resource.inputs,
  });
const keyOf = (resource: RegisteredResource) => `${resource.type} ${resource.name}`;

function engineViews(stack: RenderedStack): Map<string, string> {
  return new Map(stack.resources.map((resource) => [keyOf(resource), asEngineSeesIt(resource)]));
}

describe("topology invariants as the engine sees them: every stack file, every worker autoscaling mode", () => {
  for (const file of STACK_FILES) {
    for (const [mode, modeSettings] of Object.entries(WORKER_MODES)) {
      describe(`${file} with workers on ${mode}`, () => {
        const rendered: Record<number, RenderedStack> = {};
        before(async () => {
          for (const state of [1, 2, 3] as const)
            rendered[state] = await renderStack(file, [...modeSettings, ...STATES[state]]);
        });

        it("1 -> 2 leaves every existing resource as it was (URN, provider, dependsOn, options, inputs) and only adds worker resources", () => {
          const one = engineViews(rendered[1] as RenderedStack);
          const two = engineViews(rendered[2] as RenderedStack);
          for (const [key, view] of one)
            assert.equal(two.get(key), view, `${key} changed by switching workers on`);
          const added = [...two.keys()].filter((key) => !one.has(key)).sort();
          assert.ok(added.includes("kubernetes:apps/v1:Deployment mesh-worker-deployment"), added.join(", "));
          assert.ok(
            added.includes("kubernetes:policy/v1:PodDisruptionBudget mesh-worker-pdb"),
            added.join(", "),
          );
          for (const key of added) assert.match(key, / mesh-worker-/, `${key} added by switching workers on`);
        });

        it("2 -> 3 changes only MESH_DISPATCH_ROLE of the main Deployment, and nothing the engine sees besides", () => {
          const two = engineViews(rendered[2] as RenderedStack);
          const three = engineViews(rendered[3] as RenderedStack);
          assert.deepEqual([...three.keys()].sort(), [...two.keys()].sort());
          const mainKey = "kubernetes:apps/v1:Deployment mesh-deployment";
          for (const [key, view] of two)
            if (key !== mainKey) assert.equal(three.get(key), view, `${key} changed`);
          const withRole = (view: string | undefined, role: string) =>
            (view ?? "").replace(
              /"name":"MESH_DISPATCH_ROLE","value":"(all|api)"/,
              `"name":"MESH_DISPATCH_ROLE","value":"${role}"`,
            );
          assert.notEqual(three.get(mainKey), two.get(mainKey), "the role changes");
          assert.equal(withRole(three.get(mainKey), "all"), two.get(mainKey), "only the role changes");
        });

        it("rolls back by the same steps in reverse (3 -> 2 -> 1 gives back the same resources)", async () => {
          const backToTwo = await renderStack(file, [...modeSettings, ...STATES[2]]);
          const backToOne = await renderStack(file, [...modeSettings, ...STATES[1]]);
          assert.deepEqual(engineViews(backToTwo), engineViews(rendered[2] as RenderedStack));
          assert.deepEqual(engineViews(backToOne), engineViews(rendered[1] as RenderedStack));
        });
      });
    }
  }
});

describe("topology invariants (DESIGN §3.3)", () => {
  let one: RenderedStack;
  let two: RenderedStack;
  let three: RenderedStack;

  before(async () => {
    one = await renderStack("dev", STATE_1);
    two = await renderStack("dev", STATE_2);
    three = await renderStack("dev", STATE_3);
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

  it("has every PodDisruptionBudget, workload and Service select only the pods of their own workload, never the migration Job's", () => {
    for (const stack of [one, two, three]) {
      const deployments = stack.objects.filter(
        (object) => object.kind === "Deployment" || object.kind === "StatefulSet",
      );
      const job = stack.objects.find((object) => object.kind === "Job");
      assert.ok(job);
      const podTemplates = [
        ...deployments.map((deployment) => ({
          owner: deployment.metadata.name,
          labels: deployment.spec.template.metadata.labels,
        })),
        { owner: "migration Job", labels: job.spec.template.metadata.labels },
      ];
      const selectors = [
        ...stack.objects
          .filter((object) => ["PodDisruptionBudget", "Deployment", "StatefulSet"].includes(object.kind))
          .map((object) => ({
            of: `${object.kind} ${object.metadata.name}`,
            owner: object.metadata.name,
            selector: object.spec.selector.matchLabels,
          })),
        // The NATS headless Service selects the NATS servers, like their client Service.
        ...stack.objects
          .filter((object) => object.kind === "Service")
          .map((object) => ({
            of: `Service ${object.metadata.name}`,
            owner: object.metadata.name.replace(/-headless$/, ""),
            selector: object.spec.selector,
          })),
      ];
      for (const { of, owner, selector } of selectors) {
        const selected = podTemplates
          .filter((template) => selects(selector, template.labels))
          .map((template) => template.owner);
        // A PDB whose selector matches a Job's pod cannot find a scale subresource: it then allows no
        // eviction at all, and a node drain hangs.
        assert.deepEqual(selected, [owner], `${of} selects the pods of ${selected.join(", ")}`);
      }
    }
  });

  it("streams every mesh pod and the migration Job in the namespace's own NATS subject space", () => {
    for (const stack of [one, two, three]) {
      const workloads = stack.objects.filter(
        (object) => object.kind === "Deployment" || object.kind === "Job",
      );
      assert.ok(workloads.length >= 2);
      for (const workload of workloads) {
        const env = workload.spec.template.spec.containers[0].env as { name: string; value?: string }[];
        assert.equal(
          env.find((entry) => entry.name === "MESH_DEPLOYMENT")?.value,
          workload.metadata.namespace,
          `${workload.kind} ${workload.metadata.name}`,
        );
      }
    }
  });

  it("is refused as dispatchRole=api without workers", async () => {
    await assert.rejects(renderStack("dev", ["dispatchRole=api"]), /no pod would dequeue the run queues/);
  });
});
