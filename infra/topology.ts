import type { MeshConfig } from "./config.js";
import { drainingDeploymentName, planConfiguredReleases, type ReleaseLedger } from "./workflow-releases.js";

// What runs where, as plain data: the one file to read for "what runs where in prod?". Components
// turn this plan into Kubernetes objects; nothing here touches Pulumi.

export interface Resources {
  requests: { cpu: string; memory: string };
  limits?: { cpu?: string; memory?: string };
}

/** How fast a tier's autoscaler removes pods (worker.autoscaling.scaleDown, api.autoscaling.scaleDown). */
export interface ScaleDown {
  stabilizationWindowSeconds: number;
  pods: number;
  periodSeconds: number;
}

export type Autoscaling =
  | {
      kind: "cpu";
      minReplicas: number;
      maxReplicas: number;
      targetCPUUtilizationPercentage: number;
      /** Unset (the api tier without api.autoscaling.scaleDown): the HPA's default scale-down. */
      scaleDown?: ScaleDown;
    }
  | {
      kind: "queueDepth";
      minReplicas: number;
      maxReplicas: number;
      scaleDown: ScaleDown;
      targetRunsPerReplica: number;
      /** The workflow version whose runs it counts (its Deployment's image carries it). */
      workflowVersion: string;
      /** The release's own version (also counts runs enqueued without one), not a draining version. */
      current: boolean;
    };

export interface DeploymentPlan {
  /** Deployment (and, for the main tier, Service) name: mesh, mesh-worker or mesh-worker-<version>. */
  name: string;
  /** The image of its pods: the release's, or a draining version's own. */
  image: string;
  /** MESH_DISPATCH_ROLE of its pods. */
  role: "all" | "api" | "worker";
  /** Whether a Service routes traffic to it (never for workers). */
  serves: boolean;
  /** Whether its pods serve the run console at /console (api.console; never workers). */
  console?: boolean;
  /** Fixed replica count, or undefined when an autoscaler owns it. */
  replicas?: number;
  autoscaling?: Autoscaling;
  /** The count a handoff patch holds for the autoscaler (infra/replica-handoff.ts), when it has one. */
  replicaHandoff?: number;
  /** Selector labels: app.kubernetes.io/name + instance only, immutable across every topology. */
  selectorLabels: Record<string, string>;
  /** Every label of its pods and objects. */
  labels: Record<string, string>;
  resources: Resources;
  terminationGracePeriodSeconds: number;
  /** Seconds a serving pod keeps serving after it is marked for termination (endpoint removal). */
  preStopSleepSeconds: number;
  /** MESH_SHUTDOWN_GRACE_MS: what is left of the grace period after preStop, minus a safety margin. */
  shutdownGraceMs: number;
  /** MESH_WORKER_CONCURRENCY, when the tier executes runs and sets it. */
  concurrency?: number;
  /** Whether its pods keep their pod-deletion-cost at the runs they hold (worker tiers, worker.podDeletionCost). */
  podDeletionCost?: boolean;
  podAnnotations: Record<string, string>;
  /** The stack's extraEnv, appended after the env mesh manages. */
  extraEnv: Record<string, string>;
}

export interface TopologyPlan {
  /** 1 all-only, 2 all + workers (rollout step 1), 3 api + workers (rollout step 2). */
  state: 1 | 2 | 3;
  /**
   * The run queues' settings, written by the release's migration Job (their one owner) and used by every
   * process that dequeues. Read whether or not workers are enabled, so switching them on changes nothing
   * the main tier or the Job sees.
   */
  /** The run queues' shared settings, written by the release's migration Job (their one owner). */
  queueSettings: { workerConcurrency: number; wake: boolean; pollMs?: number };
  main: DeploymentPlan;
  worker?: DeploymentPlan;
  /**
   * Workers of the draining workflow versions (infra/workflow-releases.ts), oldest first: each runs its
   * own version's image and dequeues only its version's runs. Independent of worker.enabled: a version
   * drains whichever tier served it.
   */
  draining: DeploymentPlan[];
}

/** Seconds between the process's own drain deadline and the kubelet's SIGKILL. */
export const SHUTDOWN_MARGIN_SECONDS = 5;
/** Seconds an api pod keeps serving after termination starts, while its endpoint is withdrawn. */
export const PRE_STOP_SLEEP_SECONDS = 5;

/** The image tag (or digest prefix) used as app.kubernetes.io/version. */
export function imageVersion(image: string): string {
  const digest = image.split("@")[1];
  if (digest) return digest.replace(/^sha256:/, "").slice(0, 12);
  const lastSegment = image.split("/").pop() ?? image;
  const tag = lastSegment.includes(":") ? lastSegment.split(":").pop() : "latest";
  return (tag ?? "latest").replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 63);
}

function labelsFor(name: string, component: string, image: string, config: MeshConfig) {
  const selectorLabels = { "app.kubernetes.io/name": name, "app.kubernetes.io/instance": config.namespace };
  return {
    selectorLabels,
    labels: {
      ...selectorLabels,
      "app.kubernetes.io/component": component,
      "app.kubernetes.io/part-of": "mesh",
      "app.kubernetes.io/managed-by": "pulumi",
      "app.kubernetes.io/version": imageVersion(image),
    },
  };
}

