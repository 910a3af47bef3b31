import { KubeConfig, type KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import type { KubernetesObject as LiveObject } from "../../../infra/render/kubernetes-objects.js";
import type { ControlPlane } from "../../control-plane/control-plane.js";

/** Reads live objects from the test API server as the admin user. */
export function liveObjects(controlPlane: ControlPlane) {
  const config = new KubeConfig();
  config.loadFromFile(controlPlane.kubeconfigPath);
  const client = KubernetesObjectApi.makeApiClient(config);
  return {
    async read(apiVersion: string, kind: string, name: string, namespace?: string): Promise<LiveObject> {
      const live: KubernetesObject = await client.read({ apiVersion, kind, metadata: { name, namespace } });
      return withWireNames(live) as LiveObject;
    },
    /** undefined when the object does not exist (404). */
    async find(apiVersion: string, kind: string, name: string, namespace?: string) {
      try {
        return await this.read(apiVersion, kind, name, namespace);
      } catch (error) {
        if ((error as { code?: number }).code === 404) return undefined;
        throw error;
      }
    },
  };
}

/**
 * The object with its fields named as on the wire: client-node's models rename fields that are reserved
 * words in its generator (a NetworkPolicy rule's `from` is `_from`).
 */
function withWireNames(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withWireNames);
  if (typeof value !== "object" || value === null || value instanceof Date) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [key === "_from" ? "from" : key, withWireNames(inner)]),
  );
}

/**
 * Where `rendered` (what the program asked for) and `live` (what the API server holds) disagree: every
 * field the render sets must be in the live object with the same value. Fields only the server sets
 * (status, uid, defaults, Pulumi's managed-by label) are extra in `live` and ignored.
 */
export function renderedFieldsMissingFromLive(rendered: unknown, live: unknown, path = ""): string[] {
  if (Array.isArray(rendered)) {
    if (!Array.isArray(live) || live.length !== rendered.length)
      return [`${path}: rendered ${JSON.stringify(rendered)}, live ${JSON.stringify(live)}`];
    return rendered.flatMap((item, index) =>
      renderedFieldsMissingFromLive(item, live[index], `${path}[${index}]`),
    );
  }
  if (typeof rendered === "object" && rendered !== null) {
    if (typeof live !== "object" || live === null) return [`${path}: missing in live object`];
    return Object.entries(rendered).flatMap(([key, value]) =>
      renderedFieldsMissingFromLive(
        value,
        (live as Record<string, unknown>)[key],
        path ? `${path}.${key}` : key,
      ),
    );
  }
  return rendered === live
    ? []
    : [`${path}: rendered ${JSON.stringify(rendered)}, live ${JSON.stringify(live)}`];
}
