// The real nodes' network on this host, and its removal. Every name here starts with `mesh-rn` so that a
// killed run's leftovers are found by name.
//
// Safety: the pod range (10.244.0.0/16), the service range (10.96.0.0/12) and the clients' range
// (10.243.0.0/16) end on this machine: `unreachable` routes cover them whole, and the more specific
// routes to the test's own bridges and veth win. Pods get routes to those ranges only (CNI, no default
// route); forwarding is switched on per interface, on ours only; CNI adds no NAT. So no packet for these
// ranges ever leaves the machine, and pods cannot address anything off it.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { quietly } from "./host-helpers.js";

export const POD_RANGE = "10.244.0.0/16";
export const SERVICE_RANGE = "10.96.0.0/12";
export const CLIENT_RANGE = "10.243.0.0/16";
/** The control plane's --service-cluster-ip-range, inside SERVICE_RANGE. */
export const SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16";
export const CLUSTER_DNS_IP = "10.96.0.10";

/** The test's client: a network namespace routed (not bridged) to the host, as a pod on another node. */
export const CLIENT_NETNS = "mesh-rn-client";
export const CLIENT_ADDRESS = "10.243.0.2";
const CLIENT_HOST_SIDE = "mesh-rn-c0";
const CLIENT_PEER = "mesh-rn-c1";
const CLIENT_GATEWAY = "10.243.0.1";

export interface NodeNetwork {
  /** The node's bridge; it holds the node's address (the kubelet's and the CNI gateway's). */
  bridge: string;
  /** 10.244.<index>.1 */
  nodeIP: string;
  /** 10.244.<index>.0/24 */
  podCIDR: string;
}

export function nodeNetwork(index: number): NodeNetwork {
  return { bridge: `mesh-rn-br${index}`, nodeIP: `10.244.${index}.1`, podCIDR: `10.244.${index}.0/24` };
}

const ip = (...args: string[]) =>
  execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });

/** The CNI configuration of one node's containerd: its bridge, its podCIDR, routes to our ranges only. */
export function cniConfig(network: NodeNetwork, ipamDir: string): string {
  return JSON.stringify({
    cniVersion: "1.0.0",
    name: network.bridge,
    plugins: [
      {
        type: "bridge",
        bridge: network.bridge,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          dataDir: ipamDir,
          ranges: [[{ subnet: network.podCIDR, gateway: network.nodeIP }]],
          routes: [{ dst: SERVICE_RANGE }, { dst: CLIENT_RANGE }, { dst: POD_RANGE }],
        },
      },
      { type: "loopback" },
    ],
  });
}

/** The ranges' unreachable routes, one bridge per node (up before the kubelet starts), the client netns. */
export function setUpHostNetwork(nodes: NodeNetwork[]): void {
  // A pod's traffic to a ClusterIP whose endpoint sits on the same bridge must pass iptables (kube-proxy's
  // DNAT and its reverse): kube-proxy needs br_netfilter's bridge-nf-call-iptables, as on any node.
  if (readFileSync("/proc/sys/net/bridge/bridge-nf-call-iptables", "utf8").trim() !== "1")
    throw new Error("real node: net.bridge.bridge-nf-call-iptables must be 1 (modprobe br_netfilter)");
  for (const range of [POD_RANGE, SERVICE_RANGE, CLIENT_RANGE]) ip("route", "add", "unreachable", range);
  for (const node of nodes) {
    ip("link", "add", node.bridge, "type", "bridge");
    ip("addr", "add", `${node.nodeIP}/24`, "dev", node.bridge);
    ip("link", "set", node.bridge, "up");
    forwardOn(node.bridge);
  }
  ip("netns", "add", CLIENT_NETNS);
  ip("link", "add", CLIENT_HOST_SIDE, "type", "veth", "peer", "name", CLIENT_PEER);
  ip("link", "set", CLIENT_PEER, "netns", CLIENT_NETNS);
  ip("addr", "add", `${CLIENT_GATEWAY}/30`, "dev", CLIENT_HOST_SIDE);
  ip("link", "set", CLIENT_HOST_SIDE, "up");
  forwardOn(CLIENT_HOST_SIDE);
  const inClient = (...args: string[]) => ip("netns", "exec", CLIENT_NETNS, "ip", ...args);
  inClient("addr", "add", `${CLIENT_ADDRESS}/30`, "dev", CLIENT_PEER);
  inClient("link", "set", CLIENT_PEER, "up");
  inClient("link", "set", "lo", "up");
  for (const range of [SERVICE_RANGE, POD_RANGE]) inClient("route", "add", range, "via", CLIENT_GATEWAY);
}