export function planTopology(
  config: MeshConfig,
  releases: ReleaseLedger = planConfiguredReleases(config, undefined).ledger,
): TopologyPlan {
  const api = config.api;
  // The main tier's plan reads nothing of the worker config, so switching workers on (state 1 -> 2)
  // cannot touch it; its component label is the constant "server", so the role switch (2 -> 3)
  // changes MESH_DISPATCH_ROLE and nothing else.
  const main: DeploymentPlan = {
    name: "mesh",
    role: config.dispatchRole,
    serves: true,
    console: api.console,
    image: config.image,
    ...labelsFor("mesh", "server", config.image, config),
    replicas: api.autoscaling.enabled ? undefined : api.replicas,
    autoscaling: api.autoscaling.enabled
      ? {
          kind: "cpu",
          minReplicas: api.autoscaling.minReplicas,
          maxReplicas: api.autoscaling.maxReplicas,
          targetCPUUtilizationPercentage: api.autoscaling.targetCPUUtilizationPercentage,
          ...(api.autoscaling.scaleDown ? { scaleDown: api.autoscaling.scaleDown } : {}),
        }
      : undefined,
    resources: api.resources,
    terminationGracePeriodSeconds: api.terminationGracePeriodSeconds,
    preStopSleepSeconds: PRE_STOP_SLEEP_SECONDS,
    shutdownGraceMs:
      (api.terminationGracePeriodSeconds - PRE_STOP_SLEEP_SECONDS - SHUTDOWN_MARGIN_SECONDS) * 1000,
    podAnnotations: {},
    extraEnv: config.extraEnv,
  };

  const queueSettings = {
    workerConcurrency: config.worker.concurrency,
    wake: config.queues.wake,
    ...(config.queues.pollMs === undefined ? {} : { pollMs: config.queues.pollMs }),
  };
  const draining = releases.draining.map((release) =>
    drainingWorkerPlan(config, release.version, release.image),
  );
  if (!config.worker.enabled) return { state: 1, queueSettings, main, draining };

  const worker = config.worker;
  const scaling = worker.autoscaling;
  const workerPlan: DeploymentPlan = {
    ...workerTier(config, "mesh-worker", config.image),
    replicas: scaling.enabled ? undefined : worker.replicas,
    autoscaling: !scaling.enabled
      ? undefined
      : scaling.mode === "cpu"
        ? {
            kind: "cpu",
            minReplicas: scaling.minReplicas,
            maxReplicas: scaling.maxReplicas,
            targetCPUUtilizationPercentage: scaling.targetCPUUtilizationPercentage,
            scaleDown: scaling.scaleDown,
          }
        : {
            kind: "queueDepth",
            minReplicas: scaling.minReplicas,
            maxReplicas: scaling.maxReplicas,
            scaleDown: scaling.scaleDown,
            targetRunsPerReplica: scaling.targetRunsPerReplica,
            workflowVersion: releases.current.version,
            current: true,
          },
  };
  return { state: config.dispatchRole === "api" ? 3 : 2, queueSettings, main, worker: workerPlan, draining };
}

/**
 * A draining version's workers: the worker tier's settings on the version's own image. With queue-depth
 * autoscaling, KEDA scales them on their version's runs down to zero (a drained version costs nothing and
 * wakes for a run the reaper hands back); otherwise workflow.drainingReplicas keep running until retired.
 */
function drainingWorkerPlan(config: MeshConfig, version: string, image: string): DeploymentPlan {
  const scaling = config.worker.autoscaling;
  const queueDepth = scaling.enabled && scaling.mode === "queueDepth";
  return {
    ...workerTier(config, drainingDeploymentName(version), image),
    replicas: queueDepth ? undefined : config.workflow.drainingReplicas,
    autoscaling: queueDepth
      ? {
          kind: "queueDepth",
          minReplicas: 0,
          maxReplicas: scaling.maxReplicas,
          scaleDown: scaling.scaleDown,
          targetRunsPerReplica: scaling.targetRunsPerReplica,
          workflowVersion: version,
          current: false,
        }
      : undefined,
  };
}

/** What every worker Deployment shares (the current version's and the draining ones'): all but scaling. */
function workerTier(
  config: MeshConfig,
  name: string,
  image: string,
): Omit<DeploymentPlan, "replicas" | "autoscaling"> {
  const worker = config.worker;
  return {
    name,
    image,
    role: "worker",
    serves: false,
    ...labelsFor(name, "worker", image, config),
    resources: worker.resources,
    terminationGracePeriodSeconds: worker.terminationGracePeriodSeconds,
    preStopSleepSeconds: 0,
    shutdownGraceMs: (worker.terminationGracePeriodSeconds - SHUTDOWN_MARGIN_SECONDS) * 1000,
    concurrency: worker.concurrency,
    ...(worker.podDeletionCost ? { podDeletionCost: true } : {}),
    podAnnotations: worker.doNotDisrupt ? { "karpenter.sh/do-not-disrupt": "true" } : {},
    extraEnv: config.extraEnv,
  };
}

/** Whether any worker Deployment's pods write their pod-deletion-cost (they need the API and a ServiceAccount). */
export function workersWriteDeletionCost(plan: TopologyPlan): boolean {
  return [...plan.draining, ...(plan.worker ? [plan.worker] : [])].some((tier) => tier.podDeletionCost);
}

/** One line per Deployment, for stack outputs and previews. */
export function describeTopology(plan: TopologyPlan) {
  const describe = (deployment: DeploymentPlan) => ({
    deployment: deployment.name,
    role: deployment.role,
    replicas:
      deployment.replicas ??
      `${deployment.autoscaling?.minReplicas}-${deployment.autoscaling?.maxReplicas} (${deployment.autoscaling?.kind})`,
  });
  return {
    state: plan.state,
    main: describe(plan.main),
    ...(plan.worker ? { worker: describe(plan.worker) } : {}),
    ...(plan.draining.length > 0 ? { draining: plan.draining.map(describe) } : {}),
  };
}
