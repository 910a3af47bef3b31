import assert from "node:assert/strict";
import { WORKFLOW_CODE_VERSION } from "../../app/version.js";
import { queueDepthQuery } from "../../infra/queue-depth-query.js";
import type { KubernetesObject } from "../../infra/render/kubernetes-objects.js";
import { parseReleaseLedger, planReleases, type ReleaseLedger } from "../../infra/workflow-releases.js";
import { envOf, objectOf, type RenderedStack, renderStack, selects } from "./support.js";

// Fixture: the releases an update plans from the previous update's ledger, and what prod and dev render
// when the previous update ran another workflow version (a draining version's workers on its own image).

const REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mesh";
const release = (version: string, tag: string) => ({ version, image: `${REGISTRY}:${tag}` });

describe("planReleases", () => {
  it("drains nothing on a stack's first update, or when the version stays", () => {
    assert.deepEqual(planReleases(undefined, release("wf-2", "2.0.0"), []).ledger.draining, []);
    const same = planReleases(
      { current: release("wf-2", "2.0.0"), draining: [] },
      release("wf-2", "2.0.1"),
      [],
    );
    assert.deepEqual(same.ledger, { current: release("wf-2", "2.0.1"), draining: [] });
    assert.deepEqual(same.warnings, []);
  });

  it("keeps the previous release's image as a draining version when the version changes, oldest first", () => {
    const second = planReleases(
      { current: release("wf-1", "1.0.0"), draining: [] },
      release("wf-2", "2.0.0"),
      [],
    );
    assert.deepEqual(second.ledger.draining, [release("wf-1", "1.0.0")]);
    assert.match(second.warnings[0] ?? "", /wf-1 is draining on .*mesh:1\.0\.0.*workflow\.retired/);
    const third = planReleases(second.ledger, release("wf-3", "3.0.0"), []);
    assert.deepEqual(third.ledger.draining, [release("wf-1", "1.0.0"), release("wf-2", "2.0.0")]);
  });

  it("drains a version on its newest image: two releases of one version run the same runs", () => {
    const previous = { current: release("wf-1", "1.0.1"), draining: [release("wf-1", "1.0.0")] };
    assert.deepEqual(planReleases(previous, release("wf-2", "2.0.0"), []).ledger.draining, [
      release("wf-1", "1.0.1"),
    ]);
  });

  it("makes a draining version current again on a rollback, and drains the one rolled back from", () => {
    const previous = { current: release("wf-2", "2.0.0"), draining: [release("wf-1", "1.0.0")] };
    const rollback = planReleases(previous, release("wf-1", "1.0.0"), []);
    assert.deepEqual(rollback.ledger, {
      current: release("wf-1", "1.0.0"),
      draining: [release("wf-2", "2.0.0")],
    });
  });

  it("retires the versions the operator names, and says so for the Job to check", () => {
    const previous = {
      current: release("wf-3", "3.0.0"),
      draining: [release("wf-1", "1.0.0"), release("wf-2", "2.0.0")],
    };
    const retired = planReleases(previous, release("wf-3", "3.0.1"), ["wf-1", "wf-0"]);
    assert.deepEqual(retired.ledger.draining, [release("wf-2", "2.0.0")]);
    assert.deepEqual(retired.retiring, ["wf-1"], "wf-0 was not draining: nothing to check or remove");
    const again = planReleases(retired.ledger, release("wf-3", "3.0.1"), ["wf-1", "wf-0"]);
    assert.deepEqual(again.retiring, [], "an old entry of workflow.retired retires nothing twice");
    const current = planReleases(previous, release("wf-3", "3.0.1"), ["wf-3"]);
    assert.equal(current.ledger.current.version, "wf-3");
    assert.match(current.warnings.join("\n"), /lists wf-3, the version this update deploys: ignored/);
  });

  it("reads a ledger back from a stack output, and refuses one that is not", () => {
    const ledger: ReleaseLedger = { current: release("wf-2", "2.0.0"), draining: [release("wf-1", "1.0.0")] };
    assert.deepEqual(parseReleaseLedger(JSON.parse(JSON.stringify(ledger))), ledger);
    assert.equal(parseReleaseLedger(undefined), undefined);
    assert.throws(
      () => parseReleaseLedger({ current: { version: "wf-2" }, draining: [] }),
      /workflowReleases/,
    );
    assert.throws(
      () => parseReleaseLedger({ current: release("wf-2", "2"), draining: [{}] }),
      /not a workflow release ledger/,
    );
  });
});

