import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { CoreV1Api, KubeConfig, type V1Pod, type V1Service } from "@kubernetes/client-node";
import { containerPort } from "./probes.js";

export interface ServiceProxy {
  /** http://127.0.0.1:<port>: what a client inside the cluster would reach as the Service. */
  url: string;
  /** The endpoints (podIP:port) the proxy routes to right now. */
  endpoints(): string[];
  stop(): Promise<void>;
}

const REFRESH_MS = 250;

/**
 * kube-proxy for one Service, in user space: every new TCP connection goes to a random endpoint among the
 * pods the Service's selector matches that are Ready and not terminating — the set the EndpointSlice
 * controller would publish (the API server refuses loopback addresses in EndpointSlices, so the slices
 * of loopback pods stay empty and the set is computed here, from the same selector and conditions).
 * An established connection stays with its pod, as with kube-proxy's conntrack. No endpoint: the
 * connection is refused (kube-proxy's REJECT).
 */
export async function startServiceProxy(options: {
  kubeconfigPath: string;
  namespace: string;
  service: string;
}): Promise<ServiceProxy> {
  const kubeconfig = new KubeConfig();
  kubeconfig.loadFromFile(options.kubeconfigPath);
  const core = kubeconfig.makeApiClient(CoreV1Api);
  let endpoints: string[] = [];
  let stopped = false;

  const refresh = async () => {
    const service: V1Service = await core.readNamespacedService({
      name: options.service,
      namespace: options.namespace,
    });
    const selector = service.spec?.selector ?? {};
    const servicePort = service.spec?.ports?.[0];
    const labelSelector = Object.entries(selector)
      .map(([key, value]) => `${key}=${value}`)
      .join(",");
    const pods = await core.listNamespacedPod({ namespace: options.namespace, labelSelector });
    endpoints = pods.items.filter(serving).flatMap((pod) => {
      const container = pod.spec?.containers[0];
      if (!container || !pod.status?.podIP || !servicePort) return [];
      return [`${pod.status.podIP}:${containerPort(container, servicePort.targetPort ?? servicePort.port)}`];
    });
  };
  const loop = (async () => {
    while (!stopped) {
      await refresh().catch(() => {
        // The Service does not exist (yet, or any more): no endpoints.
        endpoints = [];
      });
      await new Promise((resolve) => setTimeout(resolve, REFRESH_MS));
    }
  })();

  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.once("close", () => sockets.delete(client));
    const target = endpoints[Math.floor(Math.random() * endpoints.length)];
    if (!target) {
      client.resetAndDestroy();
      return;
    }
    const [host, port] = target.split(":");
    const upstream = connect({ host, port: Number(port) });
    sockets.add(upstream);
    upstream.once("close", () => sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
    // A reset on one side is a reset on the other, as through a NAT.
    upstream.on("error", () => client.resetAndDestroy());
    client.on("error", () => upstream.resetAndDestroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  await refresh().catch(() => undefined);
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    endpoints: () => [...endpoints],
    async stop() {
      stopped = true;
      server.close();
      for (const socket of sockets) socket.destroy();
      await loop;
    },
  };
}

/** Ready and not terminating: what the EndpointSlice controller publishes as a serving endpoint. */
function serving(pod: V1Pod): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  return (
    pod.status?.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True") ??
    false
  );
}
