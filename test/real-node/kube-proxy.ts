// kube-proxy (iptables mode), one for the host: the nodes share its network stack, so one set of
// KUBE-* rules routes every ClusterIP for all of them (a second kube-proxy would write the same chains).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ControlPlane } from "../control-plane/control-plane.js";
import { POD_RANGE } from "./host-network.js";
import { type ManagedProcess, startProcess } from "./processes.js";

export function startKubeProxy(options: {
  cluster: ControlPlane;
  nodeName: string;
  nodeIP: string;
  workDir: string;
}): ManagedProcess {
  const config = join(options.workDir, "kube-proxy.yaml");
  writeFileSync(
    config,
    JSON.stringify({
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      mode: "iptables",
      clusterCIDR: POD_RANGE,
      hostnameOverride: options.nodeName,
      bindAddress: options.nodeIP,
      // Fixed ports, on loopback: one kube-proxy per machine (cleanup.ts ends a killed run's).
      healthzBindAddress: "127.0.0.1:10256",
      metricsBindAddress: "127.0.0.1:10249",
      clientConnection: { kubeconfig: options.cluster.kubeconfigPath },
      // Leave the host's conntrack sysctls alone.
      conntrack: { maxPerCore: 0 },
      iptables: { syncPeriod: "5s", minSyncPeriod: "0s" },
    }),
  );
  return startProcess({
    name: "kube-proxy",
    command: "kube-proxy",
    args: ["--config", config, "--v=1"],
    logPath: join(options.workDir, "kube-proxy.log"),
    pidFile: join(options.workDir, "pids"),
  });
}
