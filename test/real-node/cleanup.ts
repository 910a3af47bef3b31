// Removes everything a real-node run creates, whether it ended cleanly or was killed: run at the start
// of every run (so a killed run's leftovers go) and at its end. The control plane's orphan reaper is the
// model; here the host state is wider: processes, the pods' containers and cgroups, mounts, network
// namespaces, bridges, routes, iptables chains, ipsets, CNI's result cache, container log links.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readlinkSync, rmdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { isAlive, readOptional } from "../support/orphan-reaper.js";
import { listDirectory, quietly } from "./host-helpers.js";
import { removeHostNetwork } from "./host-network.js";
import { removeNetworkPolicyIpsets } from "./network-policy.js";
import { cgroupHierarchies } from "./real-node.js";

/** One real-node cluster per machine at a time: its folder is fixed, so a killed run's is always found. */
export const REAL_NODE_DIR = "/tmp/mesh-real-node";

export function assertNoOtherRun(): void {
  const owner = Number(readOptional(join(REAL_NODE_DIR, "owner")));
  if (owner && owner !== process.pid && isAlive(owner))
    throw new Error(
      `real node: another run (pid ${owner}) owns ${REAL_NODE_DIR}; one real-node cluster per machine`,
    );
}

export function removeRealNodeLeftovers(): void {
  // Processes: by the PIDs the run recorded (checked against the binary's name), then by the folder in
  // their command lines (the containerd shims name their containerd's socket), then whatever still runs
  // in the nodes' cgroups (a container whose shim is gone).
  for (const line of readOptional(join(REAL_NODE_DIR, "pids")).split("\n").filter(Boolean)) {
    const [pid, name] = line.split(" ");
    if (name && Number(pid) !== process.pid && readOptional(`/proc/${pid}/cmdline`).includes(name))
      quietly(() => process.kill(Number(pid), "SIGKILL"));
  }
  quietly(() => execFileSync("pkill", ["-KILL", "-f", REAL_NODE_DIR], { stdio: "ignore" }));
  const cgroups = cgroupHierarchies().flatMap((hierarchy) =>
    readdirSync(hierarchy)
      .filter((name) => name.startsWith("mesh-rn-"))
      .map((name) => join(hierarchy, name)),
  );
  for (const cgroup of cgroups)
    for (const procs of findFiles(cgroup, "cgroup.procs"))
      for (const pid of readOptional(procs).split("\n").filter(Boolean))
        quietly(() => process.kill(Number(pid), "SIGKILL"));
  execFileSync("sleep", ["0.5"]);
  for (const cgroup of cgroups) removeCgroupTree(cgroup);

  // Mounts under the folder (containers' root filesystems, the kubelet's volumes), deepest first.
  const mounts = readOptional("/proc/mounts")
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((mountPoint) => mountPoint.startsWith(`${REAL_NODE_DIR}/`))
    .sort()
    .reverse();
  for (const mountPoint of mounts)
    quietly(() => execFileSync("umount", ["-l", mountPoint], { stdio: "ignore" }));

  removeHostNetwork();
  removeNetworkPolicyIpsets();

  // The kubelet links each container's log into /var/log/containers; containerd's CNI plugins cache each
  // pod's result under /var/lib/cni/results (fixed folders, not ours).
  for (const link of listDirectory("/var/log/containers")) {
    const path = join("/var/log/containers", link);
    quietly(() => {
      if (readlinkSync(path).startsWith(`${REAL_NODE_DIR}/`)) rmSync(path, { force: true });
    });
  }
  for (const result of listDirectory("/var/lib/cni/results")) {
    const id = /^mesh-rn-br\d+-(.+)-eth0$/.exec(result)?.[1];
    if (!id) continue;
    rmSync(join("/var/lib/cni/results", result), { force: true });
    rmSync(join("/var/lib/cni/results", `cni-loopback-${id}-lo`), { force: true });
  }
  rmSync(REAL_NODE_DIR, { recursive: true, force: true });
}

function findFiles(dir: string, name: string): string[] {
  const found: string[] = [];
  for (const entry of listDirectory(dir)) {
    const path = join(dir, entry);
    if (entry === name) found.push(path);
    else if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) found.push(...findFiles(path, name));
  }
  return found;
}

/** cgroup directories are removed with rmdir, children first (their files cannot be deleted). */
function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of listDirectory(dir)) {
    const path = join(dir, entry);
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) removeCgroupTree(path);
  }
  quietly(() => rmdirSync(dir));
}
