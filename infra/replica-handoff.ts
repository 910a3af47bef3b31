// Handing a running tier's replica count to an autoscaler without losing it. Pulumi applies Deployments
// with server-side apply: when autoscaling is switched on, the Deployment stops declaring spec.replicas,
// and a field no manager owns any more is reset to its default — 1. Prod's 4 workers would drop to 1
// until the autoscaler climbed back (the pitfall the Kubernetes docs describe for moving a Deployment
// under an HPA). The documented fix is to let a second field manager own spec.replicas before the first
// lets go: a DeploymentPatch under a field manager of its own takes the count the Deployment declared, the
// Deployment's update (which depends on it) then drops the field, and the count stays with the patch until
// the autoscaler's first change takes it over. The patch stays while autoscaling does (its inputs never
// change, so it is never re-applied); when autoscaling is switched off, the Deployment declares its
// replicas again first and the patch is deleted after, releasing a field it no longer owns alone.

import type { DeploymentPlan, TopologyPlan } from "./topology.js";

/** The stack output the next update reads: each Deployment's fixed count, and the counts patches hold. */
export const REPLICAS_OUTPUT = "replicaHandoff";

export interface ReplicaLedger {
  /** Deployment name → the replicas it declared (tiers without an autoscaler). */
  fixed: Record<string, number>;
  /** Deployment name → the replicas its handoff patch holds (tiers an autoscaler took over). */
  held: Record<string, number>;
}

/** The field manager of the handoff patches (it shows in the Deployment's managedFields). */
export const HANDOFF_FIELD_MANAGER = "mesh-replica-handoff";

/**
 * The plan with each tier's handoff: a tier an autoscaler runs keeps the patch it has, or gets one holding
 * the count it declared in the previous update. A tier new to the stack, or autoscaled before this program
 * recorded the ledger, needs none (nothing declared a count to lose). Draining tiers are left out: they
 * are created for an upgrade and never switch between fixed and autoscaled replicas while they exist.
 */
export function planReplicaHandoffs(plan: TopologyPlan, previous: ReplicaLedger | undefined): TopologyPlan {
  const withHandoff = (deployment: DeploymentPlan): DeploymentPlan => {
    if (!deployment.autoscaling || !previous) return deployment;
    const count = previous.held[deployment.name] ?? previous.fixed[deployment.name];
    return count === undefined ? deployment : { ...deployment, replicaHandoff: count };
  };
  return {
    ...plan,
    main: withHandoff(plan.main),
    ...(plan.worker ? { worker: withHandoff(plan.worker) } : {}),
  };
}

/** What this update leaves for the next one to read. */
export function replicaLedger(plan: TopologyPlan): ReplicaLedger {
  const ledger: ReplicaLedger = { fixed: {}, held: {} };
  for (const deployment of [plan.main, ...(plan.worker ? [plan.worker] : [])]) {
    if (deployment.replicas !== undefined) ledger.fixed[deployment.name] = deployment.replicas;
    if (deployment.replicaHandoff !== undefined) ledger.held[deployment.name] = deployment.replicaHandoff;
  }
  return ledger;
}

/**
 * The ledger from a previous update's outputs. Stacks last updated before the ledger existed still say
 * their fixed counts in the `topology` output (describeTopology), so a handoff works on their first
 * update with this program too.
 */
export function parseReplicaLedger(ledger: unknown, topology: unknown): ReplicaLedger | undefined {
  const counts = (value: unknown): Record<string, number> =>
    Object.fromEntries(
      Object.entries(isRecord(value) ? value : {}).filter(
        (entry): entry is [string, number] => typeof entry[1] === "number",
      ),
    );
  if (isRecord(ledger)) return { fixed: counts(ledger.fixed), held: counts(ledger.held) };
  if (!isRecord(topology)) return undefined;
  const fixed: Record<string, number> = {};
  for (const tier of [topology.main, topology.worker])
    if (isRecord(tier) && typeof tier.deployment === "string" && typeof tier.replicas === "number")
      fixed[tier.deployment] = tier.replicas;
  return { fixed, held: {} };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
