// NetworkPolicy enforcement on the real nodes: the network-policy controller of
// sigs.k8s.io/kube-network-policies (tools/kube-network-policies), one per node. Each diverts the first
// packet of every new connection to or from a pod of its node that a NetworkPolicy selects to an
// NFQUEUE, judges it against the policies it watches, and accepts or drops it; later packets of an
// accepted connection pass on conntrack. The nodes share this host's kernel, so each controller owns an
// nftables table and a queue of its own (on separate machines, one name would do).
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { ControlPlane } from "../control-plane/control-plane.js";
import { waitFor } from "../support/wait.js";
import { quietly } from "./host-helpers.js";
import { type ManagedProcess, startProcess } from "./processes.js";

/** Every table a controller here owns starts with it, so a killed run's are found by name. */
const TABLE_PREFIX = "mesh-rn-netpol-";
/** Queues 100, 101, … (one per node); nothing else on this machine uses NFQUEUE. */
const FIRST_QUEUE = 100;

const nft = (...args: string[]) =>
  execFileSync("nft", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

export function networkPolicyTable(nodeName: string): string {
  return `${TABLE_PREFIX}${nodeName}`;
}

/** Starts node `nodeName`'s controller and waits until its table is in place (it has synced the policies). */
export async function startNetworkPolicyController(options: {
  cluster: ControlPlane;
  nodeName: string;
  nodeIndex: number;
  workDir: string;
}): Promise<ManagedProcess> {
  const table = networkPolicyTable(options.nodeName);
  const controller = startProcess({
    name: `kube-network-policies ${options.nodeName}`,
    command: "kube-network-policies",
    args: [
      "--kubeconfig",
      options.cluster.kubeconfigPath,
      "--hostname-override",
      options.nodeName,
      "--nftables-table",
      table,
      "--nfqueue-id",
      String(FIRST_QUEUE + options.nodeIndex),
      "--v=2",
    ],
    logPath: join(options.workDir, `kube-network-policies-${options.nodeName}.log`),
    pidFile: join(options.workDir, "pids"),
  });
  try {
    await waitFor(
      `${options.nodeName}'s network-policy controller to install table inet ${table}`,
      async () => {
        if (controller.child.exitCode !== null)
          throw new Error(`kube-network-policies exited:\n${controller.logTail()}`);
        return nftTables().includes(table) ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  } catch (error) {
    await controller.stop(2_000);
    throw error;
  }
  return controller;
}

/** The controllers remove their tables on SIGTERM; a killed run's are removed here, by name. */
export function removeNetworkPolicyTables(): void {
  for (const table of nftTables().filter((name) => name.startsWith(TABLE_PREFIX)))
    quietly(() => nft("delete", "table", "inet", table));
}

/** The names of the host's inet tables (none when nft is missing: nothing of ours can be there then). */
function nftTables(): string[] {
  let listing = "";
  quietly(() => {
    listing = nft("list", "tables", "inet");
  });
  return listing.split("\n").flatMap((line) => {
    const name = /^table inet (\S+)/.exec(line.trim())?.[1];
    return name ? [name] : [];
  });
}
