import { createHmac } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

/**
 * The pod-template annotation that rolls a Deployment when Secret `mesh` changes: an HMAC of the Secret's
 * data keyed with the Secret's own `metadata.uid`. It changes with any secret value, and the preview
 * already knows it (the uid comes from the stack state), so `pulumi preview` shows the roll. Unlike a
 * plain hash it cannot be brute-forced from the Deployment: the key is readable only by those who may
 * read the Secret itself (Kubernetes RBAC gives no metadata-only access to Secrets).
 */
export const SECRET_REVISION_ANNOTATION = "mesh.dev/secret-revision";

export function secretRevision(secretUid: string, data: Record<string, string>): string {
  const canonical = JSON.stringify(Object.entries(data).sort(([a], [b]) => a.localeCompare(b)));
  return createHmac("sha256", secretUid).update(canonical).digest("hex").slice(0, 16);
}

/**
 * The revision of a Secret's data for a pod-template annotation. Not a Pulumi secret: the HMAC reveals
 * nothing, and a secret annotation would make Pulumi hide the whole pod spec in every diff. A Secret about
 * to be created has no uid yet (a preview of its creation): no revision then — its pods are new anyway,
 * and `pulumi up` computes it from the created Secret.
 */
export function secretRevisionOutput(
  secretUid: pulumi.Output<string>,
  data: pulumi.Input<Record<string, pulumi.Input<string>>>,
): pulumi.Output<string> {
  return pulumi.unsecret(
    pulumi
      .all([secretUid, pulumi.output(data)])
      .apply(([uid, values]) => (uid ? secretRevision(uid, values as Record<string, string>) : "")),
  );
}
