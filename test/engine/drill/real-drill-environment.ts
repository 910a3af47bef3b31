import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import type { ControlPlane } from "../../control-plane/control-plane.js";
import { installKedaCrds } from "../../control-plane/keda-crds.js";
import { registerMetricsApiStandIn } from "../../control-plane/metrics-api.js";
import { installPrometheusOperatorCrds } from "../../control-plane/stand-in-crds.js";
import { CLIENT_RANGE } from "../../real-node/host-network.js";
import type { MeshImageVariant } from "../../real-node/images.js";
import { PodLogCollector } from "../../real-node/pod-log-collector.js";
import { type RealCluster, startRealCluster } from "../../real-node/real-cluster.js";
import { createTestDatabase, dropTestDatabase } from "../../support/services.js";
import { waitFor } from "../../support/wait.js";
import { applyShape, engineStack, stepRecorder } from "../support/engine-stack.js";
import { type StackShape, setPath } from "../support/stack-shapes.js";

/**
 * Pod resources for stacks on the real nodes: they share this machine's 2 cores, so requests are small
 * enough that one node holds every pod (and a surge) while the other is drained; `memoryLimit` as given.
 */
export function realNodeResources(memoryLimit: string) {
  return { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: memoryLimit } };
}

/** What a drill runs on when its pods are real containers: real nodes, a database, a deployed stack. */
export interface RealDrillEnvironment {
  realCluster: RealCluster;
  cluster: ControlPlane;
  /** The database as this host reaches it (the pods reach it by its cluster DNS name). */
  databaseUrl: string;
  stack: Stack;
  /** Service `mesh`'s ClusterIP, reached from the client network namespace through kube-proxy. */
  serviceUrl: string;
  /** Every container's log, kept after its pod is gone. */
  logs: PodLogCollector;
  stop(): Promise<void>;
}

/**
 * Starts a drill's world on real nodes: the real cluster (kubelets, containerd, kube-proxy, CoreDNS), KEDA's
 * and the Prometheus Operator's CRDs, a fresh database, then the stack's first `pulumi up` through the real engine, whose secrets give the
 * pods Postgres and NATS by their cluster DNS names. Whatever started is stopped again if a later part fails.
 */
export async function startRealDrillEnvironment(options: {
  stackName: string;
  nodes: { name: string; zone: string }[];
  meshImage: string;
  /** Other builds of mesh's image (releases with another workflow version), loaded on the nodes too. */
  meshVariants?: MeshImageVariant[];
  shape: StackShape;
  apiToken: string;
  /** KEDA itself on the cluster (queue-depth ScaledObjects scale); otherwise only its CRDs. */
  keda?: boolean;
  /** metrics-server itself (CPU HPAs scale); otherwise a stand-in registration of the metrics API. */
  metricsServer?: boolean;
}): Promise<RealDrillEnvironment> {
  const started: Partial<RealDrillEnvironment> & { backendDir?: string } = {};
  const stop = async () => {
    started.logs?.stop();
    await started.stack?.destroy().catch((error) => console.error(`destroy: ${error}`));
    await started.realCluster?.stop();
    if (started.databaseUrl) await dropTestDatabase(started.databaseUrl);
    if (started.backendDir) rmSync(started.backendDir, { recursive: true, force: true });
  };
  try {
    const realCluster = await startRealCluster({
      nodes: options.nodes,
      meshImage: options.meshImage,
      meshVariants: options.meshVariants,
      keda: options.keda,
      metricsServer: options.metricsServer,
    });
    started.realCluster = realCluster;
    const { cluster } = realCluster;
    started.logs = new PodLogCollector(realCluster.nodes);
    if (!options.keda) await installKedaCrds(cluster); // KEDA's install applied them
    await installPrometheusOperatorCrds(cluster);
    if (!options.metricsServer) await registerMetricsApiStandIn(cluster);
    started.databaseUrl = await createTestDatabase(options.stackName.replace(/-/g, "_"));
    options.shape.secrets = {
      apiToken: options.apiToken,
      databaseUrl: realCluster.inClusterDatabaseUrl(started.databaseUrl),
      natsUrl: realCluster.inClusterNatsUrl,
    };
    // The nodes enforce NetworkPolicies: the API admits the test's clients by their range, as a load
    // balancer's subnets (networkPolicy.apiIngress.cidrs) on EKS.
    setPath(options.shape.values, "networkPolicy.apiIngress", { cidrs: [CLIENT_RANGE] });
    started.backendDir = mkdtempSync(join(tmpdir(), `mesh-engine-${options.stackName}-`));
    const stack = await engineStack({
      stackName: options.stackName,
      backendDir: started.backendDir,
      kubeconfigPath: cluster.kubeconfigPath,
    });
    started.stack = stack;
    await applyShape(stack, options.shape);
    const recorder = stepRecorder();
    const result = await stack.up({ onEvent: recorder.onEvent });
    assert.equal(result.summary.result, "succeeded", recorder.diagnostics.join("\n"));
    const namespace = `mesh-${options.stackName}`;
    const service = await cluster.api<{ spec: { clusterIP: string; ports: { port: number }[] } }>(
      "GET",
      `/api/v1/namespaces/${namespace}/services/mesh`,
    );
    const serviceUrl = await realCluster.exposeClusterIP(
      service.body.spec.clusterIP,
      service.body.spec.ports[0]?.port ?? 80,
    );
    await waitFor(
      "the Service to answer through kube-proxy",
      async () => (await fetch(`${serviceUrl}/healthz`, { signal: AbortSignal.timeout(2_000) })).ok,
      { timeoutMs: 60_000 },
    );
    return {
      realCluster,
      cluster,
      databaseUrl: started.databaseUrl,
      stack,
      serviceUrl,
      logs: started.logs,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
