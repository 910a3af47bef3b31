// metrics-server as a platform team installs it: its release manifest (the module's
// manifests/overlays/release, built with kubectl's kustomize, as `components.yaml` is published), copied by
// scripts/ensure-tools.sh into .tools/share/metrics-server and applied with kubectl. Only the image changes
// (built here from tools/metrics-server, never pulled). It reads each kubelet's /metrics/resource on the
// node's InternalIP and kubelet port, verifying the kubelet's serving certificate against the cluster CA
// and authenticating with its ServiceAccount token (no --kubelet-insecure-tls), and serves
// metrics.k8s.io through the aggregation layer, where the HPA controller reads pod CPU.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import type { ControlPlane } from "../control-plane/control-plane.js";
import { METRICS_API_SERVICE } from "../control-plane/metrics-api.js";
import { waitFor } from "../support/wait.js";
import { apiServiceAvailable, kubectlApply } from "./host-helpers.js";

const RELEASE_OVERLAY = fileURLToPath(
  new URL("../../.tools/share/metrics-server/overlays/release", import.meta.url),
);

interface Manifest {
  kind: string;
  metadata: { name: string };
  spec?: { template?: { spec: { containers: { image: string; imagePullPolicy?: string }[] } } };
}

/** The release manifest with this machine's image. */
async function releaseManifest(image: string): Promise<Manifest[]> {
  const { stdout } = await promisify(execFile)("kubectl", ["kustomize", RELEASE_OVERLAY], {
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error) => {
    throw new Error(
      `kubectl kustomize ${RELEASE_OVERLAY} failed (run the suite through ./dev test: scripts/ensure-tools.sh builds metrics-server): ${(error as Error).message}`,
    );
  });
  return parseAllDocuments(stdout)
    .map((document) => document.toJS() as Manifest | null)
    .filter((object): object is Manifest => object !== null)
    .map((object) => {
      for (const container of object.kind === "Deployment"
        ? (object.spec?.template?.spec.containers ?? [])
        : []) {
        container.image = image;
        container.imagePullPolicy = "Never";
      }
      return object;
    });
}

/**
 * Installs metrics-server and waits until the apiserver serves pod metrics through it: the APIService
 * Available, and a first scrape of every node in (`/apis/metrics.k8s.io/v1beta1/nodes` lists them all).
 */
export async function installMetricsServer(
  cluster: ControlPlane,
  image: string,
  workDir: string,
  nodeNames: string[],
): Promise<void> {
  await kubectlApply(cluster, workDir, "metrics-server", await releaseManifest(image));
  await waitFor(
    `APIService ${METRICS_API_SERVICE} Available and every node's metrics in`,
    async () => {
      if (!(await apiServiceAvailable(cluster, METRICS_API_SERVICE))) return false;
      const nodes = await cluster.api<{ items?: { metadata: { name: string } }[] }>(
        "GET",
        "/apis/metrics.k8s.io/v1beta1/nodes",
      );
      const reported = new Set((nodes.body.items ?? []).map((node) => node.metadata.name));
      return nodeNames.every((name) => reported.has(name));
    },
    { timeoutMs: 180_000, intervalMs: 1_000 },
  );
}
