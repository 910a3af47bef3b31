// KEDA's CustomResourceDefinitions as KEDA ships them (its module's config/crd, copied by
// scripts/ensure-tools.sh into .tools/share/keda): the apiserver checks every ScaledObject and
// TriggerAuthentication mesh renders against KEDA's own schema. Whether an operator then acts on them
// depends on the cluster: the real nodes install KEDA itself (test/real-node/keda.ts).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { waitFor } from "../support/wait.js";
import type { ControlPlane } from "./control-plane.js";

const KEDA_MANIFESTS = fileURLToPath(new URL("../../.tools/share/keda", import.meta.url));

export interface KedaManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}

/** The objects of one of KEDA's manifest folders (e.g. "crd/bases", "manager"), files in name order. */
export function kedaManifests(folder: string): KedaManifest[] {
  const dir = join(KEDA_MANIFESTS, folder);
  let files: string[];
  try {
    files = readdirSync(dir).filter((file) => file.endsWith(".yaml") && file !== "kustomization.yaml");
  } catch {
    throw new Error(
      `${dir} is missing: run the suite through ./dev test (scripts/ensure-tools.sh builds KEDA)`,
    );
  }
  return files
    .sort()
    .flatMap((file) => parseAllDocuments(readFileSync(join(dir, file), "utf8")))
    .map((document) => document.toJS() as KedaManifest | null)
    .filter((object): object is KedaManifest => object !== null);
}

/** Creates KEDA's CRDs (one that exists is kept) and waits until each is established. */
export async function installKedaCrds(controlPlane: ControlPlane): Promise<void> {
  for (const crd of kedaManifests("crd/bases")) {
    const created = await controlPlane.api(
      "POST",
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
      crd,
    );
    if (created.status !== 201 && created.status !== 409)
      throw new Error(`creating CRD ${crd.metadata.name}: ${created.status} ${JSON.stringify(created.body)}`);
  }
  for (const crd of kedaManifests("crd/bases"))
    await waitFor(`CRD ${crd.metadata.name} established`, async () => {
      const found = await controlPlane.api<{ status?: { conditions?: { type: string; status: string }[] } }>(
        "GET",
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
      );
      return found.body.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
    });
}
