import * as pulumi from "@pulumi/pulumi";
import { parseReleaseLedger, RELEASES_OUTPUT, type ReleaseLedger } from "./workflow-releases.js";

/**
 * The workflow release ledger the stack's previous update left in its outputs, read through a
 * StackReference to the stack itself (the engine reads the last completed update's outputs from the
 * backend, at preview as at update). Undefined on a stack's first update.
 */
export async function readPreviousReleases(): Promise<ReleaseLedger | undefined> {
  const self = new pulumi.StackReference("previous-update", {
    name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
  });
  const details = await self.getOutputDetails(RELEASES_OUTPUT);
  return parseReleaseLedger(details.value ?? details.secretValue);
}
