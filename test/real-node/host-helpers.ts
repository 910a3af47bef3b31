// Small helpers the real nodes' set-up and clean-up share.
import { execFile } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ControlPlane } from "../control-plane/control-plane.js";

/** Runs a clean-up step whose failure means there was nothing to remove. */
export function quietly(action: () => unknown): void {
  try {
    action();
  } catch {}
}

/** A folder's entries, or none when it does not exist (or went away). */
export function listDirectory(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** POSTs an object; one that already exists is kept (409), any other refusal is thrown with `what`. */
export async function createObject(
  cluster: ControlPlane,
  what: string,
  path: string,
  body: unknown,
): Promise<void> {
  const response = await cluster.api("POST", path, body);
  if (response.status !== 201 && response.status !== 409)
    throw new Error(`${what}: POST ${path}: ${response.status} ${JSON.stringify(response.body)}`);
}

/** Applies objects as a platform team does, `kubectl apply --server-side`, from `<workDir>/<name>.json`. */
export async function kubectlApply(
  cluster: ControlPlane,
  workDir: string,
  name: string,
  items: unknown[],
): Promise<void> {
  const file = join(workDir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ apiVersion: "v1", kind: "List", items }));
  await promisify(execFile)("kubectl", [
    "--kubeconfig",
    cluster.kubeconfigPath,
    "apply",
    "--server-side",
    "-f",
    file,
  ]);
}

/** Whether an APIService is Available: its server answers and the aggregation layer trusts it. */
export async function apiServiceAvailable(cluster: ControlPlane, name: string): Promise<boolean> {
  const service = await cluster.api<{ status?: { conditions?: { type: string; status: string }[] } }>(
    "GET",
    `/apis/apiregistration.k8s.io/v1/apiservices/${name}`,
  );
  return service.body.status?.conditions?.some((c) => c.type === "Available" && c.status === "True") ?? false;
}
