import { createHash } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { RELEASE_REFUSED_EXIT_CODE } from "../../app/durability/release-refused.js";
import type { RunStreamSettings } from "../../app/stream/run-stream-settings.js";
import {
  MIGRATION_SERVICE_ACCOUNT,
  OWNER_CREDENTIALS_DIR,
  OWNER_CREDENTIALS_FILE,
  OWNER_SECRET_PROVIDER_CLASS,
} from "../migration-identity.js";
import type { NatsUserRole } from "../nats-plan.js";
import { queueDepthQuery } from "../queue-depth-query.js";
import { HANDOFF_FIELD_MANAGER } from "../replica-handoff.js";
import {
  type DeploymentPlan,
  imageVersion,
  type TopologyPlan,
  workersWriteDeletionCost,
} from "../topology.js";
import type { PlannedReleases } from "../workflow-releases.js";
import { databaseCaConfigMap, databaseCaPodParts, databaseCaRevision } from "./database-ca.js";
import { containerSecurityContext, podSecurityContext, tmpVolume, tmpVolumeMount } from "./pod-security.js";
import type { DatabaseConnection } from "./postgres.js";
import { SECRET_REVISION_ANNOTATION, secretRevisionOutput } from "./secret-revision.js";
import {
  WORKER_SERVICE_ACCOUNT,
  WorkerDeletionCost,
  workerTokenVolume,
  workerTokenVolumeMount,
} from "./worker-deletion-cost.js";

