import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
  Watch,
} from "@kubernetes/client-node";
import { type ImageFiles, type NodeContext, type PodRecord, PodRuntime } from "./pod-runtime.js";

export interface ProcessNodeOptions {
  name: string;
  kubeconfigPath: string;
  /** The node's pod CIDR is 10.244.<subnet>.0/24, added to the loopback interface (needs CAP_NET_ADMIN). */
  subnet: number;
  zone: string;
  /**
   * The images the node holds: one for every reference (a node with the one mesh image), or by reference
   * (an upgrade between two images); a pod whose image the node lacks waits in ErrImageNeverPull.
   */
  image: ImageFiles | Record<string, ImageFiles>;
  logDir: string;
  /**
   * A file to append "<pid> <command>" of every container process to: the control plane's `pids`, so a
   * test process killed outright has its pods' processes reaped with the control plane at the next start.
   */
  pidFile?: string;
}

export interface ProcessNode {
  name: string;
  /** Every pod this node ran, in start order, with where its logs are; kept after the pod is gone. */
  readonly pods: PodRecord[];
  /** Ends every pod process at once (SIGKILL) and stops talking to the API. */
  stop(): Promise<void>;
}

const LEASE_DURATION_SECONDS = 40;
const LEASE_RENEW_MS = 10_000;
const RESYNC_MS = 5_000;

/**
 * A kubelet for one Node whose "containers" are local processes: registers the Node (Ready, capacity)
 * and renews its Lease, runs every pod the scheduler binds to it (PodRuntime), and ends them when they
 * are deleted. See README.md for what it models faithfully and what it does not.
 */
