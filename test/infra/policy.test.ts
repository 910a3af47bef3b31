import assert from "node:assert/strict";
import { unwrapSecrets } from "../../infra/render/kubernetes-objects.js";
import type { ReleaseLedger } from "../../infra/workflow-releases.js";
import {
  apiRoleRequiresWorkers,
  namespaceDefaultDeny,
  noPlaintextSecretEnv,
  type PolicyResource,
  podsHardened,
  rdsPrivateAndEncrypted,
  serviceSelectsNoWorkers,
  violations,
} from "../../policy/rules.js";
import { renderStack } from "./support.js";

// Fixture: the policy rules against rendered stacks — as rendered (must pass), and deliberately broken.
async function policyResources(
  stack: string,
  overrides: string[] = [],
  previousReleases?: ReleaseLedger,
): Promise<PolicyResource[]> {
  const { resources } = await renderStack(stack, overrides, { previousReleases });
  return resources.map((resource) => ({
    type: resource.type,
    name: resource.name,
    props: unwrapSecrets(resource.inputs) as PolicyResource["props"],
  }));
}

const find = (resources: PolicyResource[], type: string, name: string) => {
  const found = resources.find(
    (resource) => resource.type === type && resource.props.metadata?.name === name,
  );
  assert.ok(found, `${type} ${name}`);
  return found;
};

