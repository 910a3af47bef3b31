import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { freePort } from "../support/mesh-process.js";
import { reapOrphanedRuns } from "../support/orphan-reaper.js";
import { waitFor } from "../support/wait.js";
import {
  type ControlPlaneCertificates,
  FRONT_PROXY_CLIENT_NAME,
  generateCertificates,
} from "./certificates.js";

/** The binaries scripts/ensure-tools.sh builds into .tools/bin (found on PATH). */
const BINARIES = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"];

/**
 * Controllers that need a cloud or a pod network this control plane does not have. Everything else
 * (deployment, replicaset, job, disruption, endpointslice, garbage collector, namespace, ...) runs.
 */
const DISABLED_CONTROLLERS = [
  "nodeipam",
  "service-lb-controller",
  "cloud-node-lifecycle-controller",
  "node-route-controller",
];

/** kwok's "fast" stages, copied from its module by scripts/ensure-tools.sh. */
const KWOK_STAGES = fileURLToPath(new URL("../../.tools/share/kwok-stages.yaml", import.meta.url));

/** The fake node kwok manages: pods bound to it become Running/Ready, Job pods Succeeded. */
export const KWOK_NODE_NAME = "kwok-node-0";

export interface ControlPlane {
  /** kubeconfig of the admin user; set KUBECONFIG to it for the Pulumi provider. */
  kubeconfigPath: string;
  server: string;
  certificates: ControlPlaneCertificates;
  dir: string;
  /** GET/POST/... against the API server as admin; parses JSON. PATCH bodies are JSON merge patches. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

interface Managed {
  name: string;
  child: ChildProcess;
  exited: Promise<unknown>;
}

interface ControlPlaneOptions {
  logPrefix?: string;
  /** false: no kwok and no fake node (pods run on process nodes the caller starts). Default true. */
  fakeNode?: boolean;
}

