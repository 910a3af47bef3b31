import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { type ControlPlane, startControlPlane } from "../../control-plane/control-plane.js";
import { installKedaCrds } from "../../control-plane/keda-crds.js";
import { registerMetricsApiStandIn } from "../../control-plane/metrics-api.js";
import {
  type ProcessNode,
  type ProcessNodeOptions,
  startProcessNode,
} from "../../process-node/process-node.js";
import { type ServiceProxy, startServiceProxy } from "../../process-node/service-proxy.js";
import { createTestDatabase, dropTestDatabase, NATS_URL } from "../../support/services.js";
import { waitFor } from "../../support/wait.js";
import { applyShape, engineStack, stepRecorder } from "../support/engine-stack.js";
import type { StackShape } from "../support/stack-shapes.js";

/** What a drill runs on: a control plane, process nodes, a database, a deployed stack and its Service. */
export interface DrillEnvironment {
  cluster: ControlPlane;
  nodes: ProcessNode[];
  databaseUrl: string;
  stack: Stack;
  /** kube-proxy for Service `mesh`. */
  proxy: ServiceProxy;
  /** Destroys the stack and stops everything, whatever was started. */
  stop(): Promise<void>;
}

export interface DrillEnvironmentOptions {
  stackName: string;
  nodes: Pick<ProcessNodeOptions, "name" | "subnet" | "zone">[];
  images: ProcessNodeOptions["image"];
  /** The stack's config; its secrets are set to the drill's database, the machine's NATS and `apiToken`. */
  shape: StackShape;
  apiToken: string;
}

/**
 * Starts a drill's world: the control plane (with KEDA's CRDs) and its process nodes, a fresh database,
 * then the stack's first `pulumi up` through the real engine, and the Service's proxy once every main pod
 * is an endpoint. Whatever started is stopped again if a later part fails.
 */
export async function startDrillEnvironment(options: DrillEnvironmentOptions): Promise<DrillEnvironment> {
  const started: Partial<DrillEnvironment> & { nodes: ProcessNode[]; backendDir?: string } = { nodes: [] };
  const stop = async () => {
    await started.proxy?.stop();
    await started.stack?.destroy().catch((error) => console.error(`destroy: ${error}`));
    for (const node of started.nodes) await node.stop();
    await started.cluster?.stop();
    if (started.databaseUrl) await dropTestDatabase(started.databaseUrl);
    if (started.backendDir) rmSync(started.backendDir, { recursive: true, force: true });
  };
  try {
    const cluster = await startControlPlane({ fakeNode: false });
    started.cluster = cluster;
    await installKedaCrds(cluster);
    await registerMetricsApiStandIn(cluster);
    for (const node of options.nodes)
      started.nodes.push(
        await startProcessNode({
          ...node,
          kubeconfigPath: cluster.kubeconfigPath,
          image: options.images,
          logDir: join(cluster.dir, "pods", node.name),
          pidFile: join(cluster.dir, "pids"),
        }),
      );
    started.databaseUrl = await createTestDatabase(options.stackName.replace(/-/g, "_"));
    options.shape.secrets = {
      apiToken: options.apiToken,
      databaseUrl: started.databaseUrl,
      natsUrl: NATS_URL,
    };
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
    const proxy = await startServiceProxy({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: `mesh-${options.stackName}`,
      service: "mesh",
    });
    started.proxy = proxy;
    await waitFor("the Service to have two endpoints", async () => proxy.endpoints().length === 2, {
      timeoutMs: 60_000,
    });
    return { cluster, nodes: started.nodes, databaseUrl: started.databaseUrl, stack, proxy, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
