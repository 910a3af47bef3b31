import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { MeshConfig } from "../config.js";
import { NATS_NAME, NATS_PORTS } from "../nats-plan.js";
import { HTTP_PORT } from "./mesh-app.js";

export interface NetworkPoliciesArgs {
  namespace: pulumi.Input<string>;
  k8sProvider: k8s.Provider;
  settings: MeshConfig["networkPolicy"];
  /** Whether NATS runs in the namespace (nats.mode=managed): its servers get policies of their own. */
  managedNats: boolean;
  /** Whether the stack runs worker pods (worker.enabled, or a draining workflow version's workers). */
  workers: boolean;
  /** Whether Postgres runs in the namespace (postgres.mode=inCluster). */
  inClusterPostgres: boolean;
  /** Whether worker pods write their pod-deletion-cost through the Kubernetes API. */
  workersReachKubernetesApi: boolean;
}

type NetworkPolicyPeer = k8s.types.input.networking.v1.NetworkPolicyPeer;
type Port = k8s.types.input.networking.v1.NetworkPolicyPort;

const name = (value: string) => ({ matchLabels: { "app.kubernetes.io/name": value } });
/**
 * mesh's own pods: the main tier, every worker Deployment (the current version's and the draining ones',
 * mesh-worker-<version>) and the migration Job — by component, so a new worker Deployment needs no edit.
 */
const MESH_PODS = {
  matchLabels: { "app.kubernetes.io/part-of": "mesh" },
  matchExpressions: [
    { key: "app.kubernetes.io/component", operator: "In", values: ["server", "worker", "migration"] },
  ],
};
const WORKER_PODS = {
  matchLabels: { "app.kubernetes.io/part-of": "mesh", "app.kubernetes.io/component": "worker" },
};
const tcp = (port: number): Port => ({ protocol: "TCP", port });
const namespaceNamed = (namespace: string): NetworkPolicyPeer => ({
  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
});

/**
 * The namespace's network: nothing reaches a pod and no pod reaches anything unless a policy below says
 * so. Kubelet probes come from the node and are not subject to these policies in the common
 * implementations (Calico, Cilium, the VPC CNI's network policy agent).
 *
 * - api pods: the API port from the configured sources (the load balancer's CIDRs, the ingress
 *   controller's namespace or pods) and from the monitoring namespace (metrics share the port);
 * - worker pods: the same port from the monitoring namespace only (they serve health and metrics);
 * - NATS: 4222 from mesh's pods, 6222 from its peers, 8222 from monitoring;
 * - the migration Job: nothing;
 * - egress of mesh's pods: DNS, Postgres, NATS and the model API's ports, nothing else; workers that
 *   write their pod-deletion-cost also reach the Kubernetes API (networkPolicy.kubernetesApi).
 */
