// What lives outside the cluster, reached by pods as a real cluster reaches it: the apiserver behind the
// `kubernetes` Service, the machine's Postgres and NATS behind selector-less Services with EndpointSlices
// (`postgres.data.svc.cluster.local`, `nats.data.svc.cluster.local`). These listen on loopback only, and
// an endpoint may not be a loopback address: a forwarder (socat) on the first node's address carries them.
import { join } from "node:path";
import type { ControlPlane } from "../control-plane/control-plane.js";
import { createObject } from "./host-helpers.js";
import { type ManagedProcess, startProcess } from "./processes.js";

export const DATA_NAMESPACE = "data";
export const POSTGRES_HOST = `postgres.${DATA_NAMESPACE}.svc.cluster.local`;
export const NATS_HOST = `nats.${DATA_NAMESPACE}.svc.cluster.local`;
// 443, as the API server's endpoints on EKS: the workers' egress policy admits the Kubernetes API on that port.
const APISERVER_FORWARD_PORT = 443;

export interface HostServices {
  stop(): Promise<void>;
}

export async function startHostServices(options: {
  cluster: ControlPlane;
  /** The address the forwarders listen on (a node's, so every pod can route to it). */
  address: string;
  workDir: string;
}): Promise<HostServices> {
  const { cluster, address, workDir } = options;
  const apiserverPort = Number(new URL(cluster.server).port);
  const forwards = [
    { name: "apiserver", listen: APISERVER_FORWARD_PORT, to: apiserverPort },
    { name: "postgres", listen: 5432, to: 5432 },
    { name: "nats", listen: 4222, to: 4222 },
  ];
  const forwarders: ManagedProcess[] = forwards.map((forward) =>
    startProcess({
      name: `forward ${forward.name}`,
      command: "socat",
      args: [`TCP-LISTEN:${forward.listen},bind=${address},fork,reuseaddr`, `TCP:127.0.0.1:${forward.to}`],
      logPath: join(workDir, `forward-${forward.name}.log`),
      pidFile: join(workDir, "pids"),
    }),
  );
  const stop = async () => {
    for (const forwarder of forwarders) await forwarder.stop(2_000);
  };
  try {
    const apply = (path: string, body: unknown) => createObject(cluster, "host services", path, body);
    const slice = (name: string, namespace: string, portName: string, port: number) => ({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name,
        namespace,
        labels: {
          "kubernetes.io/service-name": name,
          "endpointslice.kubernetes.io/managed-by": "mesh-real-node",
        },
      },
      addressType: "IPv4",
      endpoints: [{ addresses: [address], conditions: { ready: true } }],
      ports: [{ name: portName, port, protocol: "TCP" }],
    });
    // The apiserver publishes no endpoints (--endpoint-reconciler-type=none): ours, through the forwarder.
    await apply(
      "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
      slice("kubernetes", "default", "https", APISERVER_FORWARD_PORT),
    );
    await apply("/api/v1/namespaces", { metadata: { name: DATA_NAMESPACE } });
    for (const { name, port } of [
      { name: "postgres", port: 5432 },
      { name: "nats", port: 4222 },
    ]) {
      await apply(`/api/v1/namespaces/${DATA_NAMESPACE}/services`, {
        metadata: { name },
        spec: { ports: [{ name, port, protocol: "TCP" }] },
      });
      await apply(
        `/apis/discovery.k8s.io/v1/namespaces/${DATA_NAMESPACE}/endpointslices`,
        slice(name, DATA_NAMESPACE, name, port),
      );
    }
    return { stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