export interface MeshAppArgs {
  namespace: pulumi.Input<string>;
  image: string;
  plan: TopologyPlan;
  /** The workflow versions of this update: the release's, the draining ones, those retired now. */
  releases: PlannedReleases;
  k8sProvider: k8s.Provider;
  /** The database URLs (secrets, delivered only through Kubernetes Secrets) and the owner's secret. */
  database: DatabaseConnection;
  /** The CA bundle (PEM) the database URLs verify against, mounted into every pod (infra/database-tls.ts). */
  databaseCaBundle?: string;
  /** Each workload's NATS URL with its own user's credentials (infra/nats-plan.ts NATS_USERS). */
  natsUrls: Record<NatsUserRole, pulumi.Output<string>>;
  /**
   * MESH_DEPLOYMENT of every pod: the deployment's own run stream and subjects on NATS (the namespace), so
   * deployments sharing a NATS never read each other's runs.
   */
  deployment: string;
  /** The run stream's replicas and limits, converged by the migration Job (their one owner). */
  runStream: RunStreamSettings;
  apiToken?: pulumi.Output<string>;
  /** OPENAI_API_KEY for the model calls (pods of both tiers: role all runs the model too). */
  modelApiKey?: pulumi.Output<string>;
  /** What the migration Job (and so every Deployment) waits for: NATS's servers, KEDA. */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export const SECRET_NAME = "mesh";
/** KEDA's own Secret: created with the queue-depth autoscaler, so switching workers on never touches `mesh`. */
export const SCALER_SECRET_NAME = "mesh-keda";
/** The database URL as KEDA's Go Postgres driver reads it (libpq semantics; no node-postgres options). */
export const SCALER_DATABASE_URL_KEY = "KEDA_DATABASE_URL";
/** The owner's URL in Secret `mesh`: read by the migration Job only, never by a pod's container. */
export const MIGRATION_DATABASE_URL_KEY = "DATABASE_MIGRATION_URL";
/** The scaler role's URL in Secret `mesh`, for the migration Job alone. */
export const SCALER_URL_FOR_MIGRATION_KEY = "DATABASE_SCALER_URL";
export { SECRET_REVISION_ANNOTATION } from "./secret-revision.js";

export const HTTP_PORT = 8080;
/** Keys of Secret `mesh` holding the workers' and the migration's NATS URLs (each with its own user). */
export const NATS_WORKER_URL_KEY = "NATS_WORKER_URL";
/** The main pods' URL for role api: a user that reads run streams and cannot publish a chunk. */
export const NATS_API_URL_KEY = "NATS_API_URL";
export const NATS_MIGRATE_URL_KEY = "NATS_MIGRATE_URL";

/**
 * The queue settings' env, set only where they differ from the app's defaults (app/config.ts), so a stack
 * that keeps the defaults renders what it rendered before they existed.
 */
function queueWakeEnv(settings: TopologyPlan["queueSettings"]): { name: string; value: string }[] {
  return [
    ...(settings.wake ? [] : [{ name: "MESH_QUEUE_WAKE", value: "false" }]),
    ...(settings.pollMs === undefined
      ? []
      : [{ name: "MESH_QUEUE_POLL_MS", value: String(settings.pollMs) }]),
  ];
}

/**
 * The Job that migrates the database, writes the queue settings, converges the run stream and sets the
 * scaler role for one release (image, queue and stream settings, and the revision of Secret `mesh`, whose
 * database and NATS URLs it uses): a new release gets a new Job (created before the old one is deleted),
 * and rollouts wait for it.
 */
export function migrationJobName(
  image: string,
  queueSettings: TopologyPlan["queueSettings"],
  runStream: RunStreamSettings,
  secretRevision: string,
  releases?: PlannedReleases,
  databaseCaBundle?: string,
): string {
  // The workflow versions join the hash only when a version drains or retires, so the Job of a stack
  // that never changed its version keeps its name.
  const versions =
    releases && (releases.ledger.draining.length > 0 || releases.retiring.length > 0)
      ? { draining: releases.ledger.draining.map((entry) => entry.version), retiring: releases.retiring }
      : undefined;
  const release = JSON.stringify({
    image,
    queueSettings,
    runStream,
    secretRevision,
    ...(versions ? { versions } : {}),
    // Only stacks that verify TLS carry it, so the others keep their Job's name.
    ...(databaseCaBundle ? { databaseCa: databaseCaRevision(databaseCaBundle) } : {}),
  });
  return `mesh-migrate-${createHash("sha256").update(release).digest("hex").slice(0, 10)}`;
}

/**
 * The mesh service in Kubernetes: its Secret, the per-image migration Job, the main Deployment with
 * its Service, PDB and optional HPA, and (when enabled) the worker Deployment with its PDB and
 * autoscaler. Everything follows the TopologyPlan; nothing here decides what runs where.
 */
/**
 * The migration Job's labels: the main tier's, under a name of its own. Sharing app.kubernetes.io/name
 * with the main pods would put the Job's pod under the main PodDisruptionBudget, whose controller lookup
 * then fails ("jobs.batch does not implement the scale subresource"): the budget allows no disruption
 * and every eviction — every `kubectl drain` — is refused. The rollout drill found it.
 */
export function migrationLabels(plan: TopologyPlan): Record<string, string> {
  return {
    ...plan.main.labels,
    "app.kubernetes.io/name": `${plan.main.name}-migrate`,
    "app.kubernetes.io/component": "migration",
  };
}

export class MeshApp extends pulumi.ComponentResource {
  readonly serviceName: pulumi.Output<string>;
  readonly serviceUrl: pulumi.Output<string>;

