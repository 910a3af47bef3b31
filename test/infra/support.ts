import { fileURLToPath } from "node:url";
import { type KubernetesObject, kubernetesObjects } from "../../infra/render/kubernetes-objects.js";
import { type RegisteredResource, runUnderMocks } from "../../infra/render/run-under-mocks.js";
import { loadStackConfig } from "../../infra/render/stack-file.js";
import type { ReplicaLedger } from "../../infra/replica-handoff.js";
import type { ReleaseLedger } from "../../infra/workflow-releases.js";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Test secrets injected into every render: each must reach pods only through the Secret `mesh`. */
export const TEST_SECRETS = { apiToken: "test-api-token-5f1c9e" };

export interface RenderedStack {
  resources: RegisteredResource[];
  objects: KubernetesObject[];
  outputs: Record<string, unknown>;
  secretOutputs: string[];
  /** The provider functions the program invoked (infra/render/run-under-mocks.ts). */
  invokes: string[];
}

/** Runs the program for a committed stack file (plus `--set`-style overrides) under Pulumi's mocks. */
export async function renderStack(
  stack: string,
  overrides: string[] = [],
  options: {
    secrets?: Record<string, string>;
    createDelayMs?: Record<string, number>;
    standInApiToken?: boolean;
    /** Render CI's image when the file names none (default true); false: the update keeps the deployed one. */
    standInImage?: boolean;
    /** The workflow release ledger of the stack's previous update (what it read back from its outputs). */
    previousReleases?: ReleaseLedger;
    /** The replica ledger of the stack's previous update (infra/replica-handoff.ts). */
    previousReplicas?: ReplicaLedger;
  } = {},
): Promise<RenderedStack> {
  const { config, secretKeys } = loadStackConfig(stack, {
    root: REPO_ROOT,
    overrides,
    secrets: options.secrets ?? TEST_SECRETS,
    standInApiToken: options.standInApiToken,
    standInImage: options.standInImage,
  });
  const result = await runUnderMocks({
    stack,
    config,
    secretKeys,
    createDelayMs: options.createDelayMs,
    previousReleases: options.previousReleases,
    previousReplicas: options.previousReplicas,
  });
  return { ...result, objects: kubernetesObjects(result.resources) };
}

export function resourceOf(resources: RegisteredResource[], type: string, name?: string): RegisteredResource {
  const found = resources.filter(
    (resource) => resource.type === type && (name === undefined || resource.name === name),
  );
  if (found.length !== 1)
    throw new Error(`expected one ${type}${name ? ` ${name}` : ""}, found ${found.length}`);
  return found[0] as RegisteredResource;
}

export function objectOf(objects: KubernetesObject[], kind: string, name: string): KubernetesObject {
  const found = objects.find((object) => object.kind === kind && object.metadata?.name === name);
  if (!found)
    throw new Error(
      `no ${kind}/${name} among ${objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(", ")}`,
    );
  return found;
}

export function mainContainer(deployment: KubernetesObject): KubernetesObject {
  return deployment.spec.template.spec.containers[0];
}

export function envOf(deployment: KubernetesObject): Record<string, unknown> {
  return Object.fromEntries(
    mainContainer(deployment).env.map((entry: { name: string; value?: string; valueFrom?: unknown }) => [
      entry.name,
      entry.value ?? entry.valueFrom,
    ]),
  );
}

/** The labels of the pods a workload (Deployment, StatefulSet, Job) named `name` runs. */
export function podLabelsOf(objects: KubernetesObject[], name: string): Record<string, string> {
  const workload = objects.find(
    (object) =>
      ["Deployment", "StatefulSet", "Job"].includes(object.kind) &&
      object.metadata?.labels?.["app.kubernetes.io/name"] === name,
  );
  if (!workload) throw new Error(`no workload whose pods are named ${name}`);
  return workload.spec.template.metadata.labels;
}

/** Does a label selector (matchLabels or a Service selector) select pods with these labels? */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}
