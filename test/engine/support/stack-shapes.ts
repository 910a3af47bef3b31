import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import type { KubernetesObject } from "../../../infra/render/kubernetes-objects.js";
import { CI_IMAGE_STAND_IN } from "../../../infra/render/stack-file.js";

const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));

/**
 * A shipped stack's shape on the test control plane: the stack file's topology (image, roles, replicas,
 * autoscaling, resources) with what needs AWS or the internet swapped out — the ambient kubeconfig
 * instead of EKS, and the machine's Postgres and NATS as `external` instead of RDS and the NATS chart.
 */
export interface StackShape {
  /** The stack file it comes from (Pulumi.<file>.yaml). */
  file: string;
  /** Top-level `mesh:` keys with their (structured) values, as `pulumi config set --path` would store them. */
  values: Record<string, unknown>;
  secrets: Record<string, string>;
}

/** Secrets every shape gets; the state-file test looks for each of them. */
export const SHAPE_SECRETS = {
  apiToken: "engine-test-token-9d1f3a7c52e4",
  databaseUrl: "postgres://mesh_engine:engine-db-pw-41c7e2@127.0.0.1:5432/mesh_engine",
  natsUrl: "nats://engine-nats-user:engine-nats-pw-8b2d@127.0.0.1:4222",
};

export function stackShape(file: string, overrides: Record<string, unknown> = {}): StackShape {
  const document = parse(readFileSync(join(REPO_ROOT, `Pulumi.${file}.yaml`), "utf8")) as {
    config: Record<string, unknown>;
  };
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(document.config)) {
    if (!key.startsWith("mesh:")) continue; // aws:region and other providers' keys
    if (typeof value === "object" && value !== null && "secure" in value) continue; // encrypted secrets
    values[key.slice("mesh:".length)] = value;
  }
  // What CI's deploy sets for the first update (the committed files leave the image to it).
  values.image ??= CI_IMAGE_STAND_IN;
  values.cluster = { mode: "kubeconfig" };
  values.postgres = { mode: "external" };
  values.nats = { mode: "external" };
  delete values.keda;
  // The Prometheus Operator's objects are proven offline (test/infra/monitoring.test.ts) and live by the
  // one drill that asks for them (test/engine/live-alerts.test.ts): only the real drills install the CRDs.
  delete values.monitoring;
  for (const [key, value] of Object.entries(overrides)) setPath(values, key, value);
  return { file, values, secrets: { ...SHAPE_SECRETS } };
}

/** `worker.autoscaling.mode` = value, creating objects on the way (like `pulumi config set --path`). */
export function setPath(values: Record<string, unknown>, path: string, value: unknown): void {
  const segments = path.split(".");
  let node = values;
  for (const segment of segments.slice(0, -1)) {
    const next = node[segment];
    if (typeof next !== "object" || next === null) node[segment] = {};
    node = node[segment] as Record<string, unknown>;
  }
  node[segments.at(-1) as string] = value;
}

/** The Kubernetes objects the offline render (mock runtime) gives for this shape, from a child process. */
export function renderOffline(stackName: string, shape: StackShape): KubernetesObject[] {
  const output = execFileSync(
    process.execPath,
    [
      "--import",
      "tsx",
      join(REPO_ROOT, "test/engine/support/offline-render.ts"),
      JSON.stringify({ stack: stackName, ...shape }),
    ],
    { cwd: REPO_ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
  );
  return JSON.parse(output) as KubernetesObject[];
}
