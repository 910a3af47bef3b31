import * as pulumi from "@pulumi/pulumi";
import { parseMeshConfig, readStackConfig } from "../config.js";
import { createMeshStack } from "../stack.js";
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
}

export interface MockRunOptions {
  stack: string;
  /** Flat Pulumi config: `mesh:image` → value; structured values as JSON strings. */
  config: Record<string, string>;
  /** Keys of `config` that are secrets. */
  secretKeys?: string[];
  /** Per resource type, how long the mock engine takes to create it (to expose ordering). */
  createDelayMs?: Record<string, number>;
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
}

/**
 * Runs the mesh program in-process under Pulumi's mock runtime (pulumi.runtime.setMocks): no engine,
 * no cloud. Config validation runs exactly as in `pulumi up`; a MeshConfigError propagates before any
 * resource is registered.
 */
export async function runUnderMocks(options: MockRunOptions): Promise<MockRunResult> {
  const resources: RegisteredResource[] = [];
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
      call: (args) => mockCall(args),
    },
    "mesh",
    options.stack,
    false,
  );
  pulumi.runtime.setAllConfig(options.config, options.secretKeys ?? []);

  const outputs: Record<string, unknown> = {};
  try {
    // Validation first, outside the stack: invalid config registers nothing, not even the stack.
    const config = parseMeshConfig(readStackConfig());
    await pulumi.runtime.runInPulumiStack(async () => {
      Object.assign(outputs, createMeshStack(config));
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
  return { resources, outputs: resolved, secretOutputs };
}
