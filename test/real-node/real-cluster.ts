// A cluster of real nodes: the test control plane (no kwok), real kubelets on containerd, kube-proxy,
// NetworkPolicy enforcement, CoreDNS as a pod, the machine's Postgres and NATS behind cluster Services, and a client network
// namespace from which the test reaches ClusterIPs. See README.md for what it models and what it does not.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ControlPlane, startControlPlane } from "../control-plane/control-plane.js";
import { freePort } from "../support/mesh-process.js";
import { assertNoOtherRun, REAL_NODE_DIR, removeRealNodeLeftovers } from "./cleanup.js";
import { startClusterDns } from "./cluster-dns.js";
import { CLIENT_ADDRESS, CLIENT_NETNS, nodeNetwork, setUpHostNetwork } from "./host-network.js";
import { NATS_HOST, POSTGRES_HOST, startHostServices } from "./host-services.js";
import { ensureNodeImages, type MeshImageVariant, type NodeImages } from "./images.js";
import { installKeda } from "./keda.js";
import { startKubeProxy } from "./kube-proxy.js";
import { installMetricsServer } from "./metrics-server.js";
import { startNetworkPolicyController } from "./network-policy.js";
import { assertRealNodePrerequisites } from "./prerequisites.js";
import { type ManagedProcess, startProcess } from "./processes.js";
import { type RealNode, startRealNode } from "./real-node.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface RealCluster {
  cluster: ControlPlane;
  nodes: RealNode[];
  images: NodeImages;
  /** A Postgres URL as pods use it: the machine's Postgres by its cluster DNS name. */
  inClusterDatabaseUrl(hostUrl: string): string;
  /** The machine's NATS by its cluster DNS name. */
  inClusterNatsUrl: string;
  /**
   * http://<client address>:<port> on this host, forwarded from inside the client network namespace to
   * `clusterIP:port`: each connection is routed by kube-proxy's rules, as from a pod on another node.
   */
  exposeClusterIP(clusterIP: string, port: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startRealCluster(options: {
  nodes: { name: string; zone: string }[];
  /** The reference the stacks give mesh's image; it is loaded under exactly that name. */
  meshImage: string;
  /** Other builds of it (releases with another workflow version), loaded too. */
  meshVariants?: MeshImageVariant[];
  /** Installs KEDA (test/real-node/keda.ts) once cluster DNS serves: queue-depth ScaledObjects scale. */
  keda?: boolean;
  /** Installs metrics-server (test/real-node/metrics-server.ts): CPU HorizontalPodAutoscalers scale. */
  metricsServer?: boolean;
  log?: (line: string) => void;
}): Promise<RealCluster> {
  const log = options.log ?? ((line: string) => console.log(`      real-node: ${line}`));
  assertRealNodePrerequisites();
  assertNoOtherRun();
  removeRealNodeLeftovers();
  mkdirSync(REAL_NODE_DIR, { recursive: true });
  writeFileSync(join(REAL_NODE_DIR, "owner"), String(process.pid));
  const started: {
    cluster?: ControlPlane;
    nodes: RealNode[];
    processes: ManagedProcess[];
    stopHostServices?: () => Promise<void>;
  } = {
    nodes: [],
    processes: [],
  };
  const stop = async () => {
    if (process.env.MESH_REAL_NODE_KEEP === "1") {
      log(`MESH_REAL_NODE_KEEP=1: everything left running under ${REAL_NODE_DIR} (the next run removes it)`);
      process.removeListener("exit", onExit);
      return;
    }
    for (const managed of started.processes) await managed.stop(2_000);
    for (const node of started.nodes) await node.stop();
    await started.stopHostServices?.();
    await started.cluster?.stop();
    removeRealNodeLeftovers();
  };
  // A test process that exits without stop() (an uncaught error) still leaves nothing behind.
  const onExit = () => removeRealNodeLeftovers();
  process.once("exit", onExit);
  try {
    const images = ensureNodeImages({
      root: ROOT,
      workDir: REAL_NODE_DIR,
      meshReference: options.meshImage,
      variants: options.meshVariants,
      keda: options.keda,
      metricsServer: options.metricsServer,
      log,
    });
    const networks = options.nodes.map((_, index) => nodeNetwork(index));
    setUpHostNetwork(networks);
    const first = networks[0];
    if (!first) throw new Error("real cluster: at least one node");
    const cluster = await startControlPlane({ fakeNode: false, logPrefix: "real-node" });
    started.cluster = cluster;
    started.stopHostServices = (
      await startHostServices({ cluster, address: first.nodeIP, workDir: REAL_NODE_DIR })
    ).stop;
    started.processes.push(
      startKubeProxy({
        cluster,
        nodeName: options.nodes[0]?.name ?? "",
        nodeIP: first.nodeIP,
        workDir: REAL_NODE_DIR,
      }),
    );
    for (const [index, node] of options.nodes.entries())
      started.nodes.push(
        await startRealNode({
          ...node,
          network: networks[index] ?? first,
          cluster,
          images,
          workDir: REAL_NODE_DIR,
        }),
      );
    // NetworkPolicies are enforced from the first pod on: every drill runs under the policies it renders.
    started.processes.push(
      await startNetworkPolicyController({
        cluster,
        nodeName: options.nodes[0]?.name ?? "",
        workDir: REAL_NODE_DIR,
      }),
    );
    await startClusterDns(cluster, images.coredns);
    log(`${started.nodes.length} node(s) Ready, CoreDNS serving`);
    if (images.keda) {
      await installKeda(cluster, images.keda, REAL_NODE_DIR);
      log("KEDA serving external metrics");
    }
    if (images.metricsServer) {
      await installMetricsServer(
        cluster,
        images.metricsServer,
        REAL_NODE_DIR,
        options.nodes.map((node) => node.name),
      );
      log("metrics-server serving pod and node metrics");
    }
    return {
      cluster,
      nodes: started.nodes,
      images,
      inClusterDatabaseUrl(hostUrl: string) {
        const url = new URL(hostUrl);
        url.hostname = POSTGRES_HOST;
        return url.toString();
      },
      inClusterNatsUrl: `nats://${NATS_HOST}:4222`,
      async exposeClusterIP(clusterIP: string, port: number) {
        const localPort = await freePort();
        started.processes.push(
          startProcess({
            name: `client ${clusterIP}:${port}`,
            command: "socat",
            args: [
              `TCP-LISTEN:${localPort},bind=${CLIENT_ADDRESS},fork,reuseaddr`,
              `TCP:${clusterIP}:${port}`,
            ],
            logPath: join(REAL_NODE_DIR, `client-${clusterIP}-${port}.log`),
            pidFile: join(REAL_NODE_DIR, "pids"),
            netns: CLIENT_NETNS,
          }),
        );
        return `http://${CLIENT_ADDRESS}:${localPort}`;
      },
      async stop() {
        process.removeListener("exit", onExit);
        await stop();
      },
    };
  } catch (error) {
    process.removeListener("exit", onExit);
    await stop();
    throw error;
  }
}
