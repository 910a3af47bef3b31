// Which workflow versions the stack runs, as plain data. DBOS dequeues a run only on an executor of the
// run's own application version, and a run that has completed steps must finish on the code that took
// them (app/durability/workflow-versions.ts). So when `pulumi up` deploys an image of a new workflow
// version, the previous release's image keeps workers of its own — a draining version — until an
// operator retires it (workflow.retired), which the release's migration Job refuses while the version
// still has runs. The stack's own previous outputs (RELEASES_OUTPUT) are the memory of what ran before.

import type { MeshConfig } from "./config.js";

/** One image and the workflow version its code carries (app/version.ts of the tree it was built from). */
export interface WorkflowRelease {
  version: string;
  image: string;
}

/** The stack output the next `pulumi up` reads back: what runs now, and the versions still draining. */
export interface ReleaseLedger {
  current: WorkflowRelease;
  /** Oldest first; never the current version. */
  draining: WorkflowRelease[];
}

export const RELEASES_OUTPUT = "workflowReleases";

export interface PlannedReleases {
  ledger: ReleaseLedger;
  /** Versions this update stops serving: the migration Job checks they have no runs left. */
  retiring: string[];
  /** For `pulumi preview` to show (the program logs them). */
  warnings: string[];
}

/**
 * The releases of this update, from the previous update's ledger (undefined on a stack's first update,
 * or one last updated by a program without workflow versions), the release being deployed and the
 * versions the operator retires.
 */
export function planReleases(
  previous: ReleaseLedger | undefined,
  current: WorkflowRelease,
  retired: readonly string[],
): PlannedReleases {
  const candidates = [...(previous?.draining ?? [])];
  if (previous) candidates.push(previous.current);
  // Newest image per version: two releases of one workflow version run the same runs.
  const byVersion = new Map<string, WorkflowRelease>();
  for (const release of candidates) {
    byVersion.delete(release.version);
    byVersion.set(release.version, release);
  }
  // Rolling back to a draining version makes it current again: its runs are served by the current tier.
  byVersion.delete(current.version);

  const warnings: string[] = [];
  const retiring: string[] = [];
  for (const version of retired) {
    if (version === current.version)
      warnings.push(`mesh:workflow.retired lists ${version}, the version this update deploys: ignored`);
    else if (byVersion.delete(version)) retiring.push(version);
  }
  const draining = [...byVersion.values()];
  for (const release of draining)
    warnings.push(
      `workflow version ${release.version} is draining on ${release.image}: its workers stay until its runs are done; retire it with pulumi config set --path 'workflow.retired[0]' ${release.version} (docs/operations.md, 'Upgrading the workflow version')`,
    );
  return { ledger: { current, draining }, retiring, warnings };
}

/** planReleases for a stack's config: the image it deploys as `workflow.version`, and `workflow.retired`. */
export function planConfiguredReleases(
  config: Pick<MeshConfig, "image" | "workflow">,
  previous: ReleaseLedger | undefined,
): PlannedReleases {
  return planReleases(
    previous,
    { version: config.workflow.version, image: config.image },
    config.workflow.retired,
  );
}

/** Reads a ledger back from a stack output, refusing anything that is not one (a hand-edited state). */
export function parseReleaseLedger(value: unknown): ReleaseLedger | undefined {
  if (value === undefined || value === null) return undefined;
  const release = (candidate: unknown): WorkflowRelease | undefined => {
    const { version, image } = (candidate ?? {}) as Record<string, unknown>;
    return typeof version === "string" && typeof image === "string" ? { version, image } : undefined;
  };
  const { current, draining } = value as Record<string, unknown>;
  const currentRelease = release(current);
  const drainingReleases = Array.isArray(draining) ? draining.map(release) : undefined;
  if (!currentRelease || !drainingReleases || drainingReleases.some((entry) => entry === undefined))
    throw new Error(
      `the stack output ${RELEASES_OUTPUT} is not a workflow release ledger ({ current: { version, image }, draining: [...] }): ${JSON.stringify(value)}`,
    );
  return { current: currentRelease, draining: drainingReleases as WorkflowRelease[] };
}

/** The worker Deployment of a draining version (a DNS-1123 name: the version is validated as one). */
export function drainingDeploymentName(version: string): string {
  return `mesh-worker-${version}`;
}
