// KEDA as a platform team installs it: KEDA's own manifests (its module's config/: CRDs, namespace,
// ServiceAccount, RBAC, the operator and the metrics API server Deployments, their Services and the
// APIService v1beta1.external.metrics.k8s.io), copied by scripts/ensure-tools.sh into .tools/share/keda,
// applied with kubectl. Only what ties them to this machine changes: the image (built here from the
// trimmed binaries, never pulled) and the operator's webhook patching (no admission webhooks are
// installed). The operator makes its own certificates (--enable-cert-rotation, as in KEDA's manifests) and
// writes their CA into the APIService, which the apiserver's aggregation layer then trusts.
import type { ControlPlane } from "../control-plane/control-plane.js";
import { type KedaManifest, kedaManifests } from "../control-plane/keda-crds.js";
import { waitFor } from "../support/wait.js";
import { apiServiceAvailable, kubectlApply } from "./host-helpers.js";

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
  await kubectlApply(cluster, workDir, "keda", localised(image));
  await waitFor(
    `APIService ${EXTERNAL_METRICS_API_SERVICE} Available`,
    () => apiServiceAvailable(cluster, EXTERNAL_METRICS_API_SERVICE),
    { timeoutMs: 180_000, intervalMs: 1_000 },
  );
}
