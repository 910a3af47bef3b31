import assert from "node:assert/strict";
import type { KubernetesObject } from "../../infra/render/kubernetes-objects.js";
import { podLabelsOf, renderStack } from "./support.js";

// Fixture: the NetworkPolicies the prod and local stacks render, read with Kubernetes' semantics (a pod
// selected by no policy of a direction is open in it; once selected, only what some rule allows passes).
// The evaluator covers what mesh's policies use: matchLabels, matchExpressions In, namespace names, ipBlock.
// mesh's pods carry the labels the render gives their workloads' pod templates; prod renders after a
// workflow-version upgrade, so a draining version's workers (mesh-worker-mesh-wf-0) are among them.

interface Pod {
  namespace: string;
  labels: Record<string, string>;
}
type Peer = Pod | { ip: string };

function matches(selector: KubernetesObject | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  const byExpression = (selector.matchExpressions ?? []).every(
    (expression: { key: string; operator: string; values: string[] }) =>
      expression.operator === "In" && expression.values.includes(labels[expression.key] ?? ""),
  );
  return byLabel && byExpression;
}

const toNumber = (ip: string) => ip.split(".").reduce((total, part) => total * 256 + Number(part), 0);
function inCidr(ip: string, cidr: string): boolean {
  const [base = "", bits = "32"] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toNumber(ip) / size) === Math.floor(toNumber(base) / size);
}

function peerMatches(rulePeer: KubernetesObject, peer: Peer, policyNamespace: string): boolean {
  if ("ip" in peer)
    return (
      rulePeer.ipBlock !== undefined &&
      inCidr(peer.ip, rulePeer.ipBlock.cidr) &&
      !(rulePeer.ipBlock.except ?? []).some((cidr: string) => inCidr(peer.ip, cidr))
    );
  if (rulePeer.ipBlock) return false;
  const namespaceOk = rulePeer.namespaceSelector
    ? matches(rulePeer.namespaceSelector, { "kubernetes.io/metadata.name": peer.namespace })
    : peer.namespace === policyNamespace;
  return namespaceOk && matches(rulePeer.podSelector, peer.labels);
}

function allowed(
  policies: KubernetesObject[],
  direction: "Ingress" | "Egress",
  pod: Pod,
  peer: Peer,
  port: number,
  protocol = "TCP",
): boolean {
  const selecting = policies.filter(
    (policy) =>
      policy.metadata.namespace === pod.namespace &&
      policy.spec.policyTypes.includes(direction) &&
      matches(policy.spec.podSelector, pod.labels),
  );
  if (selecting.length === 0) return true;
  const rules = selecting.flatMap((policy) =>
    (policy.spec[direction === "Ingress" ? "ingress" : "egress"] ?? []).map((rule: KubernetesObject) => ({
      rule,
      namespace: policy.metadata.namespace,
    })),
  );
  return rules.some(({ rule, namespace }) => {
    const peers = rule[direction === "Ingress" ? "from" : "to"];
    const portOk =
      !rule.ports ||
      rule.ports.some(
        (entry: { port: number; protocol?: string }) =>
          entry.port === port && (entry.protocol ?? "TCP") === protocol,
      );
    return (
      portOk && (!peers || peers.some((rulePeer: KubernetesObject) => peerMatches(rulePeer, peer, namespace)))
    );
  });
}

