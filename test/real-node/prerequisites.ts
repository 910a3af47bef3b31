// What the real nodes need from this machine, checked before anything is created: root, the container
// runtime and CNI plugins from Debian (installed by scripts/ensure-node-packages.sh, which ./dev test runs),
// and the node binaries scripts/ensure-tools.sh builds. Each missing one is named.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

const COMMANDS = [
  "containerd",
  "ctr",
  "runc",
  "buildah",
  "debootstrap",
  "socat",
  "ipset",
  "iptables",
  "kubelet",
  "kube-proxy",
  "kubectl",
  "coredns",
  "kube-router-netpol",
  "go",
];

export function assertRealNodePrerequisites(): void {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("root (network namespaces, cgroups, mounts)");
  for (const command of COMMANDS) {
    try {
      execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    } catch {
      missing.push(command);
    }
  }
  for (const plugin of ["bridge", "host-local", "loopback"])
    if (!existsSync(`/usr/lib/cni/${plugin}`))
      missing.push(`CNI plugin /usr/lib/cni/${plugin} (containernetworking-plugins)`);
  if (missing.length > 0)
    throw new Error(
      `real node: missing ${missing.join(", ")}; ./dev test installs and builds them (scripts/ensure-node-packages.sh, scripts/ensure-tools.sh)`,
    );
}
