import * as pulumi from "@pulumi/pulumi";
import { parseMeshConfig, readStackConfig } from "../config.js";
import { resolveDeployedImage } from "../deployed-image.js";
import { preflight } from "../preflight/preflight.js";
import type { ReplicaLedger } from "../replica-handoff.js";
import { createMeshStack } from "../stack.js";
import { planTopology } from "../topology.js";
import { planConfiguredReleases, type ReleaseLedger } from "../workflow-releases.js";
import { mockCall, mockComputedState } from "./mock-cloud.js";

/** One resource the program registered, with the inputs it sent (secrets unwrapped). */
export interface RegisteredResource {
  type: string;
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: inputs are arbitrary provider property bags
  inputs: Record<string, any>;
  /** Registration order (0-based). */
  order: number;
  /** Milliseconds since the run started when the registration reached the mock engine. */
  registeredAtMs: number;
  /** Milliseconds since the run started when the mock engine answered it. */
  completedAtMs: number;
  /** Everything besides inputs that decides what the engine does with it (its URN, ordering, options). */
  engine: EngineView;
}

/**
 * A resource as the engine keys and orders it, besides its inputs: the parent chain and type that make
 * up its URN (a new parent is a new URN: a delete and a create), its provider, what it depends on, and
 * every other resource option. `Type::name` paths name resources.
 */
export interface EngineView {
  /** Parents from the outermost component down, e.g. ["mesh:infra:MeshApp::mesh"]; [] under the stack. */
  parents: string[];
  provider?: string;
  dependsOn: string[];
  /** protect, deleteBeforeReplace, ignoreChanges, replaceOnChanges, aliases, customTimeouts, ... when set. */
  options: Record<string, unknown>;
}

export interface MockRunOptions {
  stack: string;
  /** Flat Pulumi config: `mesh:image` → value; structured values as JSON strings. */
  config: Record<string, string>;
  /** Keys of `config` that are secrets. */
  secretKeys?: string[];
  /** Per resource type, how long the mock engine takes to create it (to expose ordering). */
  createDelayMs?: Record<string, number>;
  /** The workflow release ledger the stack's previous update left (infra/previous-update.ts reads it). */
  previousReleases?: ReleaseLedger;
  /** The replica ledger the stack's previous update left (infra/replica-handoff.ts). */
  previousReplicas?: ReplicaLedger;
}

/** The program failed (e.g. invalid config); `resources` holds whatever it registered before that. */
export class MockProgramError extends Error {
  override name = "MockProgramError";
  constructor(
    override readonly cause: unknown,
    readonly resources: RegisteredResource[],
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

export interface MockRunResult {
  resources: RegisteredResource[];
  outputs: Record<string, unknown>;
  /** Names of the stack outputs that are Pulumi secrets. */
  secretOutputs: string[];
  /** Every provider function the program invoked (data sources, e.g. aws:eks/getCluster), in order. */
  invokes: string[];
}

/**
 * Runs the mesh program in-process under Pulumi's mock runtime (pulumi.runtime.setMocks): no engine,
 * no cloud. Config validation runs exactly as in `pulumi up`; a MeshConfigError propagates before any
 * resource is registered.
 */
export async function runUnderMocks(options: MockRunOptions): Promise<MockRunResult> {
  const resources: RegisteredResource[] = [];
  const invokes: string[] = [];
  const engineViews = new Map<string, EngineView>();
  const started = Date.now();
  await pulumi.runtime.setMocks(
    {
      async newResource(args) {
        const registeredAtMs = Date.now() - started;
        const delay = options.createDelayMs?.[args.type] ?? 0;
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
        const record: RegisteredResource = {
          type: args.type,
          name: args.name,
          inputs: args.inputs,
          engine: engineViews.get(`${args.type}::${args.name}`) ?? {
            parents: [],
            dependsOn: [],
            options: {},
          },
          order: resources.length,
          registeredAtMs,
          completedAtMs: Date.now() - started,
        };
        resources.push(record);
        return {
          id: `${args.name}-id`,
          state: { ...args.inputs, ...mockComputedState(args.type, args.name, args.inputs) },
        };
      },
      call: (args) => {
        invokes.push(args.token);
        return mockCall(args);
      },
    },
    "mesh",
    options.stack,
    false,
  );
  pulumi.runtime.setAllConfig(options.config, options.secretKeys ?? []);

  const outputs: Record<string, unknown> = {};
  try {
    // Validation first, outside the stack: invalid config registers nothing, not even the stack.
    const { config } = resolveDeployedImage(parseMeshConfig(readStackConfig()), options.previousReleases);
    const releases = planConfiguredReleases(config, options.previousReleases);
    // No cluster offline: the account's facts only, as the mock runtime answers them.
    await preflight(config, planTopology(config, releases.ledger), { readCluster: false });
    await pulumi.runtime.runInPulumiStack(async () => {
      pulumi.runtime.registerStackTransformation(recordEngineView(engineViews));
      Object.assign(outputs, createMeshStack(config, releases, options.previousReplicas));
      return outputs;
    });
  } catch (error) {
    await pulumi.runtime.disconnect().catch(() => undefined);
    throw new MockProgramError(error, resources);
  }
  const resolved: Record<string, unknown> = {};
  const secretOutputs: string[] = [];
  for (const [key, value] of Object.entries(outputs)) {
    const output: pulumi.Output<unknown> = pulumi.output(value);
    resolved[key] = await new Promise((resolve) => output.apply(resolve));
    if (await pulumi.isSecret(output)) secretOutputs.push(key);
  }
  // Stack outputs can resolve before every resource is registered (a Deployment waiting on its Job):
  // drain the outstanding registrations so the inventory is complete.
  await pulumi.runtime.disconnect();
  return { resources, outputs: resolved, secretOutputs, invokes };
}

/** A stack transformation that records each resource's EngineView (and changes nothing). */
function recordEngineView(views: Map<string, EngineView>): pulumi.ResourceTransformation {
  const paths = new WeakMap<pulumi.Resource, string>();
  const pathOf = (resource: unknown) =>
    resource instanceof pulumi.Resource ? (paths.get(resource) ?? "(unrecorded resource)") : String(resource);
  return ({ resource, type, name, opts }) => {
    const path = `${type}::${name}`;
    paths.set(resource, path);
    const parents: string[] = [];
    for (let parent = opts.parent; parent; parent = parentOf(parent)) {
      if (paths.has(parent)) parents.unshift(pathOf(parent)); // the stack itself is never recorded
    }
    const dependsOn = [opts.dependsOn ?? []].flat() as unknown[];
    const { parent: _, provider, dependsOn: __, ...rest } = opts as pulumi.ComponentResourceOptions;
    const options = Object.fromEntries(
      Object.entries(rest)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => {
          if (key === "aliases") return [key, (value as unknown[]).map(String)];
          if (key === "providers") return [key, [value].flat().map(pathOf)];
          return [key, value];
        }),
    );
    views.set(path, {
      parents,
      ...(provider ? { provider: pathOf(provider) } : {}),
      dependsOn: dependsOn.map(pathOf).sort(),
      options,
    });
    return undefined;
  };
}

/** The parent a resource was created with (Pulumi keeps it on the resource object). */
function parentOf(resource: pulumi.Resource): pulumi.Resource | undefined {
  return (resource as unknown as { __parentResource?: pulumi.Resource }).__parentResource;
}
