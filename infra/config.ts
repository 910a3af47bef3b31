import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { readCaBundle } from "./database-tls.js";
import { quantityToBytes } from "./quantity.js";

// Every stack config key of DESIGN §3.1, read once and validated as a whole. Nothing else in the
// program calls pulumi.Config: it receives the immutable MeshConfig built here.

const quantity = z
  .string()
  .regex(/^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/, "must be a Kubernetes quantity like 250m or 512Mi");
const resources = z.strictObject({
  requests: z.strictObject({ cpu: quantity, memory: quantity }),
  limits: z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() }).optional(),
});
const replicas = z.number().int("must be a whole number").min(0, "must be 0 or more");
const percent = z.number().int().min(1, "must be 1-100").max(100, "must be 1-100");

const clusterSchema = z
  .strictObject({
    /** `eks`: an existing EKS cluster read by name; `kubeconfig`: the ambient kubeconfig (kind, minikube). */
    mode: z.enum(["eks", "kubeconfig"]).default("eks"),
    /** EKS cluster name (required for mode eks). */
    name: z.string().min(1).optional(),
    /** AWS region of the cluster; defaults to the stack's aws:region. */
    region: z.string().min(1).optional(),
    /** kubeconfig context for mode kubeconfig; defaults to the current context. */
    context: z.string().min(1).optional(),
  })
  .prefault({});

/**
 * How an autoscaler removes pods (the HPA's behavior.scaleDown): only after the load has stayed lower for
 * stabilizationWindowSeconds, then at most `pods` per periodSeconds.
 */
const scaleDownSchema = z.strictObject({
  stabilizationWindowSeconds: z.number().int().min(0).max(3600, "must be at most 3600 (1 h)").default(300),
  pods: z.number().int().min(1, "must be at least 1").default(1),
  periodSeconds: z.number().int().min(1).max(1800, "must be at most 1800 (the HPA's limit)").default(60),
});

const apiSchema = z
  .strictObject({
    // At least one: the api tier serves the Service (and, in state 1, dequeues every run).
    replicas: z
      .number()
      .int("must be a whole number")
      .min(1, "must be at least 1 (the api tier serves the Service)")
      .default(2),
    resources: resources.default({ requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "512Mi" } }),
    /** Serve the run console at /console (MESH_CONSOLE). Off: an operator turns it on where it is wanted. */
    console: z.boolean().default(false),
    terminationGracePeriodSeconds: z
      .number()
      .int()
      .min(15, "must be at least 15 (5 s preStop + drain + 5 s margin)")
      .max(3600)
      .default(30),
    autoscaling: z
      .strictObject({
        enabled: z.boolean().default(false),
        minReplicas: z.number().int().min(1, "must be at least 1").default(2),
        maxReplicas: z.number().int().min(1, "must be at least 1").default(6),
        targetCPUUtilizationPercentage: percent.default(70),
        /** Unset: the HPA's own scale-down (5 minutes' stabilization, then as fast as the load fell). */
        scaleDown: scaleDownSchema.optional(),
      })
      .prefault({}),
  })
  .prefault({});

const workerSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    replicas: replicas.default(2),
    concurrency: z.number().int().min(1, "must be at least 1").max(1000).default(8),
    resources: resources.default({ requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1Gi" } }),
    /** Long enough for an in-flight run to finish or checkpoint; MESH_SHUTDOWN_GRACE_MS is set 5 s below. */
    terminationGracePeriodSeconds: z.number().int().min(10, "must be at least 10").max(3600).default(120),
    /** Adds karpenter.sh/do-not-disrupt to worker pods so Karpenter never consolidates a busy node. */
    doNotDisrupt: z.boolean().default(false),
    /**
     * Each worker keeps its pod's controller.kubernetes.io/pod-deletion-cost at the runs it holds, so a
     * scale-in removes idle workers first (a ServiceAccount, a Role and an admission policy that allow a
     * worker that one write to its own pod, and nothing else).
     */
    podDeletionCost: z.boolean().default(true),
    autoscaling: z
      .strictObject({
        enabled: z.boolean().default(false),
        mode: z.enum(["cpu", "queueDepth"]).default("cpu"),
        minReplicas: z.number().int().min(0).default(1),
        maxReplicas: z.number().int().min(1, "must be at least 1").default(10),
        targetCPUUtilizationPercentage: percent.default(70),
        targetRunsPerReplica: z.number().int().min(1).default(8),
        /**
         * Scale-in is gradual: workers go only after the load has stayed lower for stabilizationWindowSeconds,
         * then at most `pods` per periodSeconds (the HPA's scaleDown behavior).
         */
        scaleDown: scaleDownSchema.prefault({}),
      })
      .prefault({}),
  })
  .prefault({});

