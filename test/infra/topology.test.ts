import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { WORKFLOW_CODE_VERSION } from "../../app/version.js";
import { parseMeshConfig } from "../../infra/config.js";
import { resolveDeployedImage } from "../../infra/deployed-image.js";
import { imageVersion, planTopology } from "../../infra/topology.js";

// planTopology is pure: these specs need no Pulumi runtime.
function config(values: Record<string, unknown>) {
  const stackConfig = parseMeshConfig({
    stack: "unit",
    values: { image: "registry.acme.internal/mesh:2.3.4", cluster: { mode: "eks", name: "c" }, ...values },
    secrets: { apiToken: pulumi.output("unit-test-token") },
    keys: [],
  });
  return resolveDeployedImage(stackConfig, undefined).config;
}

describe("planTopology", () => {
  it("plans state 1 (all-only) as one Deployment in role all, no worker", () => {
    const plan = planTopology(config({}));
    assert.equal(plan.state, 1);
    assert.equal(plan.main.role, "all");
    assert.equal(plan.main.name, "mesh");
    assert.equal(plan.worker, undefined);
  });

  it("plans state 2 (all + workers) and state 3 (api + workers)", () => {
    const two = planTopology(config({ worker: { enabled: true } }));
    assert.equal(two.state, 2);
    assert.equal(two.main.role, "all");
    assert.equal(two.worker?.role, "worker");
    assert.equal(two.worker?.serves, false);
    const three = planTopology(config({ worker: { enabled: true }, dispatchRole: "api" }));
    assert.equal(three.state, 3);
    assert.equal(three.main.role, "api");
  });

  it("selects on name and instance only, with distinct names for main and worker pods", () => {
    const plan = planTopology(config({ worker: { enabled: true }, namespace: "team-a" }));
    assert.deepEqual(plan.main.selectorLabels, {
      "app.kubernetes.io/name": "mesh",
      "app.kubernetes.io/instance": "team-a",
    });
    assert.deepEqual(plan.worker?.selectorLabels, {
      "app.kubernetes.io/name": "mesh-worker",
      "app.kubernetes.io/instance": "team-a",
    });
    assert.equal(plan.main.labels["app.kubernetes.io/version"], "2.3.4");
  });

  it("leaves the replica count to the autoscaler when autoscaling is on", () => {
    const plan = planTopology(
      config({
        api: { autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 9 } },
        worker: {
          enabled: true,
          autoscaling: { enabled: true, mode: "queueDepth", targetRunsPerReplica: 4 },
        },
      }),
    );
    assert.equal(plan.main.replicas, undefined);
    assert.deepEqual(plan.main.autoscaling, {
      kind: "cpu",
      minReplicas: 3,
      maxReplicas: 9,
      targetCPUUtilizationPercentage: 70,
    });
    assert.equal(plan.worker?.replicas, undefined);
    assert.deepEqual(plan.worker?.autoscaling, {
      kind: "queueDepth",
      minReplicas: 1,
      maxReplicas: 10,
      scaleDown: { stabilizationWindowSeconds: 300, pods: 1, periodSeconds: 60 },
      targetRunsPerReplica: 4,
      workflowVersion: WORKFLOW_CODE_VERSION,
      current: true,
    });
  });

  it("gives workers a longer grace period than api pods, and the process a drain budget below it", () => {
    const plan = planTopology(config({ worker: { enabled: true, terminationGracePeriodSeconds: 300 } }));
    const worker = plan.worker;
    assert.ok(worker);
    assert.ok(worker.terminationGracePeriodSeconds > plan.main.terminationGracePeriodSeconds);
    assert.equal(worker.shutdownGraceMs, 295_000);
    // api pods also spend their preStop sleep out of the same budget
    assert.equal(plan.main.shutdownGraceMs, (30 - 5 - 5) * 1000);
  });

  it("does not let worker settings reach the main Deployment's plan", () => {
    const base = planTopology(config({ worker: { enabled: true, concurrency: 2, replicas: 1 } })).main;
    const changed = planTopology(config({ worker: { enabled: true, concurrency: 64, replicas: 9 } })).main;
    assert.deepEqual(changed, base);
  });

  it("derives app.kubernetes.io/version from the tag or digest", () => {
    assert.equal(imageVersion("registry.acme.internal:5000/team/mesh:1.2.3"), "1.2.3");
    assert.equal(imageVersion("mesh"), "latest");
    assert.equal(imageVersion("mesh@sha256:0123456789abcdef0123"), "0123456789ab");
  });
});
