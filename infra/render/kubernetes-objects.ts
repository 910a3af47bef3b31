import { stringify } from "yaml";
import type { RegisteredResource } from "./run-under-mocks.js";

/** The signature key Pulumi uses to mark a secret value in serialized properties. */
const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const REDACTED = "<redacted>";

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are open-ended property bags
export type KubernetesObject = Record<string, any>;

export function isSecretValue(value: unknown): value is { value: unknown } {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG
  );
}

/** A deep copy with every Pulumi secret replaced by `<redacted>`, and every Secret's data too. */
export function redactSecrets(value: unknown): unknown {
  if (isSecretValue(value)) return REDACTED;
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, redactSecrets(inner)]));
  }
  return value;
}

/** A deep copy with Pulumi secrets unwrapped to their plaintext (for leak checks in tests only). */
export function unwrapSecrets(value: unknown): unknown {
  if (isSecretValue(value)) return unwrapSecrets(value.value);
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, unwrapSecrets(inner)]));
  }
  return value;
}

function isKubernetesObject(resource: RegisteredResource): boolean {
  return (
    resource.type.startsWith("kubernetes:") &&
    !resource.type.startsWith("kubernetes:helm.sh/") &&
    // A patch (e.g. the replica handoff's DeploymentPatch) changes an object that exists; it is not one.
    !resource.type.endsWith("Patch") &&
    typeof resource.inputs.kind === "string"
  );
}

/** The Kubernetes objects a run registered, secrets redacted, sorted by kind, namespace and name. */
export function kubernetesObjects(resources: RegisteredResource[]): KubernetesObject[] {
  return resources
    .filter(isKubernetesObject)
    .map((resource) => {
      const object = redactSecrets(resource.inputs) as KubernetesObject;
      if (object.kind === "Secret") {
        // Keep the key names (a reviewer should see which secrets a pod gets), never the values.
        for (const field of ["data", "stringData"]) {
          const plain = unwrapSecrets(resource.inputs[field]);
          if (typeof plain === "object" && plain !== null) {
            object[field] = Object.fromEntries(Object.keys(plain).map((key) => [key, REDACTED]));
          }
        }
      }
      return object;
    })
    .sort((a, b) => objectKey(a).localeCompare(objectKey(b)));
}

export function objectKey(object: KubernetesObject): string {
  return `${object.kind}/${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
}

/** Helm charts the run registered (rendered by the provider at deploy time, so summarised here). */
export function helmCharts(resources: RegisteredResource[]) {
  return resources
    .filter((resource) => resource.type.startsWith("kubernetes:helm.sh/"))
    .map((resource) => ({
      release: resource.inputs.name,
      namespace: resource.inputs.namespace,
      chart: resource.inputs.chart,
      version: resource.inputs.version,
      repository: resource.inputs.repositoryOpts?.repo,
      values: redactSecrets(resource.inputs.values),
    }))
    .sort((a, b) => String(a.release).localeCompare(String(b.release)));
}

/** Stable YAML: keys sorted, one document per object. */
export function toStableYaml(objects: unknown[]): string {
  return objects.map((object) => stringify(object, { sortMapEntries: true, lineWidth: 0 })).join("---\n");
}