const postgresSchema = z
  .strictObject({
    /** `rds`: AWS RDS in the cluster's VPC; `inCluster`: a StatefulSet (local stacks); `external`: secret `databaseUrl`. */
    mode: z.enum(["rds", "inCluster", "external"]).default("rds"),
    instanceClass: z.string().min(1).default("db.t4g.small"),
    allocatedStorage: z.number().int().min(20, "must be at least 20 (GiB)").max(65536).default(20),
    engineVersion: z.string().min(1).default("16"),
    multiAz: z.boolean().default(false),
    deletionProtection: z.boolean().default(false),
    backupRetentionDays: z.number().int().min(0).max(35, "must be 0-35").default(7),
    /** Private subnets for the DB subnet group; default: the cluster VPC's subnets tagged subnetTag. */
    subnetIds: z.array(z.string().min(1)).min(2, "needs at least 2 subnets in different AZs").optional(),
    /** The tag that marks the cluster VPC's private subnets (without subnetIds). */
    subnetTag: z
      .strictObject({
        key: z.string().min(1).default("kubernetes.io/role/internal-elb"),
        value: z.string().min(1).default("1"),
      })
      .prefault({}),
    /**
     * Security groups admitted to 5432 besides the EKS cluster security group: whatever mesh's pods leave
     * from when it is not that group — Karpenter's or self-managed node groups' node security group, or
     * the group of security groups for pods.
     */
    allowedSecurityGroupIds: z
      .array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, "must be a security group ID like sg-0123456789abcdef0"))
      .default([]),
    /**
     * A PEM file of the CA(s) that sign the database's certificate (path relative to the project): pods
     * connect with sslmode=verify-full against it. Default with mode rds: Amazon RDS's CAs. With mode
     * external it switches verify-full on; mode inCluster has no TLS to verify.
     */
    caBundleFile: z.string().trim().min(1).optional(),
    /**
     * The runtime role's credential generation: raise it by one to rotate the pods' database credentials.
     * The next update creates role `<db>_runtime_g<N>` with a new password and rolls the pods onto it; the
     * previous generation keeps working for pods still rolling away, older ones are dropped.
     */
    runtimeCredentialGeneration: z.number().int("must be a whole number").min(0).max(999_999_999).default(0),
  })
  .prefault({});

const duration = z.string().regex(/^\d+(s|m|h|d)$/, "must be a duration like 90s, 30m, 24h or 7d");

