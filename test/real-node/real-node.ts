// One real Kubernetes node: a containerd of its own (root, state, socket and CNI config in the node's
// folder) and the kubelet (k8s.io/kubernetes, the control plane's version) with its own root dir, cgroup
// root and pod CIDR. Several nodes share the host's network stack and kernel, not their runtimes.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { kubeletServingCertificate } from "../control-plane/certificates.js";
import type { ControlPlane } from "../control-plane/control-plane.js";
import { waitFor } from "../support/wait.js";
import { CLUSTER_DNS_IP, cniConfig, type NodeNetwork } from "./host-network.js";
import type { NodeImages } from "./images.js";
import { type ManagedProcess, startProcess } from "./processes.js";

export interface RealNodeOptions {
  name: string;
  zone: string;
  network: NodeNetwork;
  cluster: ControlPlane;
  images: NodeImages;
  /** The run's folder (cleanup.ts finds a killed run's leftovers by it). */
  workDir: string;
}

export interface RealNode {
  name: string;
  network: NodeNetwork;
  /** The kubelet's podLogsDir: <namespace>_<pod>_<uid>/<container>/<restart>.log, CRI log format. */
  podLogsDir: string;
  containerdSocket: string;
  stop(): Promise<void>;
}

/** The v1 cgroup hierarchies of this host (cgroup v1 only: see README.md). */
export function cgroupHierarchies(): string[] {
  return readdirSync("/sys/fs/cgroup")
    .map((name) => join("/sys/fs/cgroup", name))
    .filter((dir) => existsSync(join(dir, "cgroup.procs")) && !dir.endsWith("/unified"));
}

/** The cgroup the node's pods live under (kubelet cgroupRoot); per node, so that no kubelet cleans up another's pods. */
export const cgroupRootOf = (nodeName: string) => `/mesh-rn-${nodeName}`;