/**
 * Forwarding on this interface only (the host's global ip_forward is left as it is): packets that come
 * in here may be routed on, to our other interfaces; the sysctl goes with the interface.
 */
function forwardOn(device: string): void {
  writeFileSync(`/proc/sys/net/ipv4/conf/${device}/forwarding`, "1");
}

/** Removes what setUpHostNetwork and the nodes' CNI and kube-proxy added; safe to run when nothing is there. */
export function removeHostNetwork(): void {
  // The pods' network namespaces a killed run left (containerd names them cni-<uuid>): those holding an
  // address of the pod range, which only our nodes hand out.
  for (const line of ip("netns", "list").split("\n")) {
    const name = line.split(" ")[0] ?? "";
    if (name === CLIENT_NETNS || (name.startsWith("cni-") && holdsPodAddress(name)))
      quietly(() => ip("netns", "delete", name));
  }
  quietly(() => ip("link", "delete", CLIENT_HOST_SIDE));
  for (const line of ip("-o", "link", "show", "type", "bridge").split("\n")) {
    const name = line.split(": ")[1]?.split("@")[0];
    if (name?.startsWith("mesh-rn-")) quietly(() => ip("link", "delete", name));
  }
  removeKubeIptables();
  for (const range of [POD_RANGE, SERVICE_RANGE, CLIENT_RANGE])
    quietly(() => ip("route", "delete", "unreachable", range));
}

function holdsPodAddress(netns: string): boolean {
  try {
    return ip("netns", "exec", netns, "ip", "-o", "-4", "addr", "show").includes(" 10.244.");
  } catch {
    return false;
  }
}

/**
 * The kubelet (its canary and firewall chains) and kube-proxy (services) add KUBE-* chains to the host's
 * tables: the jumps into them go first, then the chains, in IPv4 and IPv6.
 */
export function removeKubeIptables(): void {
  for (const command of ["iptables", "ip6tables"] as const) {
    for (const table of ["filter", "nat", "mangle", "raw"]) {
      const rules = () => iptablesRules(command, table);
      for (const rule of rules().filter(
        (line) => /^-A [A-Z]+ .*-j KUBE-/.test(line) && !line.startsWith("-A KUBE-"),
      ))
        quietly(() =>
          execFileSync("sh", ["-c", `${command} -t ${table} ${rule.replace(/^-A/, "-D")}`], {
            stdio: "ignore",
          }),
        );
      const chains = rules().flatMap((line) =>
        line.startsWith("-N KUBE-") ? [line.split(" ")[1] ?? ""] : [],
      );
      for (const chain of chains)
        quietly(() => execFileSync(command, ["-t", table, "-F", chain], { stdio: "ignore" }));
      for (const chain of chains)
        quietly(() => execFileSync(command, ["-t", table, "-X", chain], { stdio: "ignore" }));
    }
  }
}

/** `<command> -t <table> -S`, a rule per line; none when the command or the table is missing. */
export function iptablesRules(command: "iptables" | "ip6tables", table: string): string[] {
  try {
    return execFileSync(command, ["-t", table, "-S"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).split("\n");
  } catch {
    return [];
  }
}
