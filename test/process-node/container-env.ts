import type { CoreV1Api, V1Container, V1Pod } from "@kubernetes/client-node";

/** A pod's env cannot be resolved yet (a missing Secret or key): the kubelet's CreateContainerConfigError. */
export class ContainerConfigError extends Error {
  override name = "ContainerConfigError";
}

/**
 * The container's environment as the kubelet builds it: `value` (with `$(VAR)` references to earlier
 * entries expanded, `$$` escaping), `secretKeyRef`, `configMapKeyRef` and the downward API's `fieldRef`
 * (metadata.name / namespace / uid, spec.nodeName, status.podIP / hostIP). `envFrom` and resourceFieldRef
 * are refused by name: mesh's pods use neither, and a silent gap would make a wrong pod look right.
 */
export async function resolveContainerEnv(
  core: CoreV1Api,
  pod: V1Pod,
  container: V1Container,
  addresses: { podIP: string; hostIP: string },
): Promise<Record<string, string>> {
  if (container.envFrom?.length)
    throw new ContainerConfigError("envFrom is not supported by the process node");
  const namespace = pod.metadata?.namespace ?? "default";
  const env: Record<string, string> = {};
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined || !entry.valueFrom) {
      env[entry.name] = expand(entry.value ?? "", env);
      continue;
    }
    const { fieldRef, secretKeyRef, configMapKeyRef } = entry.valueFrom;
    if (fieldRef) {
      env[entry.name] = downwardField(pod, fieldRef.fieldPath, addresses);
    } else if (secretKeyRef) {
      const value = await readKey("Secret", secretKeyRef, () =>
        core.readNamespacedSecret({ name: secretKeyRef.name ?? "", namespace }),
      );
      if (value !== undefined) env[entry.name] = value;
    } else if (configMapKeyRef) {
      const value = await readKey("ConfigMap", configMapKeyRef, () =>
        core.readNamespacedConfigMap({ name: configMapKeyRef.name ?? "", namespace }),
      );
      if (value !== undefined) env[entry.name] = value;
    } else {
      throw new ContainerConfigError(
        `env ${entry.name}: only value, fieldRef, secretKeyRef and configMapKeyRef are supported`,
      );
    }
  }
  return env;
}

/** `$(NAME)` → an earlier entry's value (kept verbatim when undefined, as the kubelet does); `$$` → `$`. */
function expand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) =>
    name === undefined ? "$" : (env[name] ?? match),
  );
}

function downwardField(pod: V1Pod, fieldPath: string, addresses: { podIP: string; hostIP: string }): string {
  switch (fieldPath) {
    case "metadata.name":
      return pod.metadata?.name ?? "";
    case "metadata.namespace":
      return pod.metadata?.namespace ?? "";
    case "metadata.uid":
      return pod.metadata?.uid ?? "";
    case "spec.nodeName":
      return pod.spec?.nodeName ?? "";
    case "status.podIP":
      return addresses.podIP;
    case "status.hostIP":
      return addresses.hostIP;
    default:
      throw new ContainerConfigError(`fieldRef ${fieldPath} is not supported by the process node`);
  }
}

interface KeyRef {
  name?: string;
  key: string;
  optional?: boolean;
}

/** A key of a Secret (base64 data, decoded) or ConfigMap; undefined only when the reference is optional. */
async function readKey(
  kind: "Secret" | "ConfigMap",
  ref: KeyRef,
  read: () => Promise<{ data?: Record<string, string> }>,
): Promise<string | undefined> {
  let data: Record<string, string> | undefined;
  try {
    data = (await read()).data;
  } catch (error) {
    if ((error as { code?: number }).code !== 404) throw error;
    if (ref.optional) return undefined;
    throw new ContainerConfigError(`${kind.toLowerCase()} "${ref.name}" not found`);
  }
  const raw = data?.[ref.key];
  if (raw === undefined) {
    if (ref.optional) return undefined;
    throw new ContainerConfigError(`couldn't find key ${ref.key} in ${kind} ${ref.name}`);
  }
  return kind === "Secret" ? Buffer.from(raw, "base64").toString("utf8") : raw;
}