describe("a workflow-version upgrade, rendered", () => {
  const previous: ReleaseLedger = { current: release("mesh-wf-0", "0.9.0"), draining: [] };
  let unchanged: RenderedStack;
  let upgraded: RenderedStack;
  let upgradedOnQueueDepth: RenderedStack;
  before(async () => {
    // One config, one image: an update whose previous update ran the same workflow version, and one whose
    // previous update ran mesh-wf-0; CPU autoscaling (draining workers at fixed replicas) and prod's own
    // queue-depth autoscaling (draining workers scaled by KEDA).
    const cpu = ["worker.autoscaling.mode=cpu"];
    unchanged = await renderStack("prod", cpu, {
      previousReleases: { current: release(WORKFLOW_CODE_VERSION, "0.1.0"), draining: [] },
    });
    upgraded = await renderStack("prod", cpu, { previousReleases: previous });
    upgradedOnQueueDepth = await renderStack("prod", [], { previousReleases: previous });
  });
  const deployment = (stack: RenderedStack, name: string) => objectOf(stack.objects, "Deployment", name);

  it("keeps the previous version's workers on its own image, off every Service", () => {
    const draining = deployment(upgraded, "mesh-worker-mesh-wf-0");
    const container = draining.spec.template.spec.containers[0];
    assert.equal(container.image, `${REGISTRY}:0.9.0`);
    assert.equal(envOf(draining).MESH_DISPATCH_ROLE, "worker");
    assert.equal(draining.spec.replicas, 1, "workflow.drainingReplicas without queue-depth autoscaling");
    assert.deepEqual(draining.spec.selector.matchLabels, {
      "app.kubernetes.io/name": "mesh-worker-mesh-wf-0",
      "app.kubernetes.io/instance": "mesh-prod",
    });
    assert.equal(draining.spec.template.metadata.labels["app.kubernetes.io/component"], "worker");
    assert.equal(draining.spec.template.metadata.labels["app.kubernetes.io/version"], "0.9.0");
    for (const service of upgraded.objects.filter((object) => object.kind === "Service"))
      assert.equal(
        selects(service.spec.selector ?? {}, draining.spec.template.metadata.labels),
        false,
        service.metadata.name,
      );
    for (const other of ["mesh", "mesh-worker"])
      assert.equal(
        selects(
          deployment(upgraded, other).spec.selector.matchLabels,
          draining.spec.template.metadata.labels,
        ),
        false,
      );
    objectOf(upgraded.objects, "PodDisruptionBudget", "mesh-worker-mesh-wf-0");
  });

  it("leaves the main tier, its Service and the current workers byte-identical", () => {
    const pick = (stack: RenderedStack) =>
      stack.objects.filter(
        (object: KubernetesObject) =>
          ["mesh", "mesh-worker"].includes(object.metadata.name) && object.kind !== "NetworkPolicy",
      );
    assert.ok(pick(upgraded).length >= 5);
    assert.deepEqual(pick(upgraded), pick(unchanged));
  });

  it("scales a draining version on its own runs, down to zero, with queue-depth autoscaling", () => {
    const scaled = objectOf(upgradedOnQueueDepth.objects, "ScaledObject", "mesh-worker-mesh-wf-0");
    assert.equal(scaled.spec.scaleTargetRef.name, "mesh-worker-mesh-wf-0");
    assert.equal(scaled.spec.minReplicaCount, 0);
    assert.equal(scaled.spec.triggers[0].metadata.query, queueDepthQuery("mesh-wf-0", false));
    assert.match(scaled.spec.triggers[0].metadata.query, /application_version = 'mesh-wf-0'$/);
    const current = objectOf(upgradedOnQueueDepth.objects, "ScaledObject", "mesh-worker");
    assert.equal(current.spec.triggers[0].metadata.query, queueDepthQuery(WORKFLOW_CODE_VERSION, true));
    assert.equal(
      deployment(upgradedOnQueueDepth, "mesh-worker-mesh-wf-0").spec.replicas,
      undefined,
      "KEDA owns it",
    );
    // One TriggerAuthentication and one KEDA Secret for every ScaledObject.
    const kinds = upgradedOnQueueDepth.objects.map((object) => `${object.kind}/${object.metadata.name}`);
    assert.deepEqual(
      kinds.filter((kind) => kind.startsWith("TriggerAuthentication/")),
      ["TriggerAuthentication/mesh-worker-postgres"],
    );
    assert.deepEqual(
      kinds.filter((kind) => kind === "Secret/mesh-keda"),
      ["Secret/mesh-keda"],
    );
  });

  it("runs a new migration Job that checks the image's version, and records the ledger for the next update", () => {
    const job = (stack: RenderedStack) => stack.objects.find((object) => object.kind === "Job");
    assert.notEqual(job(upgraded)?.metadata.name, job(unchanged)?.metadata.name);
    assert.equal(
      envOf(job(upgraded) as KubernetesObject).MESH_EXPECTED_WORKFLOW_VERSION,
      WORKFLOW_CODE_VERSION,
    );
    assert.deepEqual(upgraded.outputs.workflowReleases, {
      current: { version: WORKFLOW_CODE_VERSION, image: `${REGISTRY}:0.1.0` },
      draining: [release("mesh-wf-0", "0.9.0")],
    });
    assert.deepEqual((upgraded.outputs.topology as { draining: unknown[] }).draining, [
      { deployment: "mesh-worker-mesh-wf-0", role: "worker", replicas: 1 },
    ]);
  });

  it("removes a retired version's workers and has the Job check it has no runs left", async () => {
    const retired = await renderStack(
      "prod",
      ["worker.autoscaling.mode=cpu", 'workflow.retired=["mesh-wf-0"]'],
      {
        previousReleases: upgraded.outputs.workflowReleases as ReleaseLedger,
      },
    );
    assert.equal(
      retired.objects.filter((object) => object.metadata.name === "mesh-worker-mesh-wf-0").length,
      0,
    );
    const job = retired.objects.find((object) => object.kind === "Job") as KubernetesObject;
    assert.equal(envOf(job).MESH_RETIRING_WORKFLOW_VERSIONS, "mesh-wf-0");
    assert.deepEqual((retired.outputs.workflowReleases as ReleaseLedger).draining, []);
  });

  it("drains a version on a stack without workers (state 1), where the main tier ran it", async () => {
    const dev = await renderStack("dev", [], { previousReleases: previous });
    const draining = deployment(dev, "mesh-worker-mesh-wf-0");
    assert.equal(envOf(draining).MESH_DISPATCH_ROLE, "worker");
    assert.equal(
      dev.objects.filter((object) => object.kind === "Deployment" && object.metadata.name === "mesh-worker")
        .length,
      0,
    );
    objectOf(dev.objects, "NetworkPolicy", "mesh-worker");
  });
});