export async function startRealNode(options: RealNodeOptions): Promise<RealNode> {
  const { name, network, cluster, workDir } = options;
  const dir = join(workDir, name);
  for (const sub of ["containerd", "cni", "cni-ipam", "kubelet-root", "pod-logs"])
    mkdirSync(join(dir, sub), { recursive: true });
  const pidFile = join(workDir, "pids");
  const processes: ManagedProcess[] = [];
  const stop = async () => {
    for (const managed of [...processes].reverse()) await managed.stop();
  };

  try {
    // containerd, with the CRI plugin's sandbox image ours and the node's CNI configuration.
    const socket = join(dir, "containerd", "containerd.sock");
    writeFileSync(join(dir, "cni", "10-mesh.conflist"), cniConfig(network, join(dir, "cni-ipam")));
    writeFileSync(
      join(dir, "containerd", "config.toml"),
      [
        "version = 2",
        `root = "${dir}/containerd/root"`,
        `state = "${dir}/containerd/state"`,
        "[grpc]",
        `  address = "${socket}"`,
        '[plugins."io.containerd.grpc.v1.cri"]',
        `  sandbox_image = "${options.images.pause}"`,
        "  # This host's root may not lower its processes' oom_score_adj.",
        "  restrict_oom_score_adj = true",
        '  [plugins."io.containerd.grpc.v1.cri".cni]',
        '    bin_dir = "/usr/lib/cni"',
        `    conf_dir = "${dir}/cni"`,
        '  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
        '    runtime_type = "io.containerd.runc.v2"',
        '    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
        "      SystemdCgroup = false",
        "",
      ].join("\n"),
    );
    processes.push(
      startProcess({
        name: `${name} containerd`,
        command: "containerd",
        args: ["--config", join(dir, "containerd", "config.toml")],
        logPath: join(dir, "containerd.log"),
        pidFile,
      }),
    );
    await waitFor(`${name}: containerd's socket`, async () => existsSync(socket), {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    for (const archive of options.images.archives)
      execFileSync("ctr", ["-a", socket, "-n", "k8s.io", "images", "import", archive], { stdio: "pipe" });

    // The kubelet's cgroup root exists in every hierarchy before it starts (it refuses a missing one).
    for (const hierarchy of cgroupHierarchies()) {
      const cgroup = join(hierarchy, cgroupRootOf(name));
      mkdirSync(cgroup, { recursive: true });
      if (hierarchy.endsWith("/cpuset"))
        for (const file of ["cpuset.cpus", "cpuset.mems"])
          writeFileSync(join(cgroup, file), readFileSync(join(hierarchy, file)));
    }
    const certificates = cluster.certificates;
    const serving = kubeletServingCertificate(certificates, dir, { name, ip: network.nodeIP });
    writeFileSync(
      join(dir, "kubelet.yaml"),
      JSON.stringify({
        apiVersion: "kubelet.config.k8s.io/v1beta1",
        kind: "KubeletConfiguration",
        // This host has cgroup v1 only: kubelet 1.36 refuses it unless told otherwise.
        failCgroupV1: false,
        cgroupDriver: "cgroupfs",
        cgroupRoot: cgroupRootOf(name),
        containerRuntimeEndpoint: `unix://${socket}`,
        failSwapOn: false,
        podCIDR: network.podCIDR,
        clusterDomain: "cluster.local",
        clusterDNS: [CLUSTER_DNS_IP],
        // No upstream resolver: pods resolve cluster names only, nothing off the machine.
        resolvConf: "",
        address: network.nodeIP,
        port: 10250,
        readOnlyPort: 0,
        healthzPort: 0,
        // As on EKS: client certificates of the cluster CA (the apiserver's, for logs and exec) and
        // ServiceAccount tokens (metrics-server's), checked by TokenReview; what each may do is the
        // apiserver's RBAC (SubjectAccessReview: metrics-server's ClusterRole grants nodes/metrics).
        authentication: {
          anonymous: { enabled: false },
          webhook: { enabled: true },
          x509: { clientCAFile: certificates.caCert },
        },
        authorization: { mode: "Webhook" },
        tlsCertFile: serving.cert,
        tlsPrivateKeyFile: serving.key,
        enforceNodeAllocatable: [],
        podLogsDir: join(dir, "pod-logs"),
        // The host's disk and memory are shared with the suite: the kubelet evicts nothing by itself.
        evictionHard: { "memory.available": "0%", "nodefs.available": "0%", "imagefs.available": "0%" },
        imageGCHighThresholdPercent: 100,
        imageGCLowThresholdPercent: 99,
        maxPods: 40,
        nodeStatusUpdateFrequency: "5s",
        shutdownGracePeriod: "0s",
      }),
    );
    processes.push(
      startProcess({
        name: `${name} kubelet`,
        command: "kubelet",
        args: [
          "--config",
          join(dir, "kubelet.yaml"),
          "--kubeconfig",
          cluster.kubeconfigPath,
          "--root-dir",
          join(dir, "kubelet-root"),
          "--hostname-override",
          name,
          "--node-ip",
          network.nodeIP,
          "--node-labels",
          `topology.kubernetes.io/zone=${options.zone}`,
          "--v=1",
        ],
        logPath: join(dir, "kubelet.log"),
        pidFile,
      }),
    );
    await waitFor(
      `node ${name} Ready and untainted`,
      async () => {
        const node = await cluster.api<NodeObject>("GET", `/api/v1/nodes/${name}`);
        const ready = node.body.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
        return ready && !(node.body.spec?.taints ?? []).some((t) => t.effect === "NoSchedule");
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    ).catch(async (error) => {
      await sleep(0);
      throw new Error(`${(error as Error).message}\n--- kubelet:\n${processes.at(-1)?.logTail(30)}`);
    });
    return { name, network, podLogsDir: join(dir, "pod-logs"), containerdSocket: socket, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface NodeObject {
  spec?: { taints?: { effect: string }[] };
  status?: { conditions?: { type: string; status: string }[] };
}