export async function startProcessNode(options: ProcessNodeOptions): Promise<ProcessNode> {
  const kubeconfig = new KubeConfig();
  kubeconfig.loadFromFile(options.kubeconfigPath);
  const core = kubeconfig.makeApiClient(CoreV1Api);
  const coordination = kubeconfig.makeApiClient(CoordinationV1Api);
  mkdirSync(options.logDir, { recursive: true });
  addPodRange(options.subnet);
  const context: NodeContext = {
    core,
    nodeName: options.name,
    hostIP: "127.0.0.1",
    imageFor: (reference) =>
      "root" in options.image
        ? (options.image as ImageFiles)
        : (options.image as Record<string, ImageFiles>)[reference],
    logDir: options.logDir,
    pidFile: options.pidFile,
  };
  const runtimes = new Map<string, PodRuntime>();
  const records: PodRecord[] = [];
  const addresses = addressPool(options.subnet);
  let stopped = false;
  const killAll = () => {
    for (const runtime of runtimes.values()) runtime.kill();
  };
  process.once("exit", killAll);

  await core.createNode({ body: nodeObject(options) });
  await renewLease(coordination, options.name);
  // The API server taints a new node not-ready; the node lifecycle controller lifts it once it sees Ready.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const node = await core.readNode({ name: options.name });
    if (!node.spec?.taints?.some((taint) => taint.effect === "NoSchedule" || taint.effect === "NoExecute"))
      break;
    if (Date.now() > deadline)
      throw new Error(`node ${options.name} kept its taints: ${JSON.stringify(node.spec?.taints)}`);
    await sleep(250);
  }
  const heartbeat = setInterval(() => {
    void renewLease(coordination, options.name).catch((error) =>
      console.error(`process-node ${options.name}: lease: ${String(error)}`),
    );
    void core
      .patchNodeStatus(
        { name: options.name, body: { status: { conditions: nodeConditions() } } },
        setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
      )
      .catch((error) => console.error(`process-node ${options.name}: node status: ${String(error)}`));
  }, LEASE_RENEW_MS);

  /** What the kubelet's sync loop does for one pod it sees. */
  const sync = (pod: V1Pod) => {
    const uid = pod.metadata?.uid ?? "";
    const runtime = runtimes.get(uid);
    if (pod.metadata?.deletionTimestamp) {
      const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
      if (runtime) runtime.terminate(grace);
      else void deleteNow(core, pod);
      return;
    }
    if (runtime || stopped) return;
    if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") return;
    const address = addresses.take();
    const started = new PodRuntime(context, pod, address);
    runtimes.set(uid, started);
    records.push(started.record);
    void started.finished
      .catch((error) =>
        console.error(`process-node ${options.name}: pod ${pod.metadata?.name}: ${String(error)}`),
      )
      .then(async () => {
        // A pod that ended on its own (a Job's) keeps its address until it is deleted, like its sandbox.
        while (!stopped && (await exists(core, pod))) await sleep(1_000);
        runtimes.delete(uid);
        addresses.release(address);
      });
  };
  /** A pod gone from the API without the graceful path (forced deletion): kill its process. */
  const forget = (uid: string) => runtimes.get(uid)?.kill();

  const fieldSelector = `spec.nodeName=${options.name}`;
  const relist = async () => {
    const list = await core.listPodForAllNamespaces({ fieldSelector });
    const seen = new Set<string>();
    for (const pod of list.items) {
      seen.add(pod.metadata?.uid ?? "");
      sync(pod);
    }
    for (const uid of runtimes.keys()) if (!seen.has(uid)) forget(uid);
    return list.metadata?.resourceVersion;
  };

  // A watch for prompt reactions, a periodic relist so nothing is ever missed (the informer's resync).
  let watchAbort: AbortController | undefined;
  const watchPods = async () => {
    while (!stopped) {
      try {
        const resourceVersion = await relist();
        const ended = new Promise<void>((resolve) => {
          void new Watch(kubeconfig)
            .watch(
              "/api/v1/pods",
              { fieldSelector, resourceVersion, allowWatchBookmarks: true },
              (type: string, pod: V1Pod) => {
                if (type === "DELETED") forget(pod.metadata?.uid ?? "");
                else if (type === "ADDED" || type === "MODIFIED") sync(pod);
              },
              () => resolve(),
            )
            .then(
              (controller) => {
                watchAbort = controller;
              },
              () => resolve(),
            );
        });
        await ended;
      } catch (error) {
        if (!stopped) console.error(`process-node ${options.name}: watch: ${String(error)}`);
      }
      if (!stopped) await sleep(500);
    }
  };
  void watchPods();
  const resync = setInterval(() => {
    if (!stopped) void relist().catch(() => undefined);
  }, RESYNC_MS);

  return {
    name: options.name,
    pods: records,
    async stop() {
      stopped = true;
      clearInterval(heartbeat);
      clearInterval(resync);
      watchAbort?.abort();
      killAll();
      process.removeListener("exit", killAll);
      await Promise.all([...runtimes.values()].map((runtime) => runtime.finished.catch(() => undefined)));
      removePodRange(options.subnet);
    },
  };
}

/** Takes the node's pod range off `lo` again (a killed run leaves it: the next node of that subnet replaces it). */
function removePodRange(subnet: number): void {
  spawnSync("ip", ["addr", "del", `10.244.${subnet}.1/24`, "dev", "lo"], { encoding: "utf8" });
}

/**
 * Makes the node's pod CIDR local: an address with a prefix on `lo` makes the whole prefix local (as
 * 127.0.0.0/8 is), so every pod can bind its own address of it. Not loopback addresses themselves: the
 * API server refuses those in EndpointSlices, and the Service's endpoints are part of what is tested.
 */
function addPodRange(subnet: number): void {
  const result = spawnSync("ip", ["addr", "replace", `10.244.${subnet}.1/24`, "dev", "lo"], {
    encoding: "utf8",
  });
  if (result.status !== 0)
    throw new Error(
      `process node: cannot add its pod range 10.244.${subnet}.0/24 to lo (needs root or CAP_NET_ADMIN): ${result.stderr || result.error}`,
    );
}

