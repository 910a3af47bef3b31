import { createHmac } from "node:crypto";

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