export class NetworkPolicies extends pulumi.ComponentResource {
  constructor(componentName: string, args: NetworkPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mesh:infra:NetworkPolicies", componentName, {}, opts);
    const childOpts = { parent: this, provider: args.k8sProvider };
    const { settings, namespace } = args;
    const policy = (
      policyName: string,
      spec: k8s.types.input.networking.v1.NetworkPolicySpec,
      logicalName = `${componentName}-${policyName}`,
    ): k8s.networking.v1.NetworkPolicy =>
      new k8s.networking.v1.NetworkPolicy(
        logicalName,
        {
          metadata: {
            name: policyName,
            namespace,
            labels: { "app.kubernetes.io/part-of": "mesh", "app.kubernetes.io/managed-by": "pulumi" },
          },
          spec,
        },
        childOpts,
      );

    const monitoring = namespaceNamed(settings.monitoringNamespace);
    const apiSources: NetworkPolicyPeer[] = [
      ...settings.apiIngress.namespaces.map(namespaceNamed),
      ...(settings.apiIngress.podLabels
        ? [{ namespaceSelector: {}, podSelector: { matchLabels: settings.apiIngress.podLabels } }]
        : []),
      ...settings.apiIngress.cidrs.map((cidr) => ({ ipBlock: { cidr } })),
    ];
    // No source configured (config.ts warns): pods of any namespace, so an in-cluster ingress still works.
    if (apiSources.length === 0) apiSources.push({ namespaceSelector: {} });
    const dns: k8s.types.input.networking.v1.NetworkPolicyEgressRule = {
      to: [{ namespaceSelector: {}, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
      ports: [
        { protocol: "UDP", port: 53 },
        { protocol: "TCP", port: 53 },
      ],
    };
    // RDS and an external NATS: anywhere, by port (their addresses move on failover).
    const anywhere: NetworkPolicyPeer[] = [{ ipBlock: { cidr: "0.0.0.0/0" } }];
    // The model API: by port, outside the ranges named internal (the VPC: the API server listens on 443).
    const outside: NetworkPolicyPeer[] = [
      {
        ipBlock: {
          cidr: "0.0.0.0/0",
          // Only when set: the API server drops an empty list, and the live object would differ.
          ...(settings.egressExceptCidrs.length > 0 ? { except: settings.egressExceptCidrs } : {}),
        },
      },
    ];

    policy("default-deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    policy("mesh-api", {
      podSelector: name("mesh"),
      policyTypes: ["Ingress"],
      ingress: [
        { from: apiSources, ports: [tcp(HTTP_PORT)] },
        { from: [monitoring], ports: [tcp(HTTP_PORT)] },
      ],
    });
    // With the workers only: switching them on (state 1 → 2) adds objects and changes none.
    if (args.workers)
      policy(
        "mesh-worker",
        {
          podSelector: WORKER_PODS,
          policyTypes: ["Ingress"],
          ingress: [{ from: [monitoring], ports: [tcp(HTTP_PORT)] }],
        },
        "mesh-worker-network-policy",
      );
    policy("mesh-egress", {
      podSelector: MESH_PODS,
      policyTypes: ["Egress"],
      egress: [
        dns,
        {
          to: args.inClusterPostgres ? [{ podSelector: name("mesh-postgres") }] : anywhere,
          ports: [tcp(5432)],
        },
        {
          to: args.managedNats ? [{ podSelector: name(NATS_NAME) }] : anywhere,
          ports: [tcp(NATS_PORTS.client)],
        },
        { to: outside, ports: settings.modelApiPorts.map(tcp) },
      ],
    });
    // Workers writing their pod-deletion-cost: the API server, and only from worker pods.
    if (args.workersReachKubernetesApi)
      policy(
        "mesh-worker-kubernetes-api",
        {
          podSelector: WORKER_PODS,
          policyTypes: ["Egress"],
          egress: [
            {
              to: settings.kubernetesApi.cidrs.map((cidr) => ({ ipBlock: { cidr } })),
              ports: settings.kubernetesApi.ports.map(tcp),
            },
          ],
        },
        "mesh-worker-kubernetes-api-network-policy",
      );
    if (args.managedNats) {
      policy(NATS_NAME, {
        podSelector: name(NATS_NAME),
        policyTypes: ["Ingress", "Egress"],
        ingress: [
          { from: [{ podSelector: MESH_PODS }], ports: [tcp(NATS_PORTS.client)] },
          { from: [{ podSelector: name(NATS_NAME) }], ports: [tcp(NATS_PORTS.cluster)] },
          { from: [monitoring], ports: [tcp(NATS_PORTS.monitor)] },
        ],
        egress: [dns, { to: [{ podSelector: name(NATS_NAME) }], ports: [tcp(NATS_PORTS.cluster)] }],
      });
    }
    if (args.inClusterPostgres) {
      policy("mesh-postgres", {
        podSelector: name("mesh-postgres"),
        policyTypes: ["Ingress"],
        // KEDA's operator reads the queue depth from its own namespace.
        ingress: [
          { from: [{ podSelector: MESH_PODS }, namespaceNamed(settings.kedaNamespace)], ports: [tcp(5432)] },
        ],
      });
    }
    this.registerOutputs({});
  }
}