/** Pod addresses of the node's /24, handed out in turn so a released address is not reused at once. */
function addressPool(subnet: number) {
  const inUse = new Set<string>();
  let next = 0;
  const SIZE = 253; // .2 to .254 (.1 is the node's own)
  return {
    take(): string {
      for (let tries = 0; tries < SIZE; tries++) {
        const index = next++ % SIZE;
        const address = `10.244.${subnet}.${index + 2}`;
        if (!inUse.has(address)) {
          inUse.add(address);
          return address;
        }
      }
      throw new Error("process node: no pod address left");
    },
    release: (address: string) => inUse.delete(address),
  };
}

async function exists(core: CoreV1Api, pod: V1Pod): Promise<boolean> {
  try {
    const current = await core.readNamespacedPod({
      name: pod.metadata?.name ?? "",
      namespace: pod.metadata?.namespace ?? "",
    });
    return current.metadata?.uid === pod.metadata?.uid;
  } catch (error) {
    if ((error as { code?: number }).code === 404) return false;
    throw error;
  }
}

/** A pod deleted before it ever ran here: nothing to stop, confirm the deletion. */
async function deleteNow(core: CoreV1Api, pod: V1Pod): Promise<void> {
  await core
    .deleteNamespacedPod({
      name: pod.metadata?.name ?? "",
      namespace: pod.metadata?.namespace ?? "",
      gracePeriodSeconds: 0,
      body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid } },
    })
    .catch(() => undefined);
}

/** RFC 3339 with microseconds, the format of a Lease's MicroTime fields. */
const microTime = () => new Date().toISOString().replace("Z", "000Z");

async function renewLease(coordination: CoordinationV1Api, nodeName: string): Promise<void> {
  const namespace = "kube-node-lease";
  const spec = {
    holderIdentity: nodeName,
    leaseDurationSeconds: LEASE_DURATION_SECONDS,
    renewTime: microTime(),
  };
  try {
    await coordination.patchNamespacedLease(
      { name: nodeName, namespace, body: { spec } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  } catch (error) {
    if ((error as { code?: number }).code !== 404) throw error;
    // Created without its MicroTime (the typed client would format it as a Date), then renewed by patch.
    await coordination.createNamespacedLease({
      namespace,
      body: {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: nodeName, namespace },
        spec: { holderIdentity: nodeName, leaseDurationSeconds: LEASE_DURATION_SECONDS },
      },
    });
    await coordination.patchNamespacedLease(
      { name: nodeName, namespace, body: { spec } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  }
}

function nodeConditions() {
  const now = new Date();
  const condition = (type: string, status: string, reason: string) => ({
    type,
    status,
    reason,
    message: `process node: ${reason}`,
    lastHeartbeatTime: now,
  });
  return [
    condition("Ready", "True", "KubeletReady"),
    condition("MemoryPressure", "False", "KubeletHasSufficientMemory"),
    condition("DiskPressure", "False", "KubeletHasNoDiskPressure"),
    condition("PIDPressure", "False", "KubeletHasSufficientPID"),
  ];
}

function nodeObject(options: ProcessNodeOptions) {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: options.name,
      labels: {
        "kubernetes.io/hostname": options.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "topology.kubernetes.io/zone": options.zone,
        "mesh.dev/process-node": "true",
      },
    },
    spec: { podCIDR: `10.244.${options.subnet}.0/24`, podCIDRs: [`10.244.${options.subnet}.0/24`] },
    status: {
      capacity: { cpu: "16", memory: "64Gi", pods: "110" },
      allocatable: { cpu: "16", memory: "64Gi", pods: "110" },
      conditions: nodeConditions(),
      addresses: [
        { type: "InternalIP", address: "127.0.0.1" },
        { type: "Hostname", address: options.name },
      ],
      nodeInfo: {
        machineID: options.name,
        systemUUID: options.name,
        bootID: options.name,
        kernelVersion: "process-node",
        osImage: "process-node",
        containerRuntimeVersion: "process://0",
        kubeletVersion: "v1.36.3",
        kubeProxyVersion: "",
        operatingSystem: "linux",
        architecture: "amd64",
      },
    },
  };
}