const natsSchema = z
  .strictObject({
    /**
     * `managed`: mesh's own NATS JetStream StatefulSet in the namespace (infra/components/nats.ts);
     * `external`: an existing server, secret `natsUrl`. `helm` (the official chart, before mesh owned its
     * NATS) is read as `managed` with a warning: docs/operations.md says how a stack moves.
     */
    mode: z.enum(["managed", "external", "helm"]).default("managed"),
    /** NATS servers: 1, or 3+ for a JetStream cluster (RAFT needs a majority). */
    replicas: z.number().int().min(1, "must be at least 1").default(1),
    /** nats-server image, pinned to a release (prod: the digest its registry mirror holds). */
    image: z.string().trim().min(1).default("nats:2.15.3-alpine"),
    /** StorageClass of the JetStream volumes; unset: the cluster's default StorageClass. */
    storageClassName: z.string().min(1).optional(),
    resources: resources.default({
      requests: { cpu: "250m", memory: "512Mi" },
      limits: { memory: "1Gi" },
    }),
    /** How long a stopping server stays in lame-duck mode, moving clients off before it exits (NATS: ≥ 30). */
    lameDuckDurationSeconds: z
      .number()
      .int()
      .min(30, "must be at least 30 (nats-server refuses a shorter lame-duck duration)")
      .max(600)
      .default(30),
    /** Obsolete: the official chart is no longer used (accepted while stacks move, with a warning). */
    chartVersion: z.string().min(1).optional(),
    jetstream: z
      .strictObject({
        /** Size of each server's JetStream volume. */
        fileStorageSize: quantity.default("10Gi"),
        /** Memory-store limit of each server (mesh's stream is on file; this caps other uses). */
        memoryStorageSize: quantity.default("256Mi"),
      })
      .prefault({}),
    stream: z
      .strictObject({
        /** How long a run's output stays resumable over SSE; later readers get the stored result. */
        maxAge: duration.default("24h"),
        /** Bytes the run stream keeps at most (oldest discarded first). Default: half the volume. */
        maxBytes: quantity.optional(),
        /** Copies of the stream. Default: min(3, replicas) on managed NATS, 1 on external. */
        replicas: z.number().int().min(1).max(5).optional(),
      })
      .prefault({}),
    /**
     * The workloads' NATS credential generation (managed NATS): raise it by one to rotate every user's
     * password. The servers roll first, accepting this generation's users and the previous one's; then
     * the pods roll onto the new users. Older generations are removed.
     */
    credentialGeneration: z.number().int("must be a whole number").min(0).max(999_999_999).default(0),
  })
  .prefault({});

/**
 * Workflow versions (infra/workflow-releases.ts): the version the deployed image carries, and the draining
 * versions to retire. A version names a Deployment (mesh-worker-<version>), so it is a short DNS label.
 */
const workflowVersion = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/,
    "must be a workflow version like mesh-wf-2 (lowercase letters, digits, '-'; at most 40)",
  );
const workflowSchema = z
  .strictObject({
    /**
     * WORKFLOW_CODE_VERSION of the deployed image. Default: this program's (app/version.ts) when mesh:image
     * names the image (built from the same commit), the deployed one's when the image is kept
     * (infra/deployed-image.ts). The migration Job refuses an image that carries another.
     */
    version: workflowVersion.optional(),
    /** Draining versions whose workers this update removes (the migration Job checks none has runs left). */
    retired: z.array(workflowVersion).default([]),
    /** Workers of each draining version when queue-depth autoscaling is off (with it: 0 when idle). */
    drainingReplicas: z
      .number()
      .int()
      .min(1, "must be at least 1 (a draining version's runs need a worker)")
      .default(1),
  })
  .prefault({});

const kedaSchema = z
  .strictObject({
    /** Install KEDA from its official chart (needed by worker.autoscaling.mode=queueDepth) when the cluster lacks it. */
    install: z.boolean().default(false),
    chartVersion: z.string().min(1).default("2.17.2"),
  })
  .prefault({});

/** Tags that name no build: what a template or a stack file holds until someone fills it in. */
const PLACEHOLDER_TAGS = new Set([
  "placeholder",
  "changeme",
  "change-me",
  "replaceme",
  "replace-me",
  "todo",
  "tbd",
  "dummy",
  "fixme",
  "xxx",
]);
/** Registry hosts reserved for examples (RFC 2606): an image there can never be pulled. */
const EXAMPLE_HOST = /(^|\.)(example\.(com|net|org)|[^.]+\.(example|invalid))$|^(example|invalid)$/;

/** Why `image` is a placeholder rather than a build, or undefined. */
export function placeholderImageProblem(image: string): string | undefined {
  if (/[<>{}$]/.test(image)) return `"${image}" is an unexpanded template, not an image`;
  const [name = ""] = image.split("@");
  const segments = name.split("/");
  const host = segments.length > 1 ? (segments[0] ?? "") : "";
  if (EXAMPLE_HOST.test(host.replace(/:\d+$/, "")))
    return `"${image}" is on an example registry (${host}), which no cluster can pull from`;
  const last = segments.at(-1) ?? "";
  const tag = last.includes(":") ? last.slice(last.indexOf(":") + 1) : undefined;
  if (tag !== undefined && PLACEHOLDER_TAGS.has(tag.toLowerCase()))
    return `"${image}" has the placeholder tag "${tag}", not a build`;
  return undefined;
}

