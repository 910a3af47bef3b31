// Cluster DNS as on any cluster: CoreDNS as a Deployment in kube-system (from the image built here),
// reading Services and EndpointSlices through the `kubernetes` Service with its ServiceAccount's token,
// behind the `kube-dns` Service at the ClusterIP every kubelet hands pods as their nameserver.
import type { ControlPlane } from "../control-plane/control-plane.js";
import { waitFor } from "../support/wait.js";
import { createObject } from "./host-helpers.js";
import { CLUSTER_DNS_IP } from "./host-network.js";

const NAMESPACE = "kube-system";
/**
 * CoreDNS listens on 53 itself, as on EKS: a NetworkPolicy names the port the pod listens on (after the
 * Service's translation), so policies that admit DNS on 53 (mesh's egress) hold only if it does. It stays
 * unprivileged: the pod's own network namespace lets unprivileged processes bind from 53 up (a safe sysctl).
 */
const DNS_PORT = 53;

/** No `forward`: names outside the cluster get no answer, so no query ever leaves the machine. */
const COREFILE = `.:${DNS_PORT} {
    errors
    health :8080
    ready :8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        ttl 5
    }
    cache 5
}
`;

export async function startClusterDns(cluster: ControlPlane, image: string): Promise<void> {
  const create = (path: string, body: unknown) => createObject(cluster, "cluster DNS", path, body);
  const labels = { "k8s-app": "kube-dns" };
  await create(`/api/v1/namespaces/${NAMESPACE}/serviceaccounts`, { metadata: { name: "coredns" } });
  await create("/apis/rbac.authorization.k8s.io/v1/clusterroles", {
    metadata: { name: "system:coredns" },
    rules: [
      {
        apiGroups: [""],
        resources: ["endpoints", "services", "pods", "namespaces"],
        verbs: ["list", "watch"],
      },
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
    ],
  });
  await create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    metadata: { name: "system:coredns" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:coredns" },
    subjects: [{ kind: "ServiceAccount", name: "coredns", namespace: NAMESPACE }],
  });
  await create(`/api/v1/namespaces/${NAMESPACE}/configmaps`, {
    metadata: { name: "coredns" },
    data: { Corefile: COREFILE },
  });
  await create(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments`, {
    metadata: { name: "coredns", labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: "coredns",
          // CoreDNS itself must not resolve through itself.
          dnsPolicy: "Default",
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            seccompProfile: { type: "RuntimeDefault" },
            sysctls: [{ name: "net.ipv4.ip_unprivileged_port_start", value: String(DNS_PORT) }],
          },
          containers: [
            {
              name: "coredns",
              image,
              imagePullPolicy: "Never",
              args: ["-conf", "/etc/coredns/Corefile"],
              ports: [
                { name: "dns", containerPort: DNS_PORT, protocol: "UDP" },
                { name: "dns-tcp", containerPort: DNS_PORT, protocol: "TCP" },
              ],
              readinessProbe: { httpGet: { path: "/ready", port: 8181 }, periodSeconds: 2 },
              livenessProbe: { httpGet: { path: "/health", port: 8080 }, periodSeconds: 10 },
              resources: { requests: { cpu: "50m", memory: "32Mi" }, limits: { memory: "128Mi" } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
              },
              volumeMounts: [{ name: "config", mountPath: "/etc/coredns", readOnly: true }],
            },
          ],
          volumes: [{ name: "config", configMap: { name: "coredns" } }],
        },
      },
    },
  });
  await create(`/api/v1/namespaces/${NAMESPACE}/services`, {
    metadata: { name: "kube-dns", labels },
    spec: {
      clusterIP: CLUSTER_DNS_IP,
      selector: labels,
      ports: [
        { name: "dns", port: 53, targetPort: DNS_PORT, protocol: "UDP" },
        { name: "dns-tcp", port: 53, targetPort: DNS_PORT, protocol: "TCP" },
      ],
    },
  });
  await waitForClusterDns(cluster);
}

/** CoreDNS's pod Ready (it is ready once its kubernetes plugin has synced with the API). */
export async function waitForClusterDns(cluster: ControlPlane, timeoutMs = 120_000): Promise<void> {
  await waitFor(
    "CoreDNS ready",
    async () => {
      const deployment = await cluster.api<{ status?: { readyReplicas?: number } }>(
        "GET",
        `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/coredns`,
      );
      return (deployment.body.status?.readyReplicas ?? 0) >= 1;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/** Scales CoreDNS (0 breaks cluster DNS, as an outage would); waits for it to be ready again when > 0. */
export async function scaleClusterDns(cluster: ControlPlane, replicas: number): Promise<void> {
  await cluster.api("PATCH", `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/coredns/scale`, {
    spec: { replicas },
  });
  if (replicas > 0) await waitForClusterDns(cluster);
}
