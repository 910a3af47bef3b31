import assert from "node:assert/strict";
import { POD_DELETION_COST_ANNOTATION, SERVICE_ACCOUNT_DIR } from "../../app/scale-in/in-cluster-api.js";
import type { KubernetesObject } from "../../infra/render/kubernetes-objects.js";
import { envOf, mainContainer, objectOf, type RenderedStack, renderStack } from "./support.js";

// Fixture: prod (api + queue-depth workers) as shipped, and with worker.podDeletionCost=false. The admission
// policy's expressions are checked by the real API server on the real node (test/engine/real-node.test.ts).
const NAMESPACE = "mesh-prod";

describe("workers keep their pod-deletion-cost (#20: scale-in prefers idle workers)", () => {
  let prod: RenderedStack;
  let off: RenderedStack;
  before(async () => {
    prod = await renderStack("prod");
    off = await renderStack("prod", ["worker.podDeletionCost=false"]);
  });
  const podOf = (stack: RenderedStack, name: string) =>
    objectOf(stack.objects, "Deployment", name).spec.template.spec;

  it("gives worker pods their own ServiceAccount and a pod-bound token, and the main pods neither", () => {
    const worker = podOf(prod, "mesh-worker");
    assert.equal(worker.serviceAccountName, "mesh-worker");
    assert.equal(worker.automountServiceAccountToken, false, "no automatic token: only the volume below");
    const volume = worker.volumes.find((entry: KubernetesObject) => entry.name === "kubernetes-api");
    assert.deepEqual(
      volume.projected.sources.map((source: KubernetesObject) => Object.keys(source)[0]),
      ["serviceAccountToken", "configMap", "downwardAPI"],
    );
    assert.equal(volume.projected.sources[0].serviceAccountToken.expirationSeconds, 3600);
    assert.deepEqual(
      mainContainer(objectOf(prod.objects, "Deployment", "mesh-worker")).volumeMounts.find(
        (mount: KubernetesObject) => mount.name === "kubernetes-api",
      ),
      { name: "kubernetes-api", mountPath: SERVICE_ACCOUNT_DIR, readOnly: true },
    );
    const env = envOf(objectOf(prod.objects, "Deployment", "mesh-worker"));
    assert.equal(env.MESH_POD_DELETION_COST, "true");
    assert.deepEqual(env.POD_NAMESPACE, { fieldRef: { fieldPath: "metadata.namespace" } });
    const main = podOf(prod, "mesh");
    assert.equal(main.serviceAccountName, undefined);
    assert.equal(envOf(objectOf(prod.objects, "Deployment", "mesh")).MESH_POD_DELETION_COST, undefined);
    assert.ok(!main.volumes.some((entry: KubernetesObject) => entry.name === "kubernetes-api"));
  });

  it("grants that ServiceAccount one verb on one resource, bound in the namespace only", () => {
    const role = objectOf(prod.objects, "Role", "mesh-worker");
    assert.equal(role.metadata.namespace, NAMESPACE);
    assert.deepEqual(role.rules, [{ apiGroups: [""], resources: ["pods"], verbs: ["patch"] }]);
    const binding = objectOf(prod.objects, "RoleBinding", "mesh-worker");
    assert.deepEqual(binding.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: "mesh-worker",
    });
    assert.deepEqual(binding.subjects, [
      { kind: "ServiceAccount", name: "mesh-worker", namespace: NAMESPACE },
    ]);
    assert.equal(
      prod.objects.filter((object) => object.kind === "ClusterRole" || object.kind === "ClusterRoleBinding")
        .length,
      0,
    );
  });

  it("narrows it with an admission policy to the caller's own pod and the one annotation, in this namespace", () => {
    const policy = objectOf(prod.objects, "ValidatingAdmissionPolicy", `mesh-worker-own-pod.${NAMESPACE}`);
    assert.equal(policy.spec.failurePolicy, "Fail");
    assert.deepEqual(policy.spec.matchConstraints.namespaceSelector, {
      matchLabels: { "kubernetes.io/metadata.name": NAMESPACE },
    });
    assert.match(
      policy.spec.matchConditions[0].expression,
      new RegExp(`system:serviceaccount:${NAMESPACE}:mesh-worker"$`),
    );
    const expressions = policy.spec.validations.map((validation: KubernetesObject) => validation.expression);
    assert.match(expressions[0], /authentication\.kubernetes\.io\/pod-name.*object\.metadata\.name/);
    assert.ok(expressions[1].includes(POD_DELETION_COST_ANNOTATION));
    const binding = objectOf(
      prod.objects,
      "ValidatingAdmissionPolicyBinding",
      `mesh-worker-own-pod.${NAMESPACE}`,
    );
    assert.equal(binding.spec.policyName, policy.metadata.name);
    assert.deepEqual(binding.spec.validationActions, ["Deny"]);
  });

  it("renders none of it with worker.podDeletionCost=false, and the worker pods keep the default account", () => {
    for (const kind of [
      "Role",
      "RoleBinding",
      "ValidatingAdmissionPolicy",
      "ValidatingAdmissionPolicyBinding",
    ])
      assert.equal(off.objects.filter((object) => object.kind === kind).length, 0, kind);
    assert.equal(
      off.objects.filter(
        (object) => object.kind === "ServiceAccount" && object.metadata.name === "mesh-worker",
      ).length,
      0,
    );
    const worker = podOf(off, "mesh-worker");
    assert.equal(worker.serviceAccountName, undefined);
    assert.equal(envOf(objectOf(off.objects, "Deployment", "mesh-worker")).MESH_POD_DELETION_COST, undefined);
    assert.equal(
      off.objects.filter(
        (object) => object.kind === "NetworkPolicy" && object.metadata.name === "mesh-worker-kubernetes-api",
      ).length,
      0,
    );
  });
});
