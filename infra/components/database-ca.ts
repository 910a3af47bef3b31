import { createHash } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { DATABASE_CA_CONFIGMAP, DATABASE_CA_DIR, DATABASE_CA_KEY } from "../database-tls.js";

/**
 * The database's CA bundle in the cluster: a ConfigMap (CA certificates are public; no Secret needed),
 * mounted read-only where the URLs' `sslrootcert` points (infra/database-tls.ts).
 */
export function databaseCaConfigMap(
  name: string,
  namespace: pulumi.Input<string>,
  pem: string,
  labels: Record<string, string>,
  opts: pulumi.CustomResourceOptions,
): k8s.core.v1.ConfigMap {
  return new k8s.core.v1.ConfigMap(
    name,
    { metadata: { name: DATABASE_CA_CONFIGMAP, namespace, labels }, data: { [DATABASE_CA_KEY]: pem } },
    opts,
  );
}

export const databaseCaVolume = { name: "database-ca", configMap: { name: DATABASE_CA_CONFIGMAP } };
export const databaseCaVolumeMount = { name: "database-ca", mountPath: DATABASE_CA_DIR, readOnly: true };

/**
 * The pod-template annotation that rolls pods when the bundle changes: the kubelet refreshes a mounted
 * ConfigMap in place, but node-postgres reads `sslrootcert` once, when the process starts.
 */
export const DATABASE_CA_REVISION_ANNOTATION = "mesh.dev/database-ca-revision";

export function databaseCaRevision(pem: string): string {
  return createHash("sha256").update(pem).digest("hex").slice(0, 16);
}

/** What a pod template adds for the bundle: its volume, the mount, and the annotation that rolls it. */
export function databaseCaPodParts(pem: string | undefined): {
  volumes: (typeof databaseCaVolume)[];
  mounts: (typeof databaseCaVolumeMount)[];
  annotations: Record<string, string>;
} {
  return pem === undefined
    ? { volumes: [], mounts: [], annotations: {} }
    : {
        volumes: [databaseCaVolume],
        mounts: [databaseCaVolumeMount],
        annotations: { [DATABASE_CA_REVISION_ANNOTATION]: databaseCaRevision(pem) },
      };
}
