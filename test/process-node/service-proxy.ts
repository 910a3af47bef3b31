import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { DiscoveryV1Api, KubeConfig } from "@kubernetes/client-node";

export interface ServiceProxy {
  /** http://127.0.0.1:<port>: what a client inside the cluster would reach as the Service. */
  url: string;
  /** The endpoints (podIP:port) the proxy routes to right now. */
  endpoints(): string[];
  stop(): Promise<void>;
}

const REFRESH_MS = 250;

/**
 * kube-proxy for one Service, in user space: every new TCP connection goes to a random endpoint of the
 * Service's EndpointSlices whose `ready` condition is true (serving and not terminating), as kube-proxy
 * routes; the slices are the EndpointSlice controller's, refreshed here every 250 ms. An established
 * connection stays with its pod, as with kube-proxy's conntrack. No endpoint: the connection is refused
 * (kube-proxy's REJECT).
 */
export async function startServiceProxy(options: {
  kubeconfigPath: string;
  namespace: string;
  service: string;
}): Promise<ServiceProxy> {
  const kubeconfig = new KubeConfig();
  kubeconfig.loadFromFile(options.kubeconfigPath);
  const discovery = kubeconfig.makeApiClient(DiscoveryV1Api);
  let endpoints: string[] = [];
  let stopped = false;

  const refresh = async () => {
    const slices = await discovery.listNamespacedEndpointSlice({
      namespace: options.namespace,
      labelSelector: `kubernetes.io/service-name=${options.service}`,
    });
    endpoints = slices.items.flatMap((slice) => {
      const port = slice.ports?.[0]?.port;
      if (port === undefined) return [];
      return (slice.endpoints ?? [])
        .filter((endpoint) => endpoint.conditions?.ready === true)
        .flatMap((endpoint) => endpoint.addresses.map((address) => `${address}:${port}`));
    });
  };
  const loop = (async () => {
    while (!stopped) {
      // On an API error the last known endpoints stay, as kube-proxy keeps its rules while the API is away.
      await refresh().catch(() => undefined);
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