/**
 * A pinned image: `repo:tag`, `repo@sha256:<digest>` or `repo:tag@sha256:<digest>`. `latest` and untagged
 * images are refused: the migration Job and the rollout are keyed on the image, so it must name one build.
 * Placeholders are refused too: an `up` that would roll every pod to an image nobody built.
 */
const imageReference = z
  .string()
  .trim()
  .min(
    1,
    "is blank: name the image to deploy (repo:tag or repo@sha256:...), or remove the key to keep the deployed one",
  )
  .superRefine((image, ctx) => {
    const [name = "", digest] = image.split("@");
    const lastSegment = name.split("/").pop() ?? "";
    const tag = lastSegment.includes(":") ? lastSegment.slice(lastSegment.indexOf(":") + 1) : undefined;
    const problem = (message: string) => ctx.addIssue({ code: "custom", message });
    if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest))
      problem(`has a malformed digest "${digest}" (expected sha256: and 64 hex digits)`);
    else if (digest === undefined && tag === undefined)
      problem(`"${image}" has no tag: pin a version tag or a digest (repo:1.4.2 or repo@sha256:...)`);
    else if (tag === "latest")
      problem(`"${image}" uses :latest: pin a version tag or a digest (repo:1.4.2 or repo@sha256:...)`);
    else if (tag !== undefined && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag))
      problem(`has a malformed tag "${tag}"`);
    const placeholder = placeholderImageProblem(image);
    if (placeholder)
      problem(
        `${placeholder}: set the image to deploy (CI's deploy does, by digest), or remove the key to keep the deployed one`,
      );
  });

const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a DNS-1123 label (lowercase letters, digits, '-')");

const cidr = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, "must be an IPv4 CIDR like 10.0.0.0/16");

/** Prometheus Operator objects, alerts and dashboard (infra/components/monitoring.ts). */
const monitoringSchema = z
  .strictObject({
    /** Render PodMonitors, the PrometheusRule and the dashboard; the Prometheus Operator's CRDs must exist. */
    enabled: z.boolean().default(false),
    /** Labels the Prometheus selects monitors and rules by (kube-prometheus-stack: `release: <name>`). */
    labels: z.record(z.string().min(1), z.string()).default({}),
    scrapeInterval: duration.default("30s"),
    /** Where docs/operations.md is read (each alert links to its section there). */
    runbookBaseUrl: z.string().min(1).default("docs/operations.md"),
    dashboard: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** The label the Grafana sidecar watches ConfigMaps for, and its value. */
        label: z.string().min(1).default("grafana_dashboard"),
        labelValue: z.string().default("1"),
      })
      .prefault({}),
    thresholds: z
      .strictObject({
        /** How long runs may wait with no listener before MeshDispatchStalled fires (Prometheus `for`). */
        dispatchStalledFor: duration.default("2m"),
        oldestEnqueuedSeconds: z.number().positive().default(300),
        dispatchP99Seconds: z.number().positive().default(1),
        streamFallbacksPerSecond: z.number().positive().default(0.05),
        authFailuresPerSecond: z.number().positive().default(0.5),
        restartsIn15m: z.number().int().min(0).default(2),
        maxReplicasMinutes: z.number().int().min(1).default(15),
      })
      .prefault({}),
  })
  .prefault({});

