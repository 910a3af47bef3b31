import * as pulumi from "@pulumi/pulumi";
import { parseReplicaLedger, REPLICAS_OUTPUT, type ReplicaLedger } from "./replica-handoff.js";
import { parseReleaseLedger, RELEASES_OUTPUT, type ReleaseLedger } from "./workflow-releases.js";

/** What the stack's previous update left in its outputs for this one. Undefined fields on a first update. */
export interface PreviousUpdate {
  /** The workflow releases: the image to keep, the versions still draining. */
  releases?: ReleaseLedger;
  /** Each tier's fixed count and handoff patch (infra/replica-handoff.ts). */
  replicas?: ReplicaLedger;
}

/**
 * Reads the previous update's outputs through a StackReference to the stack itself (the engine reads the
 * last completed update's outputs from the backend, at preview as at update).
 */
export async function readPreviousUpdate(): Promise<PreviousUpdate> {
  const self = new pulumi.StackReference("previous-update", {
    name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
  });
  const read = async (name: string) => {
    const details = await self.getOutputDetails(name);
    return details.value ?? details.secretValue;
  };
  const [releases, replicas, topology] = await Promise.all([
    read(RELEASES_OUTPUT),
    read(REPLICAS_OUTPUT),
    read("topology"),
  ]);
  return { releases: parseReleaseLedger(releases), replicas: parseReplicaLedger(replicas, topology) };
}