const PREVIOUS_RELEASE = {
  current: { version: "mesh-wf-0", image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mesh:0.9.0" },
  draining: [],
};

describe("NetworkPolicies (prod)", () => {
  let policies: KubernetesObject[];
  const ns = "mesh-prod";
  let api: Pod;
  let worker: Pod;
  let drainingWorker: Pod;
  let migrate: Pod;
  let nats: Pod;
  const strangerHere: Pod = { namespace: ns, labels: { app: "debug" } };
  /** Another namespace's pod with every label of mesh's api pods. */
  let tenant: Pod;
  const prometheus: Pod = { namespace: "monitoring", labels: { app: "prometheus" } };
  const loadBalancer = { ip: "10.0.12.34" };
  const ingressIn = (pod: Pod, from: Peer, port: number) => allowed(policies, "Ingress", pod, from, port);
  const egressOf = (pod: Pod, to: Peer, port: number, protocol?: string) =>
    allowed(policies, "Egress", pod, to, port, protocol);

  before(async () => {
    const { objects } = await renderStack("prod", [], { previousReleases: PREVIOUS_RELEASE });
    policies = objects.filter((object) => object.kind === "NetworkPolicy");
    const pod = (name: string): Pod => ({ namespace: ns, labels: podLabelsOf(objects, name) });
    [api, worker, drainingWorker, migrate, nats] = [
      pod("mesh"),
      pod("mesh-worker"),
      pod("mesh-worker-mesh-wf-0"),
      pod("mesh-migrate"),
      pod("mesh-nats"),
    ];
    tenant = { namespace: "tenant-a", labels: api.labels };
  });

  it("lets the load balancer's subnets and monitoring reach the api's port, and nobody else", () => {
    assert.equal(ingressIn(api, loadBalancer, 8080), true);
    assert.equal(ingressIn(api, prometheus, 8080), true);
    assert.equal(ingressIn(api, tenant, 8080), false, "another namespace's pod, even with mesh's labels");
    assert.equal(ingressIn(api, strangerHere, 8080), false, "an unlabelled pod of the namespace");
    assert.equal(ingressIn(api, { ip: "192.168.1.1" }, 8080), false);
    assert.equal(ingressIn(api, loadBalancer, 22), false);
  });

  it("lets only monitoring reach a worker, on its health and metrics port", () => {
    for (const pod of [worker, drainingWorker]) {
      assert.equal(ingressIn(pod, prometheus, 8080), true);
      assert.equal(ingressIn(pod, loadBalancer, 8080), false);
      assert.equal(ingressIn(pod, api, 8080), false);
      assert.equal(ingressIn(pod, tenant, 8080), false);
    }
  });

  it("lets mesh's pods reach NATS's client port, its peers the route port, monitoring the monitor port", () => {
    for (const pod of [api, worker, drainingWorker, migrate])
      assert.equal(ingressIn(nats, pod, 4222), true, pod.labels["app.kubernetes.io/name"]);
    for (const stranger of [tenant, strangerHere, prometheus])
      assert.equal(ingressIn(nats, stranger, 4222), false);
    assert.equal(ingressIn(nats, nats, 6222), true);
    assert.equal(ingressIn(nats, api, 6222), false, "a mesh pod cannot join the cluster's routes");
    assert.equal(ingressIn(nats, prometheus, 8222), true);
    assert.equal(ingressIn(nats, tenant, 8222), false);
  });

  it("lets nothing reach the migration Job", () => {
    for (const peer of [api, worker, drainingWorker, nats, prometheus, loadBalancer])
      assert.equal(ingressIn(migrate, peer, 8080), false);
  });

  it("lets mesh's pods reach DNS, Postgres, NATS and the model API, workers the API server too, and nothing else", () => {
    const dns: Pod = { namespace: "kube-system", labels: { "k8s-app": "kube-dns" } };
    const somewhere = { ip: "203.0.113.9" };
    for (const pod of [api, worker, drainingWorker, migrate]) {
      const who = pod.labels["app.kubernetes.io/name"];
      assert.equal(egressOf(pod, dns, 53, "UDP"), true, `${who} DNS`);
      assert.equal(egressOf(pod, { ip: "10.0.40.7" }, 5432), true, `${who} Postgres (RDS)`);
      assert.equal(egressOf(pod, nats, 4222), true, `${who} NATS`);
      assert.equal(egressOf(pod, somewhere, 443), true, `${who} model API`);
      // Only workers reach the API server (their pod-deletion-cost), and only inside the configured range.
      const writesDeletionCost = pod === worker || pod === drainingWorker;
      assert.equal(
        egressOf(pod, { ip: "10.0.5.5" }, 443),
        writesDeletionCost,
        `${who} the VPC's 443 (the API server)`,
      );
      assert.equal(egressOf(pod, { ip: "10.0.5.5" }, 80), false, `${who} the VPC's 80`);
      assert.equal(egressOf(pod, somewhere, 80), false, `${who} plain HTTP`);
      assert.equal(egressOf(pod, tenant, 8080), false, `${who} another namespace's service`);
      assert.equal(egressOf(pod, { ip: "10.0.3.3" }, 6379), false, `${who} some Redis`);
      assert.equal(egressOf(pod, nats, 6222), false, `${who} NATS routes`);
    }
  });

  it("lets the NATS servers reach each other's routes and DNS only", () => {
    assert.equal(egressOf(nats, nats, 6222), true);
    assert.equal(egressOf(nats, { ip: "203.0.113.9" }, 443), false);
    assert.equal(egressOf(nats, api, 8080), false);
  });
});

describe("NetworkPolicies (local: in-cluster Postgres, ingress controller)", () => {
  it("lets ingress-nginx reach the api and only mesh's pods and KEDA reach Postgres", async () => {
    const { objects } = await renderStack("local");
    const policies = objects.filter((object) => object.kind === "NetworkPolicy");
    const ns = "mesh-local";
    const meshPod = (namespace: string, name: string): Pod => ({
      namespace,
      labels: podLabelsOf(objects, name),
    });
    const postgres = meshPod(ns, "mesh-postgres");
    const nginx: Pod = { namespace: "ingress-nginx", labels: { app: "nginx" } };
    assert.equal(allowed(policies, "Ingress", meshPod(ns, "mesh"), nginx, 8080), true);
    assert.equal(allowed(policies, "Ingress", meshPod(ns, "mesh"), { ip: "10.0.12.34" }, 8080), false);
    assert.equal(allowed(policies, "Ingress", postgres, meshPod(ns, "mesh-migrate"), 5432), true);
    assert.equal(allowed(policies, "Ingress", postgres, { namespace: "keda", labels: {} }, 5432), true);
    assert.equal(allowed(policies, "Ingress", postgres, { namespace: "tenant-a", labels: {} }, 5432), false);
    assert.equal(allowed(policies, "Egress", meshPod(ns, "mesh"), postgres, 5432), true);
    assert.equal(allowed(policies, "Egress", meshPod(ns, "mesh"), { ip: "10.0.40.7" }, 5432), false);
  });
});
