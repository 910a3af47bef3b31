import * as pulumi from "@pulumi/pulumi";
import { MeshConfigError, parseMeshConfig, readStackConfig } from "./config.js";
import { resolveDeployedImage } from "./deployed-image.js";
import { PreflightError, preflight } from "./preflight/preflight.js";
import { readPreviousUpdate } from "./previous-update.js";
import { createMeshStack } from "./stack.js";
import { planTopology } from "./topology.js";
import { planConfiguredReleases } from "./workflow-releases.js";

/**
 * The mesh Pulumi program as one function: validate the whole stack config first (no resource is
 * registered when it is invalid), read what the previous update deployed (its image, the workflow
 * versions still draining, each tier's replicas), check that the account and the cluster have what the stack needs (the
 * preflight: still nothing registered), then build the stack and return its outputs. `infra/index.ts`
 * (the CLI's entry) exports what it returns; the Automation API runs it as an inline program.
 */
export async function meshProgram() {
  const stackConfig = await refusingInvalid(async () => parseMeshConfig(readStackConfig()));
  const previous = await readPreviousUpdate();
  const { config, notes } = await refusingInvalid(async () =>
    resolveDeployedImage(stackConfig, previous.releases),
  );
  const releases = planConfiguredReleases(config, previous.releases);
  await refusingInvalid(() => preflight(config, planTopology(config, releases.ledger)));
  for (const note of notes) void pulumi.log.info(note);
  for (const warning of [...config.warnings, ...releases.warnings]) void pulumi.log.warn(warning);
  return createMeshStack(config, releases, previous.replicas);
}

async function refusingInvalid<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    // RunError: Pulumi prints the message (every problem, each naming its key or fix) without a stack trace.
    if (error instanceof MeshConfigError || error instanceof PreflightError)
      throw new pulumi.RunError(error.message);
    throw error;
  }
}
