import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Cluster } from "./components/cluster.js";
import { Keda } from "./components/keda.js";
import { MeshApp } from "./components/mesh-app.js";
import { Monitoring } from "./components/monitoring.js";
import { Nats } from "./components/nats.js";
import { NetworkPolicies } from "./components/network-policies.js";
import { Postgres } from "./components/postgres.js";
import type { MeshConfig } from "./config.js";
import { databaseCaBundle } from "./database-tls.js";
import { planNats } from "./nats-plan.js";
import {
  planReplicaHandoffs,
  REPLICAS_OUTPUT,
  type ReplicaLedger,
  replicaLedger,
} from "./replica-handoff.js";
import { describeTopology, planTopology, workersWriteDeletionCost } from "./topology.js";
import { type PlannedReleases, RELEASES_OUTPUT } from "./workflow-releases.js";

/**
 * The whole stack, wired like the diagram: cluster → namespace → Postgres + NATS → mesh.
 * Returns the stack outputs.
 */
export function createMeshStack(
  config: MeshConfig,
  releases: PlannedReleases,
  previousReplicas?: ReplicaLedger,
) {
  const plan = planReplicaHandoffs(planTopology(config, releases.ledger), previousReplicas);
  const natsPlan = planNats(config);
  const cluster = new Cluster("mesh", config.cluster);
  const provider = cluster.provider;

  const namespace = new k8s.core.v1.Namespace(
    "mesh-namespace",
    {
      metadata: {
        name: config.namespace,
        labels: {
          "app.kubernetes.io/part-of": "mesh",
          "pod-security.kubernetes.io/enforce": "baseline",
          "pod-security.kubernetes.io/warn": "restricted",
          "pod-security.kubernetes.io/audit": "restricted",
        },
      },
    },
    { provider },
  );
  const namespaceName = namespace.metadata.name;

  const databaseCa = databaseCaBundle(config.postgres);
  const postgres = new Postgres("mesh-postgres", {
    ...config.postgres,
    caBundle: databaseCa,
    runtimeCredentialGeneration: config.postgres.runtimeCredentialGeneration,
    stack: config.stack,
    namespace: namespaceName,
    k8sProvider: provider,
    network: cluster.network,
    externalUrl: config.databaseUrl,
  });
  const nats = new Nats("mesh-nats", {
    namespace: namespaceName,
    k8sProvider: provider,
    servers: natsPlan.servers,
    externalUrl: config.natsUrl,
  });
  if (config.networkPolicy.enabled)
    new NetworkPolicies("mesh-network", {
      namespace: namespaceName,
      k8sProvider: provider,
      settings: config.networkPolicy,
      managedNats: natsPlan.servers !== undefined,
      workers: plan.worker !== undefined || plan.draining.length > 0,
      inClusterPostgres: config.postgres.mode === "inCluster",
      workersReachKubernetesApi: workersWriteDeletionCost(plan),
    });
  if (config.monitoring.enabled)
    new Monitoring("mesh-monitoring", {
      namespace: namespaceName,
      namespaceName: config.namespace,
      k8sProvider: provider,
      stack: config.stack,
      plan,
      settings: config.monitoring,
    });
  const keda = config.keda.install
    ? new Keda("keda", {
        k8sProvider: provider,
        chartVersion: config.keda.chartVersion,
        databaseCaBundle: databaseCa,
      })
    : undefined;

  const app = new MeshApp("mesh", {
    namespace: namespaceName,
    image: config.image,
    plan,
    releases,
    k8sProvider: provider,
    database: postgres.connection,
    databaseCaBundle: databaseCa,
    natsUrls: nats.clientUrls,
    deployment: config.namespace,
    runStream: natsPlan.stream,
    apiToken: config.apiToken,
    modelApiKey: config.modelApiKey,
    // The migration converges the run stream on mesh's own NATS: it waits for the servers.
    dependsOn: [nats, ...(keda ? [keda] : [])],
  });

  return {
    namespace: namespaceName,
    serviceName: app.serviceName,
    serviceUrl: app.serviceUrl,
    topology: describeTopology(plan),
    databaseEndpoint: postgres.endpoint,
    natsUrl: nats.natsUrl,
    // The owner's URL where the stack knows it anyway (in-cluster, external); RDS's never enters the stack.
    ...(postgres.ownerUrl ? { databaseUrl: pulumi.secret(postgres.ownerUrl) } : {}),
    // Read back by the next update (infra/previous-update.ts): which versions still drain.
    [RELEASES_OUTPUT]: releases.ledger,
    // Read back by the next update: the counts an autoscaler must take over without a reset to 1.
    [REPLICAS_OUTPUT]: replicaLedger(plan),
  };
}
