import { readFileSync } from "node:fs";
import { request } from "node:https";

// Side-effect free: the Pulumi program reads these constants too (infra/components/worker-deletion-cost.ts).

/** Kubernetes' annotation: on scale-in, the ReplicaSet controller deletes the pods with the lowest cost first. */
export const POD_DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost";

/** Where the kubelet mounts a pod's ServiceAccount token, its cluster's CA and its namespace. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface InClusterApiOptions {
  /** KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, which the kubelet sets in every container. */
  host: string;
  port: number;
  /** The folder holding `token` and `ca.crt` (the projected ServiceAccount volume). */
  serviceAccountDir?: string;
  timeoutMs?: number;
}

/**
 * The one call a worker makes to the Kubernetes API: a JSON merge patch of its own pod's annotations,
 * as its ServiceAccount, verified against the cluster's CA. Hand-written over node:https on purpose:
 * @kubernetes/client-node would add 66 MB to every worker image for this one request. The token is read
 * at every call, since the kubelet rotates it in place.
 */
export class InClusterApi {
  readonly #dir: string;
  readonly #ca: Buffer;

  constructor(private readonly options: InClusterApiOptions) {
    this.#dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
    this.#ca = readFileSync(`${this.#dir}/ca.crt`);
  }

  async patchPodAnnotations(
    namespace: string,
    pod: string,
    annotations: Record<string, string>,
  ): Promise<void> {
    const token = readFileSync(`${this.#dir}/token`, "utf8").trim();
    const body = JSON.stringify({ metadata: { annotations } });
    const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}`;
    await new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: this.options.host,
          port: this.options.port,
          path,
          method: "PATCH",
          ca: this.#ca,
          timeout: this.options.timeoutMs ?? 5_000,
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/merge-patch+json",
            "content-length": Buffer.byteLength(body),
            accept: "application/json",
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => {
            if (response.statusCode !== undefined && response.statusCode < 300) return resolve();
            reject(new Error(`PATCH ${path}: ${response.statusCode} ${statusMessage(chunks)}`));
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`PATCH ${path}: no answer within the timeout`)));
      req.on("error", reject);
      req.end(body);
    });
  }
}

/** The `message` of a Kubernetes Status body (it names what was refused and why), or its first bytes. */
function statusMessage(chunks: Buffer[]): string {
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return (JSON.parse(text) as { message?: string }).message ?? text.slice(0, 200);
  } catch {
    return text.slice(0, 200);
  }
}
