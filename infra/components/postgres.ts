import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { runtimeDatabaseUrl, runtimeRoleName } from "../../app/durability/runtime-role.js";
import { scalerDatabaseUrl, scalerRoleName } from "../../app/durability/scaler-role.js";
import { verifiedTlsUrl } from "../database-tls.js";
import {
  MIGRATION_SERVICE_ACCOUNT,
  masterSecretReadPolicy,
  podIdentityTrustPolicy,
} from "../migration-identity.js";
import type { ClusterNetwork } from "./cluster.js";

/** The in-cluster Postgres's volume (postgres.mode=inCluster, local stacks). */
export const IN_CLUSTER_POSTGRES_VOLUME = "10Gi";

export interface PostgresArgs {
  mode: "rds" | "inCluster" | "external";
  stack: string;
  namespace: pulumi.Input<string>;
  k8sProvider: k8s.Provider;
  /** Cluster network (mode rds). */
  network?: ClusterNetwork;
  /** The database URL (mode external), a secret. */
  externalUrl?: pulumi.Output<string>;
  /** RDS instance class. Default db.t4g.small. */
  instanceClass?: string;
  /** GiB of gp3 storage; autoscaling up to 4x. Default 20. */
  allocatedStorage?: number;
  /** Postgres major (or major.minor) version. Default "16". */
  engineVersion?: string;
  /** Standby in a second AZ. Default false. */
  multiAz?: boolean;
  /** Refuse deletion; also keeps a final snapshot when the instance is deleted. Default false. */
  deletionProtection?: boolean;
  /** Days of automated backups. Default 7. */
  backupRetentionDays?: number;
  /** Subnets for the DB subnet group; default: the VPC's private subnets (tagged `subnetTag`). */
  subnetIds?: string[];
  /** The tag of the VPC's private subnets. Default kubernetes.io/role/internal-elb=1. */
  subnetTag?: { key: string; value: string };
  /** Security groups admitted to 5432 besides the cluster security group (Karpenter's, node groups'). */
  allowedSecurityGroupIds?: string[];
  /**
   * The CA bundle (PEM) the database's certificate is verified against (infra/database-tls.ts): with it,
   * the URL says sslmode=verify-full and names the bundle's path in the pods. Modes rds and external.
   */
  caBundle?: string;
  /**
   * The runtime role's credential generation (postgres.runtimeCredentialGeneration): a new one is a new
   * role with a new password, while the previous generation's pods keep connecting until they are gone.
   */
  runtimeCredentialGeneration?: number;
}

/**
 * How each workload reaches the database, all secrets. Pods get the runtime role's URL, KEDA the scaler
 * role's, and the migration Job the owner's: with RDS that URL carries no credentials, and the Job reads
 * the master user's from Secrets Manager at run time (ownerSecretArn, infra/migration-identity.ts).
 */
export interface DatabaseConnection {
  runtimeUrl: pulumi.Output<string>;
  scalerUrl: pulumi.Output<string>;
  migrationUrl: pulumi.Output<string>;
  ownerSecretArn?: pulumi.Output<string>;
}