describe("policy pack rules", () => {
  for (const [stack, overrides] of [
    ["dev", []],
    ["prod", []],
    ["local", []],
    ["prod", ["worker.autoscaling.mode=queueDepth", "worker.doNotDisrupt=true"]],
    ["dev", ["worker.enabled=true"]],
  ] as const) {
    it(`finds no violation in ${stack} ${overrides.join(" ")}`.trim(), async () => {
      assert.deepEqual(violations(await policyResources(stack, [...overrides])), []);
    });
  }

  it("finds no violation in prod and dev after a workflow-version upgrade (a draining version's workers)", async () => {
    const previous = {
      current: { version: "mesh-wf-0", image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mesh:0.9.0" },
      draining: [],
    };
    for (const stack of ["prod", "dev"]) {
      const resources = await policyResources(stack, [], previous);
      find(resources, "kubernetes:apps/v1:Deployment", "mesh-worker-mesh-wf-0");
      assert.deepEqual(violations(resources), [], stack);
    }
  });

  it("flags a Service whose selector matches worker pods", async () => {
    const resources = await policyResources("prod");
    const service = find(resources, "kubernetes:core/v1:Service", "mesh");
    service.props.spec.selector = { "app.kubernetes.io/instance": "mesh-prod" };
    assert.match(
      serviceSelectsNoWorkers(resources).join("\n"),
      /Service\/mesh selects the pods of worker Deployment\/mesh-worker/,
    );
  });

  it("flags dispatchRole=api when no worker replica is guaranteed", async () => {
    const resources = await policyResources("prod");
    const withoutWorkers = resources.filter((resource) => resource.props.metadata?.name !== "mesh-worker");
    assert.match(
      apiRoleRequiresWorkers(withoutWorkers).join("\n"),
      /MESH_DISPATCH_ROLE=api but no worker replica/,
    );
    const scaledToZero = await policyResources("prod", [
      "worker.autoscaling.enabled=false",
      "worker.replicas=1",
    ]);
    const currentWorker = find(scaledToZero, "kubernetes:apps/v1:Deployment", "mesh-worker");
    currentWorker.props.spec.replicas = 0;
    assert.equal(apiRoleRequiresWorkers(scaledToZero).length, 1);
    // A draining version's workers run the previous image and take only that version's runs: they do
    // not stand in for the api's release.
    const draining = structuredClone(currentWorker);
    draining.props.metadata.name = "mesh-worker-v1";
    draining.props.spec.replicas = 2;
    draining.props.spec.template.spec.containers[0].image = "registry.example/mesh:previous";
    assert.match(
      apiRoleRequiresWorkers([...scaledToZero, draining]).join("\n"),
      /no worker replica of its release \(image .+\) is guaranteed/,
    );
    currentWorker.props.spec.replicas = 1;
    assert.deepEqual(apiRoleRequiresWorkers([...scaledToZero, draining]), []);
  });

  it("flags containers without requests, probes or the hardened security context", async () => {
    const resources = await policyResources("prod");
    const deployment = find(resources, "kubernetes:apps/v1:Deployment", "mesh-worker");
    const container = deployment.props.spec.template.spec.containers[0];
    delete container.resources.requests;
    delete container.readinessProbe;
    container.securityContext = { runAsNonRoot: false, allowPrivilegeEscalation: true };
    deployment.props.spec.template.spec.securityContext = {};
    const problems = podsHardened(deployment).join("\n");
    for (const expected of [
      /no cpu and memory requests/,
      /needs liveness and readiness probes/,
      /may run as root/,
      /allows privilege escalation/,
      /writable root filesystem/,
      /does not drop all capabilities/,
      /no RuntimeDefault seccomp/,
    ]) {
      assert.match(problems, expected);
    }
  });

  for (const stack of ["dev", "prod"]) {
    it(`holds the ${stack} stack's NATS servers to the same rules: a broken security context or probe fails`, async () => {
      const resources = await policyResources(stack);
      const nats = find(resources, "kubernetes:apps/v1:StatefulSet", "mesh-nats");
      assert.deepEqual(podsHardened(nats), [], "the rendered NATS servers pass");
      // What chart 1.3.7 renders for its containers: no security context, no requests, no probes.
      const container = nats.props.spec.template.spec.containers[0];
      delete container.securityContext;
      delete container.readinessProbe;
      delete container.resources.requests;
      const problems = violations(resources).join("\n");
      for (const expected of [
        /StatefulSet\/mesh-nats container nats allows privilege escalation/,
        /StatefulSet\/mesh-nats container nats has a writable root filesystem/,
        /StatefulSet\/mesh-nats container nats needs liveness and readiness probes/,
        /StatefulSet\/mesh-nats container nats has no cpu and memory requests/,
      ])
        assert.match(problems, expected);
    });
  }

  it("flags a stack whose namespace has no default-deny NetworkPolicy", async () => {
    const resources = await policyResources("prod");
    assert.deepEqual(namespaceDefaultDeny(resources), []);
    const withoutDeny = resources.filter((resource) => resource.props.metadata?.name !== "default-deny");
    assert.match(
      namespaceDefaultDeny(withoutDeny).join("\n"),
      /Deployment\/mesh runs in a namespace without a default-deny ingress NetworkPolicy/,
    );
    const disabled = await policyResources("prod", ["networkPolicy.enabled=false"]);
    assert.equal(namespaceDefaultDeny(disabled).length, 2, "main and worker Deployments");
  });

  it("flags a public or unencrypted RDS instance", async () => {
    const resources = await policyResources("prod");
    const rds = resources.find((resource) => resource.type === "aws:rds/instance:Instance");
    assert.ok(rds);
    rds.props.publiclyAccessible = true;
    rds.props.storageEncrypted = false;
    assert.equal(rdsPrivateAndEncrypted(rds).length, 2);
  });

  it("flags plaintext secrets in a Deployment's env", async () => {
    const resources = await policyResources("prod");
    const deployment = find(resources, "kubernetes:apps/v1:Deployment", "mesh");
    const env = deployment.props.spec.template.spec.containers[0].env;
    env.push({ name: "DATABASE_URL", value: "postgresql://mesh:hunter2@db:5432/mesh" });
    env.push({ name: "EXTRA", value: "nats://user:pass@nats:4222" });
    const problems = noPlaintextSecretEnv(deployment);
    assert.equal(problems.length, 2, problems.join("\n"));
  });
});
