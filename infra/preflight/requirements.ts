// What the cluster must already have for this update to come up, derived from the plan alone (pure):
// each entry is a fact the preflight reads before any resource is registered.

import { IN_CLUSTER_POSTGRES_VOLUME } from "../components/postgres.js";
import type { MeshConfig } from "../config.js";
import { planNats } from "../nats-plan.js";
import type { TopologyPlan } from "../topology.js";

/** A PersistentVolumeClaim's StorageClass: a named one, or the cluster's default (`undefined`). */
export interface VolumeNeed {
  storageClassName: string | undefined;
  /** The config key that names it, for the message. */
  key: string;
  /** Who claims the volumes, for the message. */
  claimant: string;
  /** How many claims, and the storage each requests: what pre-provisioned volumes must cover. */
  claims: number;
  size: string;
}

export interface ClusterRequirements {
  /** KEDA's CRDs: a ScaledObject will be created and this stack does not install KEDA. */
  kedaCrds: string[];
  /** Which autoscalers need the metrics API (config keys), empty when none. */
  metricsApiFor: string[];
  volumes: VolumeNeed[];
  /**
   * The migration Job reads the RDS master secret through the Secrets Store CSI driver under EKS Pod
   * Identity (postgres.mode=rds): the driver and the Pod Identity Agent must run in the cluster.
   */
  ownerSecretMount?: boolean;
  /**
   * KEDA's operator, installed outside the stack, opens the scaler's verify-full connection: it must mount
   * the database's CA bundle where the scaler's URL names it.
   */
  kedaDatabaseCaMount?: boolean;
  /** The Prometheus Operator's CRDs: monitoring.enabled renders PodMonitors and a PrometheusRule. */
  monitoringCrds?: string[];
}

export const KEDA_CRDS = ["scaledobjects.keda.sh", "triggerauthentications.keda.sh"];
export const PROMETHEUS_OPERATOR_CRDS = [
  "podmonitors.monitoring.coreos.com",
  "prometheusrules.monitoring.coreos.com",
];

export function clusterRequirements(config: MeshConfig, plan: TopologyPlan): ClusterRequirements {
  const tiers = [plan.main, ...(plan.worker ? [plan.worker] : []), ...plan.draining];
  const scaledObjects = tiers.some((tier) => tier.autoscaling?.kind === "queueDepth");
  const metricsApiFor: string[] = [];
  if (plan.main.autoscaling?.kind === "cpu") metricsApiFor.push("api.autoscaling");
  if (plan.worker?.autoscaling?.kind === "cpu") metricsApiFor.push("worker.autoscaling (mode cpu)");

  const volumes: VolumeNeed[] = [];
  if (planNats(config).servers)
    volumes.push({
      storageClassName: config.nats.storageClassName,
      key: "nats.storageClassName",
      claimant: "mesh's NATS (JetStream volumes)",
      claims: config.nats.replicas,
      size: config.nats.jetstream.fileStorageSize,
    });
  if (config.postgres.mode === "inCluster")
    volumes.push({
      storageClassName: undefined,
      key: "postgres.mode=inCluster",
      claimant: "the in-cluster Postgres",
      claims: 1,
      size: IN_CLUSTER_POSTGRES_VOLUME,
    });
  return {
    kedaCrds: scaledObjects && !config.keda.install ? KEDA_CRDS : [],
    metricsApiFor,
    volumes,
    ownerSecretMount: config.postgres.mode === "rds",
    monitoringCrds: config.monitoring.enabled ? PROMETHEUS_OPERATOR_CRDS : [],
    kedaDatabaseCaMount:
      scaledObjects &&
      !config.keda.install &&
      (config.postgres.mode === "rds" || config.postgres.caBundleFile !== undefined),
  };
}
