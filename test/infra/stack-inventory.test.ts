import assert from "node:assert/strict";
import { migrationJobName } from "../../infra/components/mesh-app.js";
import { objectOf, type RenderedStack, renderStack, resourceOf } from "./support.js";

// Fixture: the three committed stack files, rendered under Pulumi's mocks.
const inventory = (stack: RenderedStack) =>
  stack.resources.map((resource) => `${resource.type} ${resource.name}`).sort();

describe("stack inventories", () => {
  const stacks: Record<string, RenderedStack> = {};
  before(async () => {
    for (const name of ["dev", "prod", "local"]) stacks[name] = await renderStack(name);
  });

  it("dev: all-only topology, small single-AZ RDS, one NATS server", () => {
    const dev = stacks.dev as RenderedStack;
    assert.deepEqual(inventory(dev), [
      "aws:ec2/securityGroup:SecurityGroup mesh-postgres-sg",
      "aws:eks/podIdentityAssociation:PodIdentityAssociation mesh-postgres-migrate-identity",
      "aws:iam/role:Role mesh-postgres-migrate-role",
      "aws:iam/rolePolicy:RolePolicy mesh-postgres-migrate-read-master-secret",
      "aws:rds/instance:Instance mesh-postgres-db",
      "aws:rds/subnetGroup:SubnetGroup mesh-postgres-subnets",
      "kubernetes:apps/v1:Deployment mesh-deployment",
      "kubernetes:apps/v1:StatefulSet mesh-nats-statefulset",
      "kubernetes:batch/v1:Job mesh-migrate",
      "kubernetes:core/v1:ConfigMap mesh-database-ca",
      "kubernetes:core/v1:Namespace mesh-namespace",
      "kubernetes:core/v1:Secret mesh-nats-config",
      "kubernetes:core/v1:Secret mesh-secret",
      "kubernetes:core/v1:Service mesh-nats-client",
      "kubernetes:core/v1:Service mesh-nats-headless",
      "kubernetes:core/v1:Service mesh-service",
      "kubernetes:core/v1:ServiceAccount mesh-migrate-service-account",
      "kubernetes:core/v1:ServiceAccount mesh-nats-service-account",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy mesh-network-default-deny",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy mesh-network-mesh-api",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy mesh-network-mesh-egress",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy mesh-network-mesh-nats",
      "kubernetes:policy/v1:PodDisruptionBudget mesh-nats-pdb",
      "kubernetes:policy/v1:PodDisruptionBudget mesh-pdb",
      "kubernetes:secrets-store.csi.x-k8s.io/v1:SecretProviderClass mesh-owner-secret-provider",
      "mesh:infra:Cluster mesh",
      "mesh:infra:MeshApp mesh",
      "mesh:infra:Nats mesh-nats",
      "mesh:infra:NetworkPolicies mesh-network",
      "mesh:infra:Postgres mesh-postgres",
      "pulumi:providers:kubernetes mesh-eks",
      "pulumi:pulumi:Stack mesh-dev",
      "random:index/randomPassword:RandomPassword mesh-nats-api-password",
      "random:index/randomPassword:RandomPassword mesh-nats-main-password",
      "random:index/randomPassword:RandomPassword mesh-nats-migrate-password",
      "random:index/randomPassword:RandomPassword mesh-nats-route-password",
      "random:index/randomPassword:RandomPassword mesh-nats-worker-password",
      "random:index/randomPassword:RandomPassword mesh-postgres-runtime-password",
      "random:index/randomPassword:RandomPassword mesh-postgres-scaler-password",
    ]);
    const main = objectOf(dev.objects, "Deployment", "mesh");
    assert.equal(main.spec.replicas, 2);
    assert.equal(main.metadata.namespace, "mesh-dev");
    const rds = resourceOf(dev.resources, "aws:rds/instance:Instance").inputs;
    assert.deepEqual(
      {
        instanceClass: rds.instanceClass,
        multiAz: rds.multiAz,
        deletionProtection: rds.deletionProtection,
        skipFinalSnapshot: rds.skipFinalSnapshot,
      },
      { instanceClass: "db.t4g.small", multiAz: false, deletionProtection: false, skipFinalSnapshot: true },
    );
    const nats = objectOf(dev.objects, "StatefulSet", "mesh-nats");
    assert.equal(nats.spec.replicas, 1);
    assert.equal(nats.spec.volumeClaimTemplates[0].spec.storageClassName, "gp3");
    assert.equal(nats.spec.volumeClaimTemplates[0].spec.resources.requests.storage, "5Gi");
    assert.deepEqual(dev.outputs.topology, {
      state: 1,
      main: { deployment: "mesh", role: "all", replicas: 2 },
    });
  });

  it("prod: api + workers scaled on queue depth, multi-AZ RDS with deletion protection, three NATS servers", () => {
    const prod = stacks.prod as RenderedStack;
    const names = inventory(prod);
    for (const expected of [
      "kubernetes:apps/v1:Deployment mesh-worker-deployment",
      "kubernetes:autoscaling/v2:HorizontalPodAutoscaler mesh-hpa",
      "kubernetes:monitoring.coreos.com/v1:PodMonitor mesh-pod-monitor",
      "kubernetes:monitoring.coreos.com/v1:PodMonitor mesh-worker-pod-monitor",
      "kubernetes:monitoring.coreos.com/v1:PrometheusRule mesh-monitoring-alerts",
      "kubernetes:core/v1:ConfigMap mesh-monitoring-dashboard",
      "kubernetes:keda.sh/v1alpha1:ScaledObject mesh-worker-keda",
      "kubernetes:keda.sh/v1alpha1:TriggerAuthentication mesh-worker-keda-auth",
      "kubernetes:core/v1:Secret mesh-worker-keda-secret",
      "kubernetes:policy/v1:PodDisruptionBudget mesh-worker-pdb",
      "mesh:infra:WorkerDeletionCost mesh-worker-deletion-cost",
      "kubernetes:core/v1:ServiceAccount mesh-worker-deletion-cost-service-account",
      "kubernetes:rbac.authorization.k8s.io/v1:Role mesh-worker-deletion-cost-role",
      "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding mesh-worker-deletion-cost-role-binding",
      "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy mesh-worker-deletion-cost-policy",
      "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding mesh-worker-deletion-cost-policy-binding",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy mesh-worker-kubernetes-api-network-policy",
    ]) {
      assert.ok(names.includes(expected), `${expected} missing`);
    }
    assert.ok(!names.includes("kubernetes:autoscaling/v2:HorizontalPodAutoscaler mesh-worker-hpa"));
    assert.equal(names.length, 58);
    const nats = objectOf(prod.objects, "StatefulSet", "mesh-nats");
    assert.equal(nats.spec.replicas, 3);
    assert.equal(nats.spec.podManagementPolicy, "Parallel");
    assert.equal(nats.spec.template.spec.containers[0].image, "nats:2.15.3-alpine");
    const main = objectOf(prod.objects, "Deployment", "mesh");
    const worker = objectOf(prod.objects, "Deployment", "mesh-worker");
    assert.equal(main.spec.replicas, undefined, "the HPA owns the replica count");
    assert.equal(worker.spec.replicas, undefined);
    const scaler = objectOf(prod.objects, "ScaledObject", "mesh-worker");
    assert.deepEqual([scaler.spec.minReplicaCount, scaler.spec.maxReplicaCount], [4, 40]);
    assert.equal(scaler.spec.scaleTargetRef.name, "mesh-worker");
    assert.equal(
      scaler.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds,
      300,
    );
    assert.equal(worker.spec.template.metadata.annotations["karpenter.sh/do-not-disrupt"], "true");
    const rds = resourceOf(prod.resources, "aws:rds/instance:Instance").inputs;
    assert.deepEqual(
      {
        multiAz: rds.multiAz,
        deletionProtection: rds.deletionProtection,
        backup: rds.backupRetentionPeriod,
        class: rds.instanceClass,
      },
      { multiAz: true, deletionProtection: true, backup: 14, class: "db.r6g.large" },
    );
    assert.deepEqual(prod.outputs.topology, {
      state: 3,
      main: { deployment: "mesh", role: "api", replicas: "3-12 (cpu)" },
      worker: { deployment: "mesh-worker", role: "worker", replicas: "4-40 (queueDepth)" },
    });
  });

  it("reaches EKS through a kubeconfig that runs `aws eks get-token` and holds no credentials", () => {
    const provider = resourceOf(
      (stacks.prod as RenderedStack).resources,
      "pulumi:providers:kubernetes",
      "mesh-eks",
    );
    const kubeconfig = JSON.parse(provider.inputs.kubeconfig);
    assert.equal(
      kubeconfig.clusters[0].cluster.server,
      "https://platform-prod.gr7.eu-west-1.eks.amazonaws.com",
    );
    assert.deepEqual(kubeconfig.users[0].user, {
      exec: {
        apiVersion: "client.authentication.k8s.io/v1beta1",
        command: "aws",
        args: ["eks", "get-token", "--cluster-name", "platform-prod", "--region", "eu-west-1"],
      },
    });
  });

  it("local: the ambient kubeconfig and an in-cluster Postgres, no AWS resources", () => {
    const local = stacks.local as RenderedStack;
    assert.equal(local.resources.filter((resource) => resource.type.startsWith("aws:")).length, 0);
    assert.ok(resourceOf(local.resources, "pulumi:providers:kubernetes", "mesh-kubeconfig"));
    objectOf(local.objects, "StatefulSet", "mesh-postgres");
    objectOf(local.objects, "Service", "mesh-postgres");
    assert.equal(local.outputs.databaseEndpoint, "mesh-postgres.mesh-local.svc.cluster.local:5432");
  });

  it("exports namespace, service, topology, database endpoint and NATS URL; no database URL with RDS", () => {
    const prod = stacks.prod as RenderedStack;
    assert.equal(prod.outputs.namespace, "mesh-prod");
    assert.equal(prod.outputs.serviceName, "mesh");
    assert.equal(prod.outputs.serviceUrl, "http://mesh.mesh-prod.svc.cluster.local");
    assert.match(String(prod.outputs.databaseEndpoint), /\.rds\.amazonaws\.com:5432$/);
    assert.equal(prod.outputs.natsUrl, "nats://mesh-nats.mesh-prod.svc.cluster.local:4222");
    // The owner's URL would need the master password, which the stack never reads (master-password.test.ts).
    assert.deepEqual(prod.secretOutputs, []);
  });

  it("names the migration Job after the release (image, queue and stream settings, secrets), so a new one gets a new Job", () => {
    const prod = stacks.prod as RenderedStack;
    const job = prod.objects.find((object) => object.kind === "Job");
    assert.match(job?.metadata.name, /^mesh-migrate-[0-9a-f]{10}$/);
    const stream = { replicas: 3, maxAgeMs: 86_400_000, maxBytes: 2 ** 30 };
    const name = (image: string, concurrency: number, revision: string, replicas = 3) =>
      migrationJobName(
        image,
        { workerConcurrency: concurrency, wake: true },
        { ...stream, replicas },
        revision,
      );
    assert.notEqual(name("mesh:1", 8, "r1"), name("mesh:2", 8, "r1"));
    assert.notEqual(name("mesh:1", 8, "r1"), name("mesh:1", 16, "r1"));
    assert.notEqual(name("mesh:1", 8, "r1"), name("mesh:1", 8, "r2"));
    assert.notEqual(name("mesh:1", 8, "r1"), name("mesh:1", 8, "r1", 1));
    // The Job owns the queue settings and the run stream's: it writes the stack's values.
    const env = Object.fromEntries(
      ((job?.spec.template.spec.containers[0].env ?? []) as { name: string; value?: string }[]).map(
        (entry) => [entry.name, entry.value],
      ),
    );
    assert.equal(env.MESH_WORKER_CONCURRENCY, "8");
    assert.equal(env.MESH_STREAM_REPLICAS, "3");
    assert.equal(env.MESH_STREAM_MAX_AGE_SECONDS, "86400");
    assert.equal(env.MESH_STREAM_MAX_BYTES, String(20 * 2 ** 30));
    assert.deepEqual(job?.spec.template.spec.containers[0].command, ["node", "dist/app/main.js", "migrate"]);
  });
});