/**
 * Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (with one fake node) on
 * loopback, on free ports, with a fresh PKI and data directory. `stop()` ends every process by PID and
 * removes the directory; a crash of the test process kills them too.
 *
 * Ports are picked free and bound a moment later by another process, so on a busy machine an outgoing
 * connection can take one in between ("address already in use"): such a start is retried on new ports.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startControlPlaneOnce(options);
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test((error as Error).message)) throw error;
      console.error(
        `${options.logPrefix ?? "control-plane"}: a port was taken before it was bound; retrying`,
      );
    }
  }
}

async function startControlPlaneOnce(options: ControlPlaneOptions): Promise<ControlPlane> {
  const fakeNodeWanted = options.fakeNode ?? true;
  reapOrphanedRuns(CONTROL_PLANE_DIR_PREFIX);
  const dir = mkdtempSync(join(tmpdir(), CONTROL_PLANE_DIR_PREFIX));
  writeFileSync(join(dir, "owner"), String(process.pid));
  const certificates = generateCertificates(dir);
  const [etcdClient, etcdPeer, apiserverPort] = [await freePort(), await freePort(), await freePort()];
  const server = `https://127.0.0.1:${apiserverPort}`;
  const processes: Managed[] = [];
  const killAll = () => {
    for (const managed of processes) managed.child.kill("SIGKILL");
  };
  process.once("exit", killAll);

  const start = (name: string, args: string[]) => {
    const log = openSync(join(dir, `${name}.log`), "a");
    const child = spawn(name, args, { cwd: dir, stdio: ["ignore", log, log] });
    closeSync(log);
    appendFileSync(join(dir, "pids"), `${child.pid} ${name}\n`);
    const exited = once(child, "exit");
    processes.push({ name, child, exited });
    child.once("error", (error) =>
      console.error(`${options.logPrefix ?? "control-plane"}: ${name}: ${error.message}`),
    );
    return child;
  };
  const logTail = (name: string) => {
    try {
      return readFileSync(join(dir, `${name}.log`), "utf8")
        .split("\n")
        .slice(-15)
        .join("\n");
    } catch {
      return "(no log)";
    }
  };

  const kubeconfigPath = join(dir, "admin.kubeconfig");
  writeFileSync(kubeconfigPath, kubeconfig(server, certificates));

  const api: ControlPlane["api"] = (method, path, body) =>
    apiRequest(server, certificates, method, path, body) as never;

  try {
    for (const binary of BINARIES.filter((name) => fakeNodeWanted || name !== "kwok"))
      await assertOnPath(binary);
    mkdirSync(join(dir, "etcd"));
    start("etcd", [
      "--name=mesh-test",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=mesh-test=http://127.0.0.1:${etcdPeer}`,
      "--unsafe-no-fsync",
      "--log-level=warn",
    ]);
    start("kube-apiserver", [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiserverPort}`,
      `--tls-cert-file=${certificates.apiserverCert}`,
      `--tls-private-key-file=${certificates.apiserverKey}`,
      `--client-ca-file=${certificates.caCert}`,
      `--service-account-key-file=${certificates.serviceAccountPub}`,
      `--service-account-signing-key-file=${certificates.serviceAccountKey}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      "--service-cluster-ip-range=10.96.0.0/16",
      "--authorization-mode=Node,RBAC",
      // logs, exec and port-forward go to the kubelet's API with this client certificate (real nodes).
      `--kubelet-client-certificate=${certificates.adminCert}`,
      `--kubelet-client-key=${certificates.adminKey}`,
      "--kubelet-preferred-address-types=InternalIP",
      // The aggregation layer, as on EKS: APIServices (KEDA's external metrics, metrics-server's) are
      // proxied with the front-proxy client certificate and the caller in X-Remote-* headers, straight to
      // the Service's endpoints (this host routes to pod addresses; it has no ClusterIP of its own).
      `--requestheader-client-ca-file=${certificates.frontProxyCaCert}`,
      `--requestheader-allowed-names=${FRONT_PROXY_CLIENT_NAME}`,
      "--requestheader-username-headers=X-Remote-User",
      "--requestheader-group-headers=X-Remote-Group",
      "--requestheader-extra-headers-prefix=X-Remote-Extra-",
      `--proxy-client-cert-file=${certificates.frontProxyClientCert}`,
      `--proxy-client-key-file=${certificates.frontProxyClientKey}`,
      "--enable-aggregator-routing=true",
      // No pod network: nothing may try to reach the apiserver through the kubernetes Service.
      "--endpoint-reconciler-type=none",
      `--cert-dir=${dir}`,
      "--v=1",
    ]);
    await waitFor("kube-apiserver /readyz", async () => (await api("GET", "/readyz")).status === 200, {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    // The controller manager and the scheduler are both clients of the apiserver, serving on loopback.
    const apiserverClient = async () => [
      `--kubeconfig=${kubeconfigPath}`,
      `--authentication-kubeconfig=${kubeconfigPath}`,
      `--authorization-kubeconfig=${kubeconfigPath}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${await freePort()}`,
      "--leader-elect=false",
      "--v=1",
    ];
    start("kube-controller-manager", [
      ...(await apiserverClient()),
      `--controllers=*,${DISABLED_CONTROLLERS.map((name) => `-${name}`).join(",")}`,
      `--service-account-private-key-file=${certificates.serviceAccountKey}`,
      `--root-ca-file=${certificates.caCert}`,
      `--cluster-signing-cert-file=${certificates.caCert}`,
      `--cluster-signing-key-file=${certificates.caKey}`,
      "--use-service-account-credentials=false",
    ]);
    start("kube-scheduler", await apiserverClient());
    if (fakeNodeWanted) {
      start("kwok", [
        `--kubeconfig=${kubeconfigPath}`,
        `--config=${KWOK_STAGES}`,
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--node-lease-duration-seconds=40",
        `--server-address=127.0.0.1:${await freePort()}`,
      ]);
      await api("POST", "/api/v1/nodes", fakeNode(KWOK_NODE_NAME));
      await waitFor(
        `node ${KWOK_NODE_NAME} Ready`,
        async () => {
          const node = await api<NodeStatus>("GET", `/api/v1/nodes/${KWOK_NODE_NAME}`);
          return node.body.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
    }
    // The ServiceAccount admission plugin refuses pods until the default ServiceAccount exists.
    await waitFor(
      "default ServiceAccount",
      async () => (await api("GET", "/api/v1/namespaces/default/serviceaccounts/default")).status === 200,
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  } catch (error) {
    const exitedEarly = processes.filter((managed) => managed.child.exitCode !== null);
    const detail = exitedEarly
      .map((managed) => `--- ${managed.name} exited:\n${logTail(managed.name)}`)
      .join("\n");
    killAll();
    process.removeListener("exit", killAll);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`control plane did not start: ${(error as Error).message}\n${detail}`);
  }

  return {
    kubeconfigPath,
    server,
    certificates,
    dir,
    api,
    async stop() {
      process.removeListener("exit", killAll);
      // Reverse start order: the clients of the apiserver first, etcd last.
      for (const managed of [...processes].reverse()) {
        if (managed.child.exitCode !== null || managed.child.signalCode !== null) continue;
        managed.child.kill("SIGTERM");
        const stopped = await Promise.race([
          managed.exited.then(() => true),
          sleep(10_000).then(() => false),
        ]);
        if (!stopped) {
          managed.child.kill("SIGKILL");
          await managed.exited;
        }
      }
      if (!process.env.MESH_KEEP_CONTROL_PLANE) rmSync(dir, { recursive: true, force: true });
    },
  };
}

const CONTROL_PLANE_DIR_PREFIX = "mesh-control-plane-";

interface NodeStatus {
  status?: { conditions?: { type: string; status: string }[] };
}

function fakeNode(name: string) {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      annotations: { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
      labels: {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "topology.kubernetes.io/zone": "zone-a",
        type: "kwok",
      },
    },
    spec: {},
    status: {
      allocatable: { cpu: "32", memory: "256Gi", pods: "110" },
      capacity: { cpu: "32", memory: "256Gi", pods: "110" },
    },
  };
}

function kubeconfig(server: string, certificates: ControlPlaneCertificates): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "mesh-test", cluster: { server, "certificate-authority": certificates.caCert } }],
    users: [
      {
        name: "mesh-test-admin",
        user: { "client-certificate": certificates.adminCert, "client-key": certificates.adminKey },
      },
    ],
    contexts: [{ name: "mesh-test", context: { cluster: "mesh-test", user: "mesh-test-admin" } }],
    "current-context": "mesh-test",
  });
}

function apiRequest(
  server: string,
  certificates: ControlPlaneCertificates,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${server}${path}`,
      {
        method,
        ca: readFileSync(certificates.caCert),
        cert: readFileSync(certificates.adminCert),
        key: readFileSync(certificates.adminKey),
        headers: payload
          ? {
              // A PATCH body is a JSON merge patch (RFC 7386).
              "content-type": method === "PATCH" ? "application/merge-patch+json" : "application/json",
              "content-length": Buffer.byteLength(payload),
            }
          : {},
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}

async function assertOnPath(binary: string): Promise<void> {
  const child = spawn("sh", ["-c", `command -v ${binary}`], { stdio: "ignore" });
  const [code] = await once(child, "exit");
  if (code !== 0)
    throw new Error(
      `${binary} is not on PATH: run the suite through ./dev test (scripts/ensure-tools.sh builds it)`,
    );
}
