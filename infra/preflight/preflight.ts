// Preflight: every fact of the AWS account and the cluster that the stack depends on, read before any
// resource is registered, so a missing one fails `pulumi preview` (and `up` before RDS is created) with
// one message per fact, naming the fix. docs/operations.md, "The first pulumi up", lists the same facts.

import * as pulumi from "@pulumi/pulumi";
import type { MeshConfig } from "../config.js";
import type { TopologyPlan } from "../topology.js";
import { subnetProblems } from "./aws-facts.js";
import { clusterProblems } from "./cluster-facts.js";
import { preflightKubeConfig } from "./kubeconfig.js";
import { clusterRequirements } from "./requirements.js";

export class PreflightError extends Error {
  override name = "PreflightError";
  constructor(readonly problems: string[]) {
    super(
      `the cluster or account lacks what this stack needs (${problems.length} problem${problems.length === 1 ? "" : "s"}, docs/operations.md 'The first pulumi up'):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
}

export interface PreflightOptions {
  /**
   * Read the cluster (default true). The offline render has none: it checks the AWS facts only, from the
   * mock runtime's answers.
   */
  readCluster?: boolean;
}

/** Throws a PreflightError listing every missing fact. */
export async function preflight(
  config: MeshConfig,
  plan: TopologyPlan,
  options: PreflightOptions = {},
): Promise<void> {
  const problems = await subnetProblems(config);
  if (options.readCluster ?? true) {
    const kubeConfig = await preflightKubeConfig(config.cluster);
    const verb = pulumi.runtime.isDryRun() ? "get" : "create";
    problems.push(
      ...(await clusterProblems(kubeConfig, clusterRequirements(config, plan), config.namespace, verb)),
    );
  }
  if (problems.length > 0) throw new PreflightError(problems);
}
