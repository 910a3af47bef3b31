// Which image an update deploys. CI's deploy names it (mesh:image, by digest) for that one `up`, and the
// committed stack files do not hold it: so any other `up` — a person's `pulumi config set` toggle, a
// preview in a pull request — must run what the stack already runs, never a placeholder or an older
// build. The stack's own previous outputs (the release ledger, infra/workflow-releases.ts) say what that
// is.

import { WORKFLOW_CODE_VERSION } from "../app/version.js";
import { type MeshConfig, MeshConfigError, type StackConfig } from "./config.js";
import type { ReleaseLedger } from "./workflow-releases.js";

export interface DeployedImage {
  /** The config of this update, with the image and workflow version it deploys. */
  config: MeshConfig;
  /** What `pulumi preview` should say about where the image came from. */
  notes: string[];
}

/**
 * The image and workflow version of this update: mesh:image when set (its version: workflow.version, or
 * this program's), else the previous update's current release, kept as it is. Throws a MeshConfigError
 * naming mesh:image when there is nothing to deploy or the two settings contradict the kept image.
 */
export function resolveDeployedImage(
  config: StackConfig,
  previous: ReleaseLedger | undefined,
): DeployedImage {
  const withRelease = (image: string, version: string): MeshConfig => ({
    ...config,
    image,
    workflow: { ...config.workflow, version },
  });
  if (config.image !== undefined)
    return { config: withRelease(config.image, config.workflow.version ?? WORKFLOW_CODE_VERSION), notes: [] };

  if (!previous)
    throw new MeshConfigError([
      "mesh:image: is required on this stack's first update (there is no deployed image to keep): CI's deploy sets it by digest, or pulumi config set image <repo>:<tag>",
    ]);
  const kept = previous.current;
  const version = config.workflow.version ?? kept.version;
  if (version !== kept.version)
    throw new MeshConfigError([
      `mesh:workflow.version: is ${version}, but mesh:image is unset, so this update keeps the deployed image ${kept.image}, which carries ${kept.version}: set mesh:image to the image of ${version}, or remove workflow.version`,
    ]);
  return {
    config: withRelease(kept.image, kept.version),
    notes: [
      `mesh:image is unset: keeping the deployed image ${kept.image} (workflow version ${kept.version})`,
    ],
  };
}