/** Who may reach what in the namespace (infra/components/network-policies.ts). */
const networkPolicySchema = z
  .strictObject({
    /** Render the NetworkPolicies (default-deny plus what mesh needs). */
    enabled: z.boolean().default(true),
    /** Where API traffic comes from: the load balancer's CIDRs, the ingress controller's namespace or pods. */
    apiIngress: z
      .strictObject({
        namespaces: z.array(dnsLabel).default([]),
        podLabels: z.record(z.string(), z.string()).optional(),
        cidrs: z.array(cidr).default([]),
      })
      .prefault({}),
    /** Namespace of the Prometheus that scrapes /metrics. */
    monitoringNamespace: dnsLabel.default("monitoring"),
    /** Namespace of KEDA's operator (reads an in-cluster Postgres for the queue depth). */
    kedaNamespace: dnsLabel.default("keda"),
    /** Ports mesh's pods may open to the model API (OPENAI_BASE_URL). */
    modelApiPorts: z.array(z.number().int().min(1).max(65535)).min(1).default([443]),
    /** Ranges egress by port must not reach (the cluster's pod and service CIDRs, say). */
    egressExceptCidrs: z.array(cidr).default([]),
    /**
     * Where workers reach the Kubernetes API to write their pod-deletion-cost (worker.podDeletionCost):
     * the API server's endpoints as the policy engine sees them after the Service's translation (EKS: the
     * control plane's ENIs in the VPC, port 443). Default: anywhere on 443.
     */
    kubernetesApi: z
      .strictObject({
        cidrs: z.array(cidr).min(1).default(["0.0.0.0/0"]),
        ports: z.array(z.number().int().min(1).max(65535)).min(1).default([443]),
      })
      .prefault({}),
  })
  .prefault({});

/** How the run queues dispatch; the release's migration Job owns both settings (app/queue-settings.ts). */
const queuesSchema = z
  .strictObject({
    /**
     * Start a run when Postgres NOTIFYs its enqueue (the DBOS patch in patches/, app/queue-wake/), polling
     * only as a safety net. Off, the migration removes the trigger and the queues poll fast.
     */
    wake: z.boolean().default(true),
    /** The run queues' polling interval in ms. Default: 1000 with the wake-up, 50 without. */
    pollMs: z.number().int().min(10).max(60_000).optional(),
  })
  .prefault({});

/** Env vars mesh's Deployments set themselves; extraEnv may not override them. */
export const MANAGED_ENV_NAMES = [
  "MESH_DISPATCH_ROLE",
  "PORT",
  "POD_NAME",
  "MESH_AUTO_MIGRATE",
  "MESH_SHUTDOWN_GRACE_MS",
  "MESH_WORKER_CONCURRENCY",
  "MESH_QUEUE_WAKE",
  "MESH_QUEUE_POLL_MS",
  "MESH_LISTEN_ADDRESS",
  "MESH_DEPLOYMENT",
  "DATABASE_URL",
  "DATABASE_MIGRATION_URL",
  "DATABASE_MIGRATION_CREDENTIALS_FILE",
  "DATABASE_SCALER_URL",
  "NATS_URL",
  "NATS_API_URL",
  "MESH_API_TOKEN",
  "MESH_CONSOLE",
];

/**
 * Plain env for every mesh pod (model settings, LOG_LEVEL, ...), e.g. `pulumi config set --path
 * extraEnv.LOG_LEVEL debug`. Values sit in the stack file and the pod spec in plaintext, so names that
 * look like secrets are refused: those belong in a Kubernetes Secret.
 */
const extraEnvSchema = z
  .record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "env var names are letters, digits and '_'"),
    z.union([z.string(), z.number(), z.boolean()]).transform(String),
  )
  .superRefine((env, ctx) => {
    for (const name of Object.keys(env)) {
      if (MANAGED_ENV_NAMES.includes(name))
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: "is set by mesh itself (from the stack's topology and secrets); it cannot be overridden",
        });
      else if (/(TOKEN|KEY|PASSWORD|SECRET|CREDENTIALS?)$/i.test(name))
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: "looks like a secret: extraEnv values are stored and rendered in plaintext",
        });
    }
  })
  .default({});

