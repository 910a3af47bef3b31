import assert from "node:assert/strict";
import { WORKFLOW_CODE_VERSION } from "../../app/version.js";
import { queueDepthQuery } from "../../infra/queue-depth-query.js";
import { unwrapSecrets } from "../../infra/render/kubernetes-objects.js";
import { MOCK_RDS_PASSWORD } from "../../infra/render/mock-cloud.js";
import { objectOf, type RenderedStack, renderStack } from "./support.js";

// Fixture: prod with worker.autoscaling.mode=queueDepth, Karpenter's do-not-disrupt, and KEDA installed.
describe("worker autoscaling on queue depth (KEDA)", () => {
  let prod: RenderedStack;
  before(async () => {
    prod = await renderStack("prod", [
      "worker.autoscaling.mode=queueDepth",
      "worker.autoscaling.targetRunsPerReplica=6",
      "worker.doNotDisrupt=true",
      "keda.install=true",
    ]);
  });

  it("scales mesh-worker with a postgresql trigger counting ENQUEUED + PENDING runs", () => {
    const scaled = objectOf(prod.objects, "ScaledObject", "mesh-worker");
    assert.equal(scaled.apiVersion, "keda.sh/v1alpha1");
    assert.equal(scaled.spec.scaleTargetRef.name, "mesh-worker");
    assert.deepEqual([scaled.spec.minReplicaCount, scaled.spec.maxReplicaCount], [4, 40]);
    const [trigger] = scaled.spec.triggers;
    assert.equal(trigger.type, "postgresql");
    // The query reads the migration's view (what it counts is tested on real runs in queue-depth-query):
    // the release's own workflow version, and runs enqueued without one.
    assert.equal(trigger.metadata.query, queueDepthQuery(WORKFLOW_CODE_VERSION, true));
    assert.equal(
      trigger.metadata.query,
      `SELECT COALESCE(sum(depth), 0)::bigint AS depth FROM mesh.run_queue_depth_by_version WHERE application_version = '${WORKFLOW_CODE_VERSION}' OR application_version IS NULL`,
    );
    assert.equal(trigger.metadata.targetQueryValue, "6");
    assert.equal(trigger.authenticationRef.name, "mesh-worker-postgres");
    assert.equal(
      prod.objects.filter(
        (object) => object.kind === "HorizontalPodAutoscaler" && object.metadata.name === "mesh-worker",
      ).length,
      0,
    );
  });

  it("takes the connection from KEDA's own Secret through a TriggerAuthentication", () => {
    const auth = objectOf(prod.objects, "TriggerAuthentication", "mesh-worker-postgres");
    assert.deepEqual(auth.spec.secretTargetRef, [
      { parameter: "connection", name: "mesh-keda", key: "KEDA_DATABASE_URL" },
    ]);
    const secret = prod.resources.find((resource) => resource.name === "mesh-worker-keda-secret");
    const data = unwrapSecrets(secret?.inputs.stringData) as Record<string, string>;
    // KEDA's own role (never the owner `mesh`), libpq semantics for KEDA's driver: TLS verified against
    // the CA bundle KEDA's operator mounts, and no node-postgres-only option.
    assert.match(
      data.KEDA_DATABASE_URL ?? "",
      /^postgresql:\/\/mesh_keda_scaler:mock-random-password-mesh-postgres-scaler-password@.*:5432\/mesh\?sslmode=verify-full&sslrootcert=%2Fetc%2Fmesh%2Fdatabase-ca%2Fca\.pem$/,
    );
    assert.ok(!(data.KEDA_DATABASE_URL ?? "").includes(MOCK_RDS_PASSWORD), "not the master password");
    const main = prod.resources.find((resource) => resource.name === "mesh-secret");
    const mainData = unwrapSecrets(main?.inputs.stringData) as Record<string, string>;
    assert.match(
      mainData.DATABASE_URL ?? "",
      /\?sslmode=verify-full&sslrootcert=%2Fetc%2Fmesh%2Fdatabase-ca%2Fca\.pem$/,
    );
    assert.equal(mainData.KEDA_DATABASE_URL, undefined, "Secret mesh (read by every pod) has no KEDA key");
  });

  it("scales down slowly for long runs", () => {
    const behavior = objectOf(prod.objects, "ScaledObject", "mesh-worker").spec.advanced
      .horizontalPodAutoscalerConfig.behavior;
    assert.equal(behavior.scaleDown.stabilizationWindowSeconds, 300);
    assert.deepEqual(behavior.scaleDown.policies, [{ type: "Pods", value: 1, periodSeconds: 60 }]);
  });

  it("scales down as worker.autoscaling.scaleDown says, for the release's workers and the CPU HPA alike", async () => {
    const scaleDown = [
      "worker.autoscaling.scaleDown.stabilizationWindowSeconds=45",
      "worker.autoscaling.scaleDown.pods=2",
      "worker.autoscaling.scaleDown.periodSeconds=20",
    ];
    const expected = {
      stabilizationWindowSeconds: 45,
      policies: [{ type: "Pods", value: 2, periodSeconds: 20 }],
    };
    const queueDepth = await renderStack("prod", scaleDown);
    assert.deepEqual(
      objectOf(queueDepth.objects, "ScaledObject", "mesh-worker").spec.advanced.horizontalPodAutoscalerConfig
        .behavior.scaleDown,
      expected,
    );
    const cpu = await renderStack("prod", [...scaleDown, "worker.autoscaling.mode=cpu"]);
    assert.deepEqual(
      objectOf(cpu.objects, "HorizontalPodAutoscaler", "mesh-worker").spec.behavior.scaleDown,
      expected,
    );
    // The api tier keeps the HPA's own scale-down: the knob is the workers'.
    assert.equal(objectOf(cpu.objects, "HorizontalPodAutoscaler", "mesh").spec.behavior, undefined);
  });

  it("scales the api down as api.autoscaling.scaleDown says, keeping the HPA's own scale-up", async () => {
    const rendered = await renderStack("prod", [
      "api.autoscaling.scaleDown.stabilizationWindowSeconds=30",
      "api.autoscaling.scaleDown.pods=1",
      "api.autoscaling.scaleDown.periodSeconds=15",
    ]);
    const behavior = objectOf(rendered.objects, "HorizontalPodAutoscaler", "mesh").spec.behavior;
    assert.deepEqual(behavior, {
      scaleDown: {
        stabilizationWindowSeconds: 30,
        policies: [{ type: "Pods", value: 1, periodSeconds: 15 }],
      },
    });
    // The workers' knob is their own.
    assert.equal(
      objectOf(rendered.objects, "ScaledObject", "mesh-worker").spec.advanced.horizontalPodAutoscalerConfig
        .behavior.scaleDown.stabilizationWindowSeconds,
      300,
    );
  });

  it("keeps the worker PDB and marks worker pods do-not-disrupt for Karpenter", () => {
    const pdb = objectOf(prod.objects, "PodDisruptionBudget", "mesh-worker");
    assert.equal(pdb.spec.maxUnavailable, 1);
    const worker = objectOf(prod.objects, "Deployment", "mesh-worker");
    assert.equal(worker.spec.template.metadata.annotations["karpenter.sh/do-not-disrupt"], "true");
    const main = objectOf(prod.objects, "Deployment", "mesh");
    assert.equal(main.spec.template.metadata.annotations["karpenter.sh/do-not-disrupt"], undefined);
  });

  it("installs KEDA from its official chart when keda.install=true", () => {
    const chart = prod.resources.find((resource) => resource.name === "keda-chart");
    assert.equal(chart?.type, "kubernetes:helm.sh/v4:Chart");
    assert.equal(chart?.inputs.repositoryOpts.repo, "https://kedacore.github.io/charts");
    objectOf(prod.objects, "Namespace", "keda");
  });
});
