// NetworkPolicy enforcement on the real nodes: kube-router's network-policy controller
// (tools/kube-router-netpol), as k3s runs it. For every pod of its node that a NetworkPolicy selects it
// writes a firewall chain (iptables filter table: FORWARD for pod-to-pod traffic, bridged too, INPUT and
// OUTPUT for traffic between pods and the node) and ipsets of the peers each policy admits; whatever no
// policy admits is rejected. kube-proxy's rules sit beside its chains, as on any node that runs both.
//
// One controller, for the first node. The nodes share this host's kernel and its filter table, and
// kube-router's chain names are fixed: a second controller would rewrite the first one's chains. So on a
// two-node cluster the second node's pods are not policed (README.md).
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { ControlPlane } from "../control-plane/control-plane.js";
import { waitFor } from "../support/wait.js";
import { quietly } from "./host-helpers.js";
import { iptablesRules, SERVICE_CLUSTER_IP_RANGE } from "./host-network.js";
import { type ManagedProcess, startProcess } from "./processes.js";

/** The ipsets kube-router's controller creates: the peers (KUBE-SRC-*) and targets (KUBE-DST-*) of each policy. */
const IPSET_PREFIXES = ["KUBE-SRC-", "KUBE-DST-"];

/** Starts the controller for node `nodeName` and waits until its chains are hooked into FORWARD. */
export async function startNetworkPolicyController(options: {
  cluster: ControlPlane;
  nodeName: string;
  workDir: string;
}): Promise<ManagedProcess> {
  const controller = startProcess({
    name: `kube-router-netpol ${options.nodeName}`,
    command: "kube-router-netpol",
    args: [
      "--kubeconfig",
      options.cluster.kubeconfigPath,
      "--hostname-override",
      options.nodeName,
      "--service-cluster-ip-range",
      SERVICE_CLUSTER_IP_RANGE,
      "--v=1",
    ],
    logPath: join(options.workDir, `kube-router-netpol-${options.nodeName}.log`),
    pidFile: join(options.workDir, "pids"),
  });
  try {
    await waitFor(
      `${options.nodeName}'s network-policy controller to hook its chains into FORWARD`,
      () => {
        if (controller.child.exitCode !== null) throw new Error("kube-router-netpol exited");
        return iptablesRules("iptables", "filter").some((rule) =>
          /^-A FORWARD .*-j KUBE-ROUTER-FORWARD/.test(rule),
        );
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  } catch (error) {
    await controller.stop(2_000);
    throw new Error(`${(error as Error).message}\n${controller.name}'s log:\n${controller.logTail(30)}`);
  }
  return controller;
}

/**
 * The controller removes its chains and ipsets when stopped; a killed run's chains go with the other
 * KUBE-* chains (host-network.ts), its ipsets here, once nothing refers to them.
 */
export function removeNetworkPolicyIpsets(): void {
  let names = "";
  quietly(() => {
    names = execFileSync("ipset", ["list", "-n"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  });
  for (const name of names.split("\n"))
    if (IPSET_PREFIXES.some((prefix) => name.startsWith(prefix)))
      quietly(() => execFileSync("ipset", ["destroy", name], { stdio: "ignore" }));
}