const configSchema = z
  .strictObject({
    /** Unset: the update keeps the image the stack runs (infra/deployed-image.ts). */
    image: imageReference.optional(),
    namespace: dnsLabel.optional(),
    cluster: clusterSchema,
    dispatchRole: z.enum(["all", "api"]).default("all"),
    api: apiSchema,
    worker: workerSchema,
    queues: queuesSchema,
    postgres: postgresSchema,
    nats: natsSchema,
    keda: kedaSchema,
    workflow: workflowSchema,
    networkPolicy: networkPolicySchema,
    monitoring: monitoringSchema,
    extraEnv: extraEnvSchema,
    hasDatabaseUrl: z.boolean(),
    hasNatsUrl: z.boolean(),
    hasApiToken: z.boolean(),
    blankSecrets: z.array(z.string()),
  })
  .superRefine((config, ctx) => {
    const problem = (path: string, message: string) =>
      ctx.addIssue({ code: "custom", path: path.split("."), message });
    const workerMin = config.worker.autoscaling.enabled
      ? config.worker.autoscaling.minReplicas
      : config.worker.replicas;
    if (config.dispatchRole === "api" && !config.worker.enabled) {
      problem(
        "dispatchRole",
        "dispatchRole=api requires worker.enabled=true: api pods dequeue no queue, so no pod would dequeue the run queues; runs would never dispatch",
      );
    } else if (config.dispatchRole === "api" && workerMin < 1) {
      problem(
        config.worker.autoscaling.enabled ? "worker.autoscaling.minReplicas" : "worker.replicas",
        "dispatchRole=api requires at least one worker replica: no pod would dequeue the run queues; runs would never dispatch",
      );
    }
    for (const tier of ["api", "worker"] as const) {
      const { minReplicas, maxReplicas } = config[tier].autoscaling;
      if (minReplicas > maxReplicas) {
        problem(
          `${tier}.autoscaling.minReplicas`,
          `must not exceed ${tier}.autoscaling.maxReplicas (${minReplicas} > ${maxReplicas})`,
        );
      }
    }
    if (config.cluster.mode === "eks" && !config.hasApiToken) {
      problem(
        "apiToken",
        'is required when cluster.mode=eks: without it the /v1 API is open to anyone who reaches the Service (pulumi config set --secret apiToken "$(openssl rand -hex 32)")',
      );
    }
    for (const key of config.blankSecrets) {
      problem(key, "is set but blank: set a value with pulumi config set --secret, or remove the key");
    }
    if (config.postgres.mode === "rds" && config.cluster.mode !== "eks") {
      problem(
        "postgres.mode",
        "postgres.mode=rds requires cluster.mode=eks (RDS is placed in the EKS cluster's VPC)",
      );
    }
    if (config.postgres.caBundleFile !== undefined) {
      const bundle = readCaBundle(config.postgres.caBundleFile);
      if (config.postgres.mode === "inCluster")
        problem(
          "postgres.caBundleFile",
          "applies to postgres.mode rds and external (the in-cluster Postgres serves no TLS)",
        );
      else if ("problem" in bundle) problem("postgres.caBundleFile", bundle.problem);
    }
    if (config.cluster.mode === "eks" && !config.cluster.name) {
      problem("cluster.name", "is required when cluster.mode=eks (the name of the existing EKS cluster)");
    }
    if (config.postgres.mode === "external" && !config.hasDatabaseUrl) {
      problem(
        "databaseUrl",
        "postgres.mode=external requires the secret databaseUrl (pulumi config set --secret databaseUrl ...)",
      );
    }
    if (config.nats.mode === "external" && !config.hasNatsUrl) {
      problem(
        "natsUrl",
        "nats.mode=external requires natsUrl (pulumi config set --secret natsUrl nats://...)",
      );
    }
    if (config.nats.mode !== "external") natsProblems(config.nats, problem);
    else if (config.nats.credentialGeneration !== 0)
      problem(
        "nats.credentialGeneration",
        "rotates the users of mesh's own NATS (nats.mode=managed); an external NATS's credentials are the secret natsUrl's: set a new one to rotate them",
      );

    if (
      config.worker.autoscaling.enabled &&
      config.worker.autoscaling.mode === "cpu" &&
      config.worker.autoscaling.minReplicas < 1
    ) {
      problem(
        "worker.autoscaling.minReplicas",
        "must be at least 1 with mode=cpu (a CPU autoscaler cannot scale up from zero)",
      );
    }
  });

