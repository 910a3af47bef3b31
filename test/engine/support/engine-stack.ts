import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  type ConfigMap,
  type EngineEvent,
  LocalWorkspace,
  type OpType,
  type PulumiFn,
  type Stack,
} from "@pulumi/pulumi/automation/index.js";
import { meshProgram } from "../../../infra/program.js";
import type { StackShape } from "./stack-shapes.js";

/** The passphrase of the file backend's secrets provider in tests (never a real secret). */
export const TEST_PASSPHRASE = "mesh-engine-test-passphrase";

export interface EngineStackOptions {
  stackName: string;
  /** Folder of the file backend (state files) and of Pulumi's home (plugins, workspaces). */
  backendDir: string;
  /** kubeconfig of the test control plane: mode `kubeconfig` reads it through KUBECONFIG. */
  kubeconfigPath: string;
  /** The inline program; default: meshProgram, exactly what infra/index.ts runs. */
  program?: PulumiFn;
}

/**
 * A real Pulumi stack: the engine built from the Go module proxy (`pulumi` on PATH), a file backend,
 * passphrase secrets, the Kubernetes provider plugin from PATH, and the mesh program run inline through
 * the Automation API (no Node language host is available to run infra/index.ts as a subprocess).
 */
export async function engineStack(options: EngineStackOptions): Promise<Stack> {
  const home = join(options.backendDir, "pulumi-home");
  const state = join(options.backendDir, "state");
  // One workspace folder per backend: the stack settings files (Pulumi.<stack>.yaml, the config) live
  // there, so a second program for the same stack sees the same config.
  const workDir = join(options.backendDir, "workspace");
  for (const dir of [home, state, workDir]) mkdirSync(dir, { recursive: true });
  // The inline program runs in this process, where a CLI-run program would inherit the CLI's env: the
  // preflight reads the cluster through the same KUBECONFIG as the provider.
  process.env.KUBECONFIG = options.kubeconfigPath;
  return LocalWorkspace.createOrSelectStack(
    {
      stackName: options.stackName,
      projectName: "mesh",
      program: options.program ?? (async () => meshProgram()),
    },
    {
      workDir,
      projectSettings: { name: "mesh", runtime: "nodejs", backend: { url: `file://${state}` } },
      secretsProvider: "passphrase",
      envVars: {
        PULUMI_HOME: home,
        PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        // Nothing may be downloaded: every plugin comes from .tools/bin.
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        KUBECONFIG: options.kubeconfigPath,
      },
    },
  );
}

/**
 * Writes a shape's config into the stack's settings file as a stack file holds it (structured YAML
 * values), and its secrets encrypted with `pulumi config set --secret`.
 */
export async function applyShape(stack: Stack, shape: StackShape): Promise<void> {
  const settings = await stack.workspace.stackSettings(stack.name);
  settings.config = Object.fromEntries(
    Object.entries(shape.values).map(([key, value]) => [`mesh:${key}`, value]),
  );
  await stack.workspace.saveStackSettings(stack.name, settings);
  const secrets: ConfigMap = {};
  for (const [key, value] of Object.entries(shape.secrets)) secrets[`mesh:${key}`] = { value, secret: true };
  await stack.setAllConfig(secrets);
}

/** `pulumi config set --path <key> <value>` for each entry: what a user runs to flip a topology. */
export async function setPathConfig(stack: Stack, values: Record<string, string | number | boolean>) {
  const config: ConfigMap = {};
  for (const [key, value] of Object.entries(values)) config[`mesh:${key}`] = { value: String(value) };
  await stack.setAllConfig(config, true);
}

/** One resource step the engine reported: what it did to which resource, and which properties changed. */
export interface ResourceStep {
  op: OpType;
  urn: string;
  type: string;
  /** Logical name (last URN segment). */
  name: string;
  /** Property paths the provider reported as changed (detailed diff), e.g. `spec.template.spec.containers[0].env[0].value`. */
  changedPaths: string[];
}

interface PolicySummary {
  policyPackName: string;
  policyPackVersion: string;
  passed?: string[];
}

/** Collects the engine's per-resource steps from the event stream of a preview or update. */
export function stepRecorder() {
  const steps: ResourceStep[] = [];
  const diagnostics: string[] = [];
  /** The program's info messages (pulumi.log.info), e.g. where the image comes from. */
  const infos: string[] = [];
  /** `<policy>: <message>` of every policy violation reported. */
  const policyViolations: string[] = [];
  /** `<pack>@<version>` of every policy pack that reported an analysis. */
  const policyPacks = new Set<string>();
  /** Names of the policies that passed on some resource or on the stack. */
  const passedPolicies = new Set<string>();
  const onEvent = (event: EngineEvent) => {
    const metadata = event.resourcePreEvent?.metadata;
    if (metadata) {
      steps.push({
        op: metadata.op,
        urn: metadata.urn,
        type: metadata.type,
        name: metadata.urn.split("::").at(-1) ?? "",
        changedPaths: Object.keys(metadata.detailedDiff ?? {}).sort(),
      });
    }
    const diagnostic = event.diagnosticEvent;
    if (diagnostic && (diagnostic.severity === "error" || diagnostic.severity === "warning"))
      diagnostics.push(`${diagnostic.severity}: ${diagnostic.message.trim()}`);
    if (diagnostic?.severity === "info") infos.push(diagnostic.message.trim());
    if (event.policyEvent)
      policyViolations.push(`${event.policyEvent.policyName}: ${event.policyEvent.message.trim()}`);
    // The engine's policy summaries are not in the SDK's EngineEvent type yet.
    const untyped = event as EngineEvent & Record<string, PolicySummary | undefined>;
    for (const summary of [untyped.policyAnalyzeSummaryEvent, untyped.policyAnalyzeStackSummaryEvent]) {
      if (!summary) continue;
      policyPacks.add(`${summary.policyPackName}@${summary.policyPackVersion}`);
      for (const policy of summary.passed ?? []) passedPolicies.add(policy);
    }
  };
  return { steps, diagnostics, infos, policyViolations, policyPacks, passedPolicies, onEvent };
}

/** The steps that change something (everything but `same` and reads), and the stack itself. */
export function changes(steps: ResourceStep[]): ResourceStep[] {
  return steps.filter(
    (step) => step.op !== "same" && step.op !== "read" && step.type !== "pulumi:pulumi:Stack",
  );
}

export const describeSteps = (steps: ResourceStep[]) =>
  steps.map(
    (step) =>
      `${step.op} ${step.type} ${step.name}${step.changedPaths.length ? ` [${step.changedPaths.join(", ")}]` : ""}`,
  );
