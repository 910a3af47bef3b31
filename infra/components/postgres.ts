import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { verifiedTlsUrl } from "../database-tls.js";
import type { ClusterNetwork } from "./cluster.js";

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
}

const DATABASE = "mesh";
const USER = "mesh";

/**
 * The DBOS system database. Consumers get `databaseUrl` (a secret) and `endpoint`; how it is provided
 * (RDS, an in-cluster StatefulSet, or an external URL) stays in here.
 */
export class Postgres extends pulumi.ComponentResource {
  readonly databaseUrl: pulumi.Output<string>;
  readonly endpoint: pulumi.Output<string>;

  constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mesh:infra:Postgres", name, {}, opts);
    if (args.mode === "rds") {
      ({ databaseUrl: this.databaseUrl, endpoint: this.endpoint } = this.createRds(name, args));
    } else if (args.mode === "inCluster") {
      ({ databaseUrl: this.databaseUrl, endpoint: this.endpoint } = this.createInCluster(name, args));
    } else {
      if (!args.externalUrl) throw new Error("mode external needs externalUrl");
      const caBundle = args.caBundle;
      this.databaseUrl = pulumi.secret(
        caBundle ? args.externalUrl.apply((url) => verifiedTlsUrl(url)) : args.externalUrl,
      );
      this.endpoint = pulumi.output("external");
    }
    this.registerOutputs({ databaseUrl: this.databaseUrl, endpoint: this.endpoint });
  }

  private createRds(name: string, args: PostgresArgs) {
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
        // RDS generates the master password and keeps it in Secrets Manager; it never enters config.
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
    const secretArn = instance.masterUserSecrets.apply((secrets) => secrets[0]?.secretArn ?? "");
    // The URL is copied into a Kubernetes Secret, so automatic rotation would leave pods with a stale
    // password: rotation is off; rotate with `aws secretsmanager rotate-secret` and then `pulumi up`.
    new aws.secretsmanager.SecretRotation(
      `${name}-no-rotation`,
      { secretId: secretArn, rotationEnabled: false },
      { parent: this },
    );
    const credentials = aws.secretsmanager.getSecretVersionOutput({ secretId: secretArn }, { parent: this });
    const databaseUrl = pulumi
      .all([credentials.secretString, instance.address, instance.port])
      .apply(([secretString, host, port]) => {
        const { username, password } = JSON.parse(secretString) as { username: string; password: string };
        // verify-full against the RDS CA bundle mounted in the pods: the server must prove it is this instance.
        return verifiedTlsUrl(
          `postgresql://${encodeURIComponent(username)}:${encodeURIComponent(password)}@${host}:${port}/${DATABASE}`,
        );
      });
    return { databaseUrl: pulumi.secret(databaseUrl), endpoint: instance.endpoint };
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
              spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "10Gi" } } },
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