describe("RDS (DESIGN §3.2)", () => {
  let prod: RenderedStack;
  before(async () => {
    prod = await renderStack("prod");
  });

  it("is private, encrypted, with an RDS-managed master password", () => {
    const rds = resourceOf(prod.resources, "aws:rds/instance:Instance").inputs;
    assert.equal(rds.publiclyAccessible, false);
    assert.equal(rds.storageEncrypted, true);
    assert.equal(rds.manageMasterUserPassword, true);
    assert.equal(rds.password, undefined);
    assert.equal(rds.engine, "postgres");
  });

  it("opens 5432 only to the cluster security group, with no egress", () => {
    const sg = resourceOf(prod.resources, "aws:ec2/securityGroup:SecurityGroup").inputs;
    assert.equal(sg.vpcId, "vpc-0mock");
    assert.equal(sg.ingress.length, 1);
    const [rule] = sg.ingress;
    assert.deepEqual(
      {
        protocol: rule.protocol,
        from: rule.fromPort,
        to: rule.toPort,
        groups: rule.securityGroups,
        cidrs: rule.cidrBlocks,
      },
      { protocol: "tcp", from: 5432, to: 5432, groups: ["sg-0mockcluster"], cidrs: undefined },
    );
    assert.deepEqual(sg.egress, []);
    const rds = resourceOf(prod.resources, "aws:rds/instance:Instance").inputs;
    assert.deepEqual(rds.vpcSecurityGroupIds, ["mesh-postgres-sg-id"]);
  });

  it("sits in the cluster VPC's private subnets", () => {
    const subnets = resourceOf(prod.resources, "aws:rds/subnetGroup:SubnetGroup").inputs;
    assert.deepEqual(subnets.subnetIds, ["subnet-0priva", "subnet-0privb"]);
  });

  it("prod: multi-AZ, deletion protection, and a final snapshot", () => {
    const rds = resourceOf(prod.resources, "aws:rds/instance:Instance").inputs;
    assert.equal(rds.multiAz, true);
    assert.equal(rds.deletionProtection, true);
    assert.equal(rds.skipFinalSnapshot, false);
    assert.equal(rds.finalSnapshotIdentifier, "mesh-prod-final");
  });
});