/** Limits of mesh's own NATS that depend on each other: replicas, the volume, the memory limit. */
function natsProblems(nats: z.infer<typeof natsSchema>, problem: (path: string, message: string) => void) {
  if (nats.replicas === 2) {
    problem(
      "nats.replicas",
      "JetStream needs 1 or at least 3 replicas (its RAFT quorum cannot survive a failure with 2)",
    );
  }
  if (nats.stream.replicas !== undefined && nats.stream.replicas > nats.replicas) {
    problem(
      "nats.stream.replicas",
      `must not exceed nats.replicas (${nats.stream.replicas} > ${nats.replicas}): each copy needs its own server`,
    );
  }
  const fileStore = jetStreamFileStoreBytes(nats.jetstream.fileStorageSize);
  if (nats.stream.maxBytes !== undefined && quantityToBytes(nats.stream.maxBytes) > fileStore) {
    problem(
      "nats.stream.maxBytes",
      `must fit the JetStream volume: at most 90% of nats.jetstream.fileStorageSize (${nats.jetstream.fileStorageSize})`,
    );
  }
  const memoryLimit = nats.resources.limits?.memory;
  if (memoryLimit === undefined) {
    problem(
      "nats.resources.limits.memory",
      "is required: the server's GOMEMLIMIT and JetStream memory store are derived from it",
    );
  } else if (quantityToBytes(nats.jetstream.memoryStorageSize) >= quantityToBytes(memoryLimit)) {
    problem(
      "nats.jetstream.memoryStorageSize",
      `must be below nats.resources.limits.memory (${memoryLimit}): the memory store lives in the container's memory`,
    );
  }
  if (!imageReference.safeParse(nats.image).success) {
    problem(
      "nats.image",
      `"${nats.image}" must name one release: repo:tag or repo@sha256:<digest>, never :latest`,
    );
  }
}

/** JetStream's file-store limit on a server: 90% of its volume, leaving room for RAFT logs and compaction. */
export function jetStreamFileStoreBytes(fileStorageSize: string): number {
  return Math.floor(quantityToBytes(fileStorageSize) * 0.9);
}

type ParsedConfig = z.infer<typeof configSchema>;

/**
 * The validated stack configuration as set: the image and workflow version may be unset (an update that
 * keeps the deployed ones). Secrets stay Outputs; everything else is plain data.
 */
export type StackConfig = Readonly<
  Omit<
    ParsedConfig,
    "hasDatabaseUrl" | "hasNatsUrl" | "hasApiToken" | "blankSecrets" | "namespace" | "nats"
  > & {
    nats: Omit<ParsedConfig["nats"], "mode" | "chartVersion"> & { mode: "managed" | "external" };
    /** Accepted but obsolete settings, for `pulumi preview` to show (program.ts logs them). */
    warnings: string[];
    stack: string;
    namespace: string;
    apiToken?: pulumi.Output<string>;
    /** The model provider's key (OPENAI_API_KEY of the pods that run the model), a secret. */
    modelApiKey?: pulumi.Output<string>;
    databaseUrl?: pulumi.Output<string>;
    natsUrl?: pulumi.Output<string>;
  }
>;

/** The configuration of one update: a StackConfig with the image and workflow version it deploys. */
export type MeshConfig = Readonly<
  Omit<StackConfig, "image" | "workflow"> & {
    image: string;
    workflow: Omit<StackConfig["workflow"], "version"> & { version: string };
  }
>;