  constructor(name: string, args: MeshAppArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mesh:infra:MeshApp", name, {}, opts);
    const childOpts = { parent: this, provider: args.k8sProvider };
    const { plan, namespace } = args;
    const commonLabels = { ...plan.main.labels, "app.kubernetes.io/component": "config" };

    // Pods connect as the runtime role (DML only); the owner's URL goes to the migration Job alone, which
    // creates that role and grants it each release's tables (app/durability/runtime-role.ts).
    const secretData = pulumi.all({
      DATABASE_URL: args.database.runtimeUrl,
      [MIGRATION_DATABASE_URL_KEY]: args.database.migrationUrl,
      // The migration Job sets the scaler role's password from it (KEDA reads its own Secret).
      [SCALER_URL_FOR_MIGRATION_KEY]: args.database.scalerUrl,
      NATS_URL: args.natsUrls.main,
      [NATS_API_URL_KEY]: args.natsUrls.api,
      [NATS_WORKER_URL_KEY]: args.natsUrls.worker,
      [NATS_MIGRATE_URL_KEY]: args.natsUrls.migrate,
      ...(args.apiToken ? { MESH_API_TOKEN: args.apiToken } : {}),
      ...(args.modelApiKey ? { OPENAI_API_KEY: args.modelApiKey } : {}),
    });
    const secret = new k8s.core.v1.Secret(
      `${name}-secret`,
      {
        metadata: { name: SECRET_NAME, namespace, labels: commonLabels },
        type: "Opaque",
        stringData: secretData,
      },
      // After NATS (and KEDA): a rotated NATS user reaches the Secret only once every server accepts it,
      // so even a pod that restarts mid-update never holds credentials its server lacks.
      { ...childOpts, dependsOn: args.dependsOn ?? [] },
    );
    // Rolls every Deployment whose pods read the Secret when any of its values changes (secret-revision.ts).
    const revision = secretRevisionOutput(
      secret.metadata.uid,
      secretData as pulumi.Output<Record<string, string>>,
    );

    const databaseCa = args.databaseCaBundle
      ? databaseCaConfigMap(`${name}-database-ca`, namespace, args.databaseCaBundle, commonLabels, childOpts)
      : undefined;
    const ca = databaseCaPodParts(args.databaseCaBundle);

    const ownerSecret = this.ownerSecretMount(args, commonLabels, childOpts);

    const migration = new k8s.batch.v1.Job(
      `${name}-migrate`,
      {
        metadata: {
          name: revision.apply((secretRevision) =>
            migrationJobName(
              args.image,
              plan.queueSettings,
              args.runStream,
              secretRevision,
              args.releases,
              args.databaseCaBundle,
            ),
          ),
          namespace,
          labels: migrationLabels(plan),
        },
        spec: {
          backoffLimit: 4,
          activeDeadlineSeconds: 600,
          // A refused release (wrong workflow version, a retired version runs still need) fails at once:
          // retrying cannot change the answer, and the update should stop with the Job's message.
          podFailurePolicy: {
            rules: [
              {
                action: "FailJob",
                onExitCodes: {
                  containerName: "migrate",
                  operator: "In",
                  values: [RELEASE_REFUSED_EXIT_CODE],
                },
              },
            ],
          },
          template: {
            metadata: { labels: migrationLabels(plan) },
            spec: {
              restartPolicy: "Never",
              // The AWS identity that may read the master secret belongs to this ServiceAccount alone.
              ...(ownerSecret.serviceAccount ? { serviceAccountName: ownerSecret.serviceAccount } : {}),
              automountServiceAccountToken: false,
              securityContext: podSecurityContext,
              containers: [
                {
                  name: "migrate",
                  image: args.image,
                  command: ["node", "dist/app/main.js", "migrate"],
                  env: [
                    secretEnv("DATABASE_URL"),
                    secretEnv(MIGRATION_DATABASE_URL_KEY),
                    secretEnv(SCALER_URL_FOR_MIGRATION_KEY),
                    ...(ownerSecret.serviceAccount
                      ? [
                          {
                            name: "DATABASE_MIGRATION_CREDENTIALS_FILE",
                            value: `${OWNER_CREDENTIALS_DIR}/${OWNER_CREDENTIALS_FILE}`,
                          },
                        ]
                      : []),
                    secretEnv("NATS_URL", false, NATS_MIGRATE_URL_KEY),
                    { name: "MESH_DEPLOYMENT", value: args.deployment },
                    // The Job owns the run queues' settings (app/queue-settings.ts) and the run stream's
                    // (app/stream/run-stream-setup.ts); pods never overwrite them.
                    { name: "MESH_WORKER_CONCURRENCY", value: String(plan.queueSettings.workerConcurrency) },
                    ...queueWakeEnv(plan.queueSettings),
                    { name: "MESH_STREAM_REPLICAS", value: String(args.runStream.replicas) },
                    { name: "MESH_STREAM_MAX_AGE_SECONDS", value: String(args.runStream.maxAgeMs / 1000) },
                    { name: "MESH_STREAM_MAX_BYTES", value: String(args.runStream.maxBytes) },
                    // The version the stack deploys this image as: the Job fails on an image that carries
                    // another, before any Deployment rolls (app/durability/release-checks.ts).
                    { name: "MESH_EXPECTED_WORKFLOW_VERSION", value: args.releases.ledger.current.version },
                    // Versions whose workers this update removes: the Job fails while one still has runs.
                    ...(args.releases.retiring.length > 0
                      ? [{ name: "MESH_RETIRING_WORKFLOW_VERSIONS", value: args.releases.retiring.join(",") }]
                      : []),
                  ],
                  resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
                  securityContext: containerSecurityContext,
                  volumeMounts: [tmpVolumeMount, ...ca.mounts, ...ownerSecret.mounts],
                },
              ],
              volumes: [tmpVolume, ...ca.volumes, ...ownerSecret.volumes],
            },
          },
        },
      },
      // The Job reads the Secret; Pulumi waits for the Job to complete before the Deployments roll.
      {
        ...childOpts,
        dependsOn: [
          secret,
          ...(databaseCa ? [databaseCa] : []),
          ...ownerSecret.resources,
          ...(args.dependsOn ?? []),
        ],
      },
    );
    const afterMigration = {
      ...childOpts,
      dependsOn: [migration, secret, ...(databaseCa ? [databaseCa] : []), ...(args.dependsOn ?? [])],
    };

    // Workers that write their own pod-deletion-cost: their ServiceAccount and its one permission first.
    const deletionCost = workersWriteDeletionCost(plan)
      ? new WorkerDeletionCost(
          "mesh-worker-deletion-cost",
          {
            namespace,
            namespaceName: args.deployment,
            labels: { ...plan.main.labels, "app.kubernetes.io/component": "worker" },
            k8sProvider: args.k8sProvider,
          },
          { parent: this },
        )
      : undefined;
    const podInputs = { ...args, secretRevision: revision };
    // A draining version's workers come up before the release's own roll: the runs the old pods hand back
    // at SIGTERM (or leave behind) find a worker of their version waiting (infra/workflow-releases.ts).
    const drainerOpts = deletionCost
      ? { ...afterMigration, dependsOn: [...afterMigration.dependsOn, deletionCost] }
      : afterMigration;
    const drainers = plan.draining.map((drainingPlan) =>
      this.workerTier(drainingPlan, podInputs, drainerOpts, childOpts),
    );
    const afterDrainers = { ...afterMigration, dependsOn: [...afterMigration.dependsOn, ...drainers] };
    const workerOpts = deletionCost
      ? { ...afterDrainers, dependsOn: [...afterDrainers.dependsOn, deletionCost] }
      : afterDrainers;
    const main = this.deployment(plan.main, podInputs, afterDrainers);
    const service = new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: plan.main.name, namespace, labels: plan.main.labels },
        spec: {
          type: "ClusterIP",
          selector: plan.main.selectorLabels,
          ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
        },
      },
      childOpts,
    );
    this.disruptionBudget(plan.main, namespace, childOpts);
    if (plan.main.autoscaling) this.autoscaler(plan.main, args, main, childOpts);

    if (plan.worker) this.workerTier(plan.worker, podInputs, workerOpts, childOpts);

    this.serviceName = service.metadata.name;
    this.serviceUrl = pulumi.interpolate`http://${service.metadata.name}.${namespace}.svc.cluster.local`;
    this.registerOutputs({ serviceName: this.serviceName, serviceUrl: this.serviceUrl });
  }

  /**
   * With RDS, the owner's credentials reach the migration Job as a file: the Secrets Store CSI driver's AWS
   * provider mounts the master secret, read with the Job's ServiceAccount's Pod Identity. Nothing of it
   * passes through Pulumi or a Kubernetes Secret; each run of the Job reads the current, rotated value.
   */
  private ownerSecretMount(
    args: MeshAppArgs,
    labels: Record<string, string>,
    opts: pulumi.CustomResourceOptions,
  ) {
    const arn = args.database.ownerSecretArn;
    if (arn === undefined)
      return { serviceAccount: undefined, volumes: [], mounts: [], resources: [] as pulumi.Resource[] };
    const serviceAccount = new k8s.core.v1.ServiceAccount(
      `${MIGRATION_SERVICE_ACCOUNT}-service-account`,
      {
        metadata: { name: MIGRATION_SERVICE_ACCOUNT, namespace: args.namespace, labels },
        automountServiceAccountToken: false,
      },
      opts,
    );
    const providerClass = new k8s.apiextensions.CustomResource(
      "mesh-owner-secret-provider",
      {
        apiVersion: "secrets-store.csi.x-k8s.io/v1",
        kind: "SecretProviderClass",
        metadata: { name: OWNER_SECRET_PROVIDER_CLASS, namespace: args.namespace, labels },
        spec: {
          provider: "aws",
          parameters: {
            usePodIdentity: "true",
            objects: arn.apply(
              (secretArn) =>
                `- objectName: "${secretArn}"\n  objectType: "secretsmanager"\n  objectAlias: "${OWNER_CREDENTIALS_FILE}"\n`,
            ),
          },
        },
      },
      opts,
    );
    return {
      serviceAccount: MIGRATION_SERVICE_ACCOUNT,
      volumes: [
        {
          name: "database-owner",
          csi: {
            driver: "secrets-store.csi.k8s.io",
            readOnly: true,
            volumeAttributes: { secretProviderClass: OWNER_SECRET_PROVIDER_CLASS },
          },
        },
      ],
      mounts: [{ name: "database-owner", mountPath: OWNER_CREDENTIALS_DIR, readOnly: true }],
      resources: [serviceAccount, providerClass] as pulumi.Resource[],
    };
  }

  /** A worker Deployment (the release's or a draining version's) with its budget and autoscaler. */
  private workerTier(
    plan: DeploymentPlan,
    args: MeshAppArgs & { secretRevision: pulumi.Output<string> },
    deploymentOpts: pulumi.CustomResourceOptions,
    childOpts: pulumi.CustomResourceOptions,
  ) {
    const deployment = this.deployment(plan, args, deploymentOpts);
    this.disruptionBudget(plan, args.namespace, childOpts);
    if (plan.autoscaling) this.autoscaler(plan, args, deployment, childOpts);
    return deployment;
  }

  private deployment(
    plan: DeploymentPlan,
    args: MeshAppArgs & { secretRevision: pulumi.Output<string> },
    opts: pulumi.CustomResourceOptions,
  ) {
    const preStop = plan.serves
      ? // Keep serving while the endpoint removal reaches every kube-proxy, then let SIGTERM drain.
        { lifecycle: { preStop: { exec: { command: ["sleep", String(plan.preStopSleepSeconds)] } } } }
      : {};
    const handoff = this.replicaHandoff(plan, args.namespace, opts);
    return new k8s.apps.v1.Deployment(
      `${plan.name}-deployment`,
      {
        metadata: {
          name: plan.name,
          namespace: args.namespace,
          labels: plan.labels,
          // The fields the program declares win over other field managers' claims. The one that matters:
          // once an autoscaler has scaled the tier, the controller manager owns spec.replicas (through the
          // scale subresource), and switching autoscaling off — or any later change of the configured
          // count — would otherwise fail with an apply conflict instead of setting the count.
          annotations: { "pulumi.com/patchForce": "true" },
        },
        spec: {
          ...(plan.replicas === undefined ? {} : { replicas: plan.replicas }),
          revisionHistoryLimit: 5,
          selector: { matchLabels: plan.selectorLabels },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: "25%" } },
          template: {
            metadata: {
              labels: plan.labels,
              annotations: {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": String(HTTP_PORT),
                "prometheus.io/path": "/metrics",
                [SECRET_REVISION_ANNOTATION]: args.secretRevision,
                ...databaseCaPodParts(args.databaseCaBundle).annotations,
                ...plan.podAnnotations,
              },
            },
            spec: {
              ...(plan.podDeletionCost ? { serviceAccountName: WORKER_SERVICE_ACCOUNT } : {}),
              // A worker writing its pod-deletion-cost gets its token from workerTokenVolume alone.
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              terminationGracePeriodSeconds: plan.terminationGracePeriodSeconds,
              securityContext: podSecurityContext,
              topologySpreadConstraints: [
                {
                  maxSkew: 1,
                  topologyKey: "topology.kubernetes.io/zone",
                  whenUnsatisfiable: "ScheduleAnyway",
                  labelSelector: { matchLabels: plan.selectorLabels },
                },
              ],
              containers: [
                {
                  name: "mesh",
                  image: plan.image,
                  ports: [{ name: "http", containerPort: HTTP_PORT, protocol: "TCP" }],
                  env: [
                    { name: "MESH_DISPATCH_ROLE", value: plan.role },
                    { name: "PORT", value: String(HTTP_PORT) },
                    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                    { name: "MESH_AUTO_MIGRATE", value: "false" },
                    { name: "MESH_DEPLOYMENT", value: args.deployment },
                    { name: "MESH_SHUTDOWN_GRACE_MS", value: String(plan.shutdownGraceMs) },
                    // Whether the pod LISTENs for wake-ups; the interval itself is the Job's to write.
                    ...queueWakeEnv(args.plan.queueSettings).filter(
                      (entry) => entry.name === "MESH_QUEUE_WAKE",
                    ),
                    ...(plan.concurrency === undefined
                      ? []
                      : [{ name: "MESH_WORKER_CONCURRENCY", value: String(plan.concurrency) }]),
                    ...(plan.podDeletionCost
                      ? [
                          { name: "MESH_POD_DELETION_COST", value: "true" },
                          {
                            name: "POD_NAMESPACE",
                            valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } },
                          },
                        ]
                      : []),
                    secretEnv("DATABASE_URL"),
                    secretEnv("NATS_URL", false, plan.role === "worker" ? NATS_WORKER_URL_KEY : "NATS_URL"),
                    // Serving pods hold the api user's URL in every state; role api (state 3) connects with
                    // it, so 2 -> 3 changes MESH_DISPATCH_ROLE and nothing else.
                    ...(plan.serves ? [secretEnv(NATS_API_URL_KEY, false)] : []),
                    // Only pods that serve the API need its token (workers serve health and metrics).
                    ...(plan.serves ? [secretEnv("MESH_API_TOKEN", true)] : []),
                    ...(plan.serves && plan.console ? [{ name: "MESH_CONSOLE", value: "true" }] : []),
                    // Optional: the key exists only when the stack sets modelApiKey.
                    secretEnv("OPENAI_API_KEY", true),
                    // Last, so the managed entries keep their positions whatever the stack adds.
                    ...Object.keys(plan.extraEnv)
                      .sort()
                      .map((name) => ({ name, value: plan.extraEnv[name] })),
                  ],
                  // The kubelet probes each pod directly on its own port, so workers stay healthy
                  // although no Service selects them.
                  // /healthz answers from memory; /readyz reads Postgres, bounded at 2 s by the app
                  // (READINESS_DATABASE_TIMEOUT_MS), so its probe waits 3 s.
                  startupProbe: {
                    httpGet: { path: "/healthz", port: "http" },
                    periodSeconds: 2,
                    timeoutSeconds: 2,
                    failureThreshold: 60,
                  },
                  livenessProbe: {
                    httpGet: { path: "/healthz", port: "http" },
                    periodSeconds: 10,
                    timeoutSeconds: 2,
                    failureThreshold: 3,
                  },
                  readinessProbe: {
                    httpGet: { path: "/readyz", port: "http" },
                    periodSeconds: 5,
                    timeoutSeconds: 3,
                    failureThreshold: 2,
                  },
                  resources: plan.resources,
                  securityContext: containerSecurityContext,
                  volumeMounts: [
                    tmpVolumeMount,
                    ...databaseCaPodParts(args.databaseCaBundle).mounts,
                    ...(plan.podDeletionCost ? [workerTokenVolumeMount] : []),
                  ],
                  ...preStop,
                },
              ],
              volumes: [
                tmpVolume,
                ...databaseCaPodParts(args.databaseCaBundle).volumes,
                ...(plan.podDeletionCost ? [workerTokenVolume] : []),
              ],
            },
          },
        },
      },
      // The handoff holds spec.replicas before this update drops it (infra/replica-handoff.ts).
      handoff ? { ...opts, dependsOn: [...dependencies(opts.dependsOn), handoff] } : opts,
    );
  }

  /**
   * The patch that owns a tier's spec.replicas while an autoscaler takes it over, under a field manager of
   * its own, so the Deployment dropping the field never resets the count to 1 (infra/replica-handoff.ts).
   * Forced: it takes the field from whoever last scaled the tier by hand, as the Deployment would.
   */
  private replicaHandoff(
    plan: DeploymentPlan,
    namespace: pulumi.Input<string>,
    opts: pulumi.CustomResourceOptions,
  ) {
    if (plan.replicaHandoff === undefined) return undefined;
    return new k8s.apps.v1.DeploymentPatch(
      `${plan.name}-replica-handoff`,
      {
        metadata: {
          name: plan.name,
          namespace,
          annotations: {
            "pulumi.com/patchFieldManager": HANDOFF_FIELD_MANAGER,
            "pulumi.com/patchForce": "true",
          },
        },
        spec: { replicas: plan.replicaHandoff },
      },
      // Deleting a patch makes the provider relinquish its fields, which fails once the Deployment is gone
      // (a destroy, workers switched off). Retained, it leaves only its field manager's entry behind: a
      // co-owner of a count the Deployment declares again, or one the autoscaler took over already.
      { parent: opts.parent, provider: opts.provider, retainOnDelete: true },
    );
  }

  private disruptionBudget(
    plan: DeploymentPlan,
    namespace: pulumi.Input<string>,
    opts: pulumi.CustomResourceOptions,
  ) {
    return new k8s.policy.v1.PodDisruptionBudget(
      `${plan.name}-pdb`,
      {
        metadata: { name: plan.name, namespace, labels: plan.labels },
        // One pod at a time: a drain never takes a whole tier down, and a single replica can still drain.
        spec: { maxUnavailable: 1, selector: { matchLabels: plan.selectorLabels } },
      },
      opts,
    );
  }

  private autoscaler(
    plan: DeploymentPlan,
    args: MeshAppArgs,
    deployment: k8s.apps.v1.Deployment,
    opts: pulumi.CustomResourceOptions,
  ) {
    const scaling = plan.autoscaling;
    if (!scaling) return;
    const namespace = args.namespace;
    // Workers run long jobs: scale down gradually (by default one pod a minute, after five quiet minutes).
    // The api tier keeps the HPA's scale-up (the faster of 100 % and 4 pods per 15 s): its pods start
    // serving in seconds, and a CPU-bound api needs them sooner than a worker queue does.
    const scaleDown = scaling.scaleDown;
    const behavior = !scaleDown
      ? undefined
      : {
          scaleDown: {
            stabilizationWindowSeconds: scaleDown.stabilizationWindowSeconds,
            policies: [{ type: "Pods", value: scaleDown.pods, periodSeconds: scaleDown.periodSeconds }],
          },
          ...(plan.serves
            ? {}
            : {
                scaleUp: {
                  stabilizationWindowSeconds: 0,
                  policies: [{ type: "Percent", value: 100, periodSeconds: 30 }],
                },
              }),
        };
    if (scaling.kind === "cpu") {
      new k8s.autoscaling.v2.HorizontalPodAutoscaler(
        `${plan.name}-hpa`,
        {
          metadata: { name: plan.name, namespace, labels: plan.labels },
          spec: {
            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name },
            minReplicas: scaling.minReplicas,
            maxReplicas: scaling.maxReplicas,
            metrics: [
              {
                type: "Resource",
                resource: {
                  name: "cpu",
                  target: { type: "Utilization", averageUtilization: scaling.targetCPUUtilizationPercentage },
                },
              },
            ],
            ...(behavior ? { behavior } : {}),
          },
        },
        opts,
      );
      return;
    }
    const auth = this.scalerAuthentication(plan, args, opts);
    new k8s.apiextensions.CustomResource(
      `${plan.name}-keda`,
      {
        apiVersion: "keda.sh/v1alpha1",
        kind: "ScaledObject",
        metadata: { name: plan.name, namespace, labels: plan.labels },
        spec: {
          scaleTargetRef: { name: deployment.metadata.name },
          minReplicaCount: scaling.minReplicas,
          maxReplicaCount: scaling.maxReplicas,
          pollingInterval: 15,
          cooldownPeriod: 300,
          advanced: { horizontalPodAutoscalerConfig: { behavior } },
          triggers: [
            {
              type: "postgresql",
              metadata: {
                query: queueDepthQuery(scaling.workflowVersion, scaling.current),
                targetQueryValue: String(scaling.targetRunsPerReplica),
              },
              authenticationRef: { name: auth.metadata.name },
            },
          ],
        },
      },
      opts,
    );
  }

  /**
   * KEDA's credentials, one Secret and TriggerAuthentication for every queue-depth ScaledObject (the
   * release's workers and the draining versions'), created with the first; named after the worker tier as
   * they always were, so stacks that had them keep them.
   */
  private scalerAuth?: k8s.apiextensions.CustomResource;
  private scalerAuthentication(plan: DeploymentPlan, args: MeshAppArgs, opts: pulumi.CustomResourceOptions) {
    if (this.scalerAuth) return this.scalerAuth;
    // The worker tier's labels at the release's image, whichever ScaledObject comes first.
    const labels = {
      ...plan.labels,
      "app.kubernetes.io/name": "mesh-worker",
      "app.kubernetes.io/version": imageVersion(args.image),
    };
    const scalerSecret = new k8s.core.v1.Secret(
      "mesh-worker-keda-secret",
      {
        metadata: { name: SCALER_SECRET_NAME, namespace: args.namespace, labels },
        type: "Opaque",
        stringData: { [SCALER_DATABASE_URL_KEY]: args.database.scalerUrl },
      },
      opts,
    );
    this.scalerAuth = new k8s.apiextensions.CustomResource(
      "mesh-worker-keda-auth",
      {
        apiVersion: "keda.sh/v1alpha1",
        kind: "TriggerAuthentication",
        metadata: { name: "mesh-worker-postgres", namespace: args.namespace, labels },
        spec: {
          secretTargetRef: [
            { parameter: "connection", name: scalerSecret.metadata.name, key: SCALER_DATABASE_URL_KEY },
          ],
        },
      },
      opts,
    );
    return this.scalerAuth;
  }
}

/** An env var read from Secret `mesh` (from `key`, by default the variable's own name). */
function secretEnv(name: string, optional = false, key = name) {
  return {
    name,
    valueFrom: { secretKeyRef: { name: SECRET_NAME, key, ...(optional ? { optional: true } : {}) } },
  };
}

function dependencies(dependsOn: pulumi.CustomResourceOptions["dependsOn"]): pulumi.Input<pulumi.Resource>[] {
  if (dependsOn === undefined) return [];
  return Array.isArray(dependsOn) ? dependsOn : [dependsOn as pulumi.Input<pulumi.Resource>];
}
