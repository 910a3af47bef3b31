// KEDA as a platform team installs it: KEDA's own manifests (its module's config/: CRDs, namespace,
// ServiceAccount, RBAC, the operator and the metrics API server Deployments, their Services and the
// APIService v1beta1.external.metrics.k8s.io), copied by scripts/ensure-tools.sh into .tools/share/keda,
// applied with kubectl. Only what ties them to this machine changes: the image (built here from the
// trimmed binaries, never pulled) and the operator's webhook patching (no admission webhooks are
// installed). The operator makes its own certificates (--enable-cert-rotation, as in KEDA's manifests) and
// writes their CA into the APIService, which the apiserver's aggregation layer then trusts.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ControlPlane } from "../control-plane/control-plane.js";
import { type KedaManifest, kedaManifests } from "../control-plane/keda-crds.js";
import { waitFor } from "../support/wait.js";

export const KEDA_NAMESPACE = "keda";
export const EXTERNAL_METRICS_API_SERVICE = "v1beta1.external.metrics.k8s.io";

/** KEDA's manifest folders, in apply order. */
const FOLDERS = ["general", "crd/bases", "service_account", "rbac", "manager", "metrics-server"];

interface KedaDeployment {
  spec: {
    template: {
      spec: { containers: { name: string; image: string; imagePullPolicy?: string; args?: string[] }[] };
    };
  };
}

/** KEDA's manifests with this machine's image; the operator leaves the (absent) admission webhooks alone. */
function localised(image: string): KedaManifest[] {
  return FOLDERS.flatMap(kedaManifests).map((object) => {
    if (object.kind !== "Deployment") return object;
    for (const container of (object as unknown as KedaDeployment).spec.template.spec.containers) {
      container.image = image;
      container.imagePullPolicy = "Never";
      if (container.name === "keda-operator")
        container.args = [...(container.args ?? []), "--enable-webhook-patching=false"];
    }
    return object;
  });
}

/**
 * Installs KEDA and waits until the apiserver serves external metrics through it (the APIService
 * Available: the metrics API server is up, its certificate trusted).
 */
export async function installKeda(cluster: ControlPlane, image: string, workDir: string): Promise<void> {
  const file = join(workDir, "keda.json");
  writeFileSync(file, JSON.stringify({ apiVersion: "v1", kind: "List", items: localised(image) }));
  await promisify(execFile)("kubectl", [
    "--kubeconfig",
    cluster.kubeconfigPath,
    "apply",
    "--server-side",
    "-f",
    file,
  ]);
  await waitFor(
    `APIService ${EXTERNAL_METRICS_API_SERVICE} Available`,
    async () => {
      const service = await cluster.api<{
        status?: { conditions?: { type: string; status: string }[] };
      }>("GET", `/apis/apiregistration.k8s.io/v1/apiservices/${EXTERNAL_METRICS_API_SERVICE}`);
      return service.body.status?.conditions?.some((c) => c.type === "Available" && c.status === "True");
    },
    { timeoutMs: 180_000, intervalMs: 1_000 },
  );
}