export class MeshConfigError extends Error {
  override name = "MeshConfigError";
  constructor(readonly problems: string[]) {
    super(
      `invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
}

export const STRUCTURED_KEYS = [
  "cluster",
  "api",
  "worker",
  "queues",
  "postgres",
  "nats",
  "keda",
  "workflow",
  "networkPolicy",
  "monitoring",
  "extraEnv",
] as const;
export const PLAIN_KEYS = ["image", "namespace", "dispatchRole"] as const;
export const SECRET_KEYS = ["apiToken", "databaseUrl", "natsUrl", "modelApiKey"] as const;
const KNOWN_KEYS = new Set<string>([...STRUCTURED_KEYS, ...PLAIN_KEYS, ...SECRET_KEYS]);

/** Raw values as read from the stack; `secrets` are kept as Outputs and only their presence is validated. */
export interface RawStackConfig {
  stack: string;
  values: Record<string, unknown>;
  secrets: Partial<Record<(typeof SECRET_KEYS)[number], pulumi.Output<string>>>;
  /** Secret keys that are set to an empty or whitespace value. */
  blankSecrets?: string[];
  /** Every key set under the project namespace, to catch typos in top-level keys. */
  keys: string[];
}

/** Validates raw stack config as a whole; throws a MeshConfigError listing every problem, each naming its key. */
export function parseMeshConfig(raw: RawStackConfig): StackConfig {
  const problems: string[] = [];
  for (const key of raw.keys) {
    if (!KNOWN_KEYS.has(key))
      problems.push(`mesh:${key}: unknown key (known: ${[...KNOWN_KEYS].sort().join(", ")})`);
  }
  const parsed = configSchema.safeParse({
    ...raw.values,
    hasDatabaseUrl: raw.secrets.databaseUrl !== undefined,
    hasNatsUrl: raw.secrets.natsUrl !== undefined,
    hasApiToken: raw.secrets.apiToken !== undefined,
    blankSecrets: raw.blankSecrets ?? [],
  });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path.length > 0 ? issue.path.join(".") : "(root)";
      const message =
        issue.code === "unrecognized_keys"
          ? `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}`
          : issue.message;
      problems.push(`mesh:${key}: ${message}`);
    }
  }
  if (problems.length > 0 || !parsed.success) throw new MeshConfigError(problems);
  const {
    hasDatabaseUrl: _db,
    hasNatsUrl: _nats,
    hasApiToken: _token,
    blankSecrets: _blank,
    ...config
  } = parsed.data;
  const warnings: string[] = [];
  if (config.nats.mode === "helm")
    warnings.push(
      "mesh:nats.mode: helm is obsolete: mesh now runs its own NATS (mode managed), which this stack gets; set nats.mode=managed (docs/operations.md, 'Moving from the NATS chart')",
    );
  const ingress = config.networkPolicy.apiIngress;
  if (
    config.networkPolicy.enabled &&
    ingress.namespaces.length === 0 &&
    ingress.cidrs.length === 0 &&
    ingress.podLabels === undefined
  )
    warnings.push(
      "mesh:networkPolicy.apiIngress names no source: the API accepts traffic from pods of any namespace only; a load balancer that targets pods by IP needs its subnets in networkPolicy.apiIngress.cidrs",
    );
  if (config.nats.chartVersion !== undefined)
    warnings.push("mesh:nats.chartVersion: ignored (no chart is installed any more); remove the key");
  const { chartVersion: _chart, ...nats } = config.nats;
  return Object.freeze({
    ...config,
    nats: { ...nats, mode: nats.mode === "helm" ? ("managed" as const) : nats.mode },
    warnings,
    stack: raw.stack,
    namespace:
      config.namespace ??
      `mesh-${raw.stack}`
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, "-")
        .slice(0, 63),
    apiToken: raw.secrets.apiToken,
    modelApiKey: raw.secrets.modelApiKey,
    databaseUrl: raw.secrets.databaseUrl,
    natsUrl: raw.secrets.natsUrl,
  });
}

/** Reads every key of the `mesh` namespace from the running stack. The only place that touches pulumi.Config. */
export function readStackConfig(): RawStackConfig {
  const config = new pulumi.Config("mesh");
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const key of STRUCTURED_KEYS) {
    try {
      const value = config.getObject<unknown>(key);
      if (value !== undefined) values[key] = value;
    } catch {
      problems.push(
        `mesh:${key}: must be a structured value (set it with pulumi config set --path ${key}.<field> ...)`,
      );
    }
  }
  for (const key of PLAIN_KEYS) {
    const value = config.get(key);
    if (value !== undefined) values[key] = value;
  }
  if (problems.length > 0) throw new MeshConfigError(problems);
  const secrets: RawStackConfig["secrets"] = {};
  for (const key of SECRET_KEYS) {
    const value = config.getSecret(key);
    if (value !== undefined) secrets[key] = value;
  }
  // Blankness is checked on the decrypted values the engine handed over, without turning them into
  // plain Outputs; nothing of a value is kept.
  const all = pulumi.runtime.allConfig();
  const blankSecrets = SECRET_KEYS.filter(
    (key) => all[`mesh:${key}`] !== undefined && all[`mesh:${key}`]?.trim() === "",
  );
  const keys = Object.keys(pulumi.runtime.allConfig())
    .filter((key) => key.startsWith("mesh:"))
    .map((key) => key.slice("mesh:".length));
  return { stack: pulumi.getStack(), values, secrets, keys, blankSecrets };
}