/** A URL with a role's credentials. */
function withCredentials(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(user);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

/**
 * KEDA's URL from the owner's: the scaler role (app/durability/scaler-role.ts). KEDA's pgx would send
 * node-postgres's `uselibpqcompat` to the server as a setting, so it is dropped.
 */
function scalerUrlOf(ownerUrl: string): string {
  const url = new URL(scalerDatabaseUrl(ownerUrl));
  url.searchParams.delete("uselibpqcompat");
  return url.toString();
}

/** The connection of a stack that knows the owner's URL (in-cluster, external): roles derived from it. */
function derivedConnection(ownerUrl: pulumi.Output<string>, generation: number): DatabaseConnection {
  return {
    runtimeUrl: pulumi.secret(ownerUrl.apply((url) => runtimeDatabaseUrl(url, generation))),
    scalerUrl: pulumi.secret(ownerUrl.apply(scalerUrlOf)),
    migrationUrl: pulumi.secret(ownerUrl),
  };
}

const DATABASE = "mesh";
const USER = "mesh";

/**
 * The DBOS system database. Consumers get `connection` (each workload's URL, all secrets) and `endpoint`;
 * how it is provided (RDS, an in-cluster StatefulSet, or an external URL) stays in here.
 */
export class Postgres extends pulumi.ComponentResource {
  readonly connection: DatabaseConnection;
  /** The owner's URL where the stack knows it (in-cluster, external); never with RDS. */
  readonly ownerUrl?: pulumi.Output<string>;
  readonly endpoint: pulumi.Output<string>;

  constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mesh:infra:Postgres", name, {}, opts);
    const generation = args.runtimeCredentialGeneration ?? 0;
    if (args.mode === "rds") {
      ({ connection: this.connection, endpoint: this.endpoint } = this.createRds(name, args, generation));
    } else {
      if (args.mode === "inCluster") {
        ({ databaseUrl: this.ownerUrl, endpoint: this.endpoint } = this.createInCluster(name, args));
      } else {
        if (!args.externalUrl) throw new Error("mode external needs externalUrl");
        const caBundle = args.caBundle;
        this.ownerUrl = pulumi.secret(
          caBundle ? args.externalUrl.apply((url) => verifiedTlsUrl(url)) : args.externalUrl,
        );
        this.endpoint = pulumi.output("external");
      }
      this.connection = derivedConnection(this.ownerUrl, generation);
    }
    this.registerOutputs({ endpoint: this.endpoint });
  }

  private createRds(name: string, args: PostgresArgs, generation: number) {
    const network = args.network;
    if (!network) throw new Error("mode rds needs the EKS cluster network");
    if (!args.caBundle) throw new Error("mode rds needs the RDS CA bundle (verify-full)");
    const tags = { "app.kubernetes.io/part-of": "mesh", "pulumi:stack": args.stack };
    const deletionProtection = args.deletionProtection ?? false;

    const subnetTag = args.subnetTag ?? { key: "kubernetes.io/role/internal-elb", value: "1" };
    const subnetIds =
      args.subnetIds ??
      aws.ec2.getSubnetsOutput(
        {
          filters: [
            { name: "vpc-id", values: [network.vpcId] },
            { name: `tag:${subnetTag.key}`, values: [subnetTag.value] },
          ],
        },
        { parent: this },
      ).ids;
    const subnetGroup = new aws.rds.SubnetGroup(
      `${name}-subnets`,
      { description: "mesh Postgres: private subnets of the cluster VPC", subnetIds, tags },
      { parent: this },
    );
    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        description:
          "mesh Postgres: 5432 from the EKS cluster security group and the configured sources only",
        vpcId: network.vpcId,
        // One rule per source, so each reads on its own in the console and in a diff.
        ingress: [
          {
            description: "Postgres from EKS pods and nodes (cluster security group)",
            protocol: "tcp",
            fromPort: 5432,
            toPort: 5432,
            securityGroups: [network.clusterSecurityGroupId],
          },
          ...[...new Set(args.allowedSecurityGroupIds ?? [])].map((group) => ({
            description: "Postgres from mesh pods on a configured source (postgres.allowedSecurityGroupIds)",
            protocol: "tcp",
            fromPort: 5432,
            toPort: 5432,
            securityGroups: [group],
          })),
        ],
        egress: [],
        tags,
      },
      { parent: this },
    );
    const allocatedStorage = args.allocatedStorage ?? 20;
    const instance = new aws.rds.Instance(
      `${name}-db`,
      {
        engine: "postgres",
        engineVersion: args.engineVersion ?? "16",
        instanceClass: args.instanceClass ?? "db.t4g.small",
        allocatedStorage,
        maxAllocatedStorage: allocatedStorage * 4,
        storageType: "gp3",
        storageEncrypted: true,
        dbName: DATABASE,
        username: USER,
        // RDS generates the master password and keeps (and rotates) it in Secrets Manager; it never
        // enters config, state or the cluster.
        manageMasterUserPassword: true,
        dbSubnetGroupName: subnetGroup.name,
        vpcSecurityGroupIds: [securityGroup.id],
        publiclyAccessible: false,
        multiAz: args.multiAz ?? false,
        deletionProtection,
        backupRetentionPeriod: args.backupRetentionDays ?? 7,
        skipFinalSnapshot: !deletionProtection,
        finalSnapshotIdentifier: deletionProtection ? `mesh-${args.stack}-final` : undefined,
        copyTagsToSnapshot: true,
        autoMinorVersionUpgrade: true,
        iamDatabaseAuthenticationEnabled: false,
        tags,
      },
      { parent: this, protect: deletionProtection },
    );
    // RDS generates the master password, keeps it in Secrets Manager and rotates it (every 7 days by
    // default). The program never reads it: only the migration Job does, at run time, as its own identity.
    const ownerSecretArn = instance.masterUserSecrets.apply((secrets) => secrets[0]?.secretArn ?? "");
    const migrateRole = new aws.iam.Role(
      `${name}-migrate-role`,
      {
        description:
          "mesh migration Job (EKS Pod Identity): reads the RDS master user's secret, nothing else",
        assumeRolePolicy: network.clusterArn.apply((arn) => JSON.stringify(podIdentityTrustPolicy(arn))),
        maxSessionDuration: 3600,
        tags,
      },
      { parent: this },
    );
    new aws.iam.RolePolicy(
      `${name}-migrate-read-master-secret`,
      {
        role: migrateRole.id,
        policy: ownerSecretArn.apply((arn) => JSON.stringify(masterSecretReadPolicy(arn))),
      },
      { parent: this },
    );
    new aws.eks.PodIdentityAssociation(
      `${name}-migrate-identity`,
      {
        clusterName: network.clusterName,
        namespace: args.namespace,
        serviceAccount: MIGRATION_SERVICE_ACCOUNT,
        roleArn: migrateRole.arn,
        tags,
      },
      { parent: this },
    );

    // The runtime and scaler roles' passwords: random, kept by Pulumi (secrets in state), set on the roles
    // by the migration Job. A new credential generation replaces the runtime password with the role.
    const runtimePassword = new random.RandomPassword(
      `${name}-runtime-password`,
      { length: 40, special: false, keepers: { generation: String(generation) } },
      { parent: this },
    );
    const scalerPassword = new random.RandomPassword(
      `${name}-scaler-password`,
      { length: 40, special: false },
      { parent: this },
    );
    // verify-full against the RDS CA bundle mounted in the pods: the server must prove it is this instance.
    const base = pulumi
      .all([instance.address, instance.port])
      .apply(([host, port]) => verifiedTlsUrl(`postgresql://${host}:${port}/${DATABASE}`));
    const connection: DatabaseConnection = {
      runtimeUrl: pulumi.secret(
        pulumi
          .all([base, runtimePassword.result])
          .apply(([url, password]) => withCredentials(url, runtimeRoleName(url, generation), password)),
      ),
      scalerUrl: pulumi.secret(
        pulumi
          .all([base, scalerPassword.result])
          .apply(([url, password]) => withCredentials(url, scalerRoleName(url), password)),
      ),
      migrationUrl: base,
      ownerSecretArn,
    };
    return { connection, endpoint: instance.endpoint };
  }

  private createInCluster(name: string, args: PostgresArgs) {
    const provider = args.k8sProvider;
    const password = new random.RandomPassword(
      `${name}-password`,
      { length: 32, special: false },
      { parent: this },
    );
    const labels = { "app.kubernetes.io/name": "mesh-postgres", "app.kubernetes.io/part-of": "mesh" };
    const secret = new k8s.core.v1.Secret(
      `${name}-credentials`,
      {
        metadata: { name: "mesh-postgres", namespace: args.namespace, labels },
        stringData: { POSTGRES_USER: USER, POSTGRES_DB: DATABASE, POSTGRES_PASSWORD: password.result },
      },
      { parent: this, provider },
    );
    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: "mesh-postgres", namespace: args.namespace, labels },
        spec: { selector: labels, ports: [{ name: "postgres", port: 5432, targetPort: "postgres" }] },
      },
      { parent: this, provider },
    );
    new k8s.apps.v1.StatefulSet(
      `${name}-statefulset`,
      {
        metadata: { name: "mesh-postgres", namespace: args.namespace, labels },
        spec: {
          serviceName: "mesh-postgres",
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 999,
                runAsGroup: 999,
                fsGroup: 999,
                seccompProfile: { type: "RuntimeDefault" },
              },
              containers: [
                {
                  name: "postgres",
                  image: "postgres:16-alpine",
                  ports: [{ name: "postgres", containerPort: 5432 }],
                  envFrom: [{ secretRef: { name: secret.metadata.name } }],
                  env: [{ name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" }],
                  readinessProbe: { exec: { command: ["pg_isready", "-U", USER] }, periodSeconds: 5 },
                  livenessProbe: { exec: { command: ["pg_isready", "-U", USER] }, periodSeconds: 15 },
                  resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } },
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ["ALL"] },
                  },
                  volumeMounts: [
                    { name: "data", mountPath: "/var/lib/postgresql/data" },
                    { name: "run", mountPath: "/var/run/postgresql" },
                    { name: "tmp", mountPath: "/tmp" },
                  ],
                },
              ],
              volumes: [
                { name: "run", emptyDir: {} },
                { name: "tmp", emptyDir: {} },
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: "data" },
              spec: {
                accessModes: ["ReadWriteOnce"],
                resources: { requests: { storage: IN_CLUSTER_POSTGRES_VOLUME } },
              },
            },
          ],
        },
      },
      { parent: this, provider },
    );
    const host = pulumi.interpolate`${service.metadata.name}.${args.namespace}.svc.cluster.local`;
    return {
      databaseUrl: pulumi.secret(
        pulumi.interpolate`postgresql://${USER}:${password.result}@${host}:5432/${DATABASE}`,
      ),
      endpoint: pulumi.interpolate`${host}:5432`,
    };
  }
}
