// Small helpers the real nodes' set-up and clean-up share.
import { readdirSync } from "node:fs";
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
