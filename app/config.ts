import { accessSync, constants } from "node:fs";
import { isIP } from "node:net";
import { hostname } from "node:os";
import { z } from "zod";
import { withOwnerCredentials } from "./durability/owner-credentials.js";
import { LOG_LEVELS } from "./log.js";
import { type DispatchRole, resolveRole } from "./role.js";
import {
  DEFAULT_RUN_STREAM_SETTINGS,
  DEPLOYMENT_NAME,
  deploymentFromDatabase,
  type RunStreamNames,
  type RunStreamSettings,
  runStreamNames,
} from "./stream/run-stream-settings.js";
import { WORKFLOW_CODE_VERSION } from "./version.js";

/** A configuration problem, reported at start as one line naming the variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

export type ModelSpec =
  | { kind: "builtin" }
  | { kind: "openai"; model: string; baseUrl: string; apiKey?: string };

/** Everything the process reads from its environment, validated once. */
export interface MeshConfig {
  role: DispatchRole;
  roleWarning?: string;
  /** The URL api and worker processes run with: the runtime role (app/durability/runtime-role.ts). */
  databaseUrl: string;
  /** The owner's URL, for migrations only: DATABASE_MIGRATION_URL, or DATABASE_URL when that is unset. */
  migrationDatabaseUrl: string;
  /**
   * KEDA's URL (DATABASE_SCALER_URL, the migration Job's only): the scaler role's password comes from it
   * when the stack generates it; unset, the migration derives one from the owner's URL.
   */
  scalerDatabaseUrl?: string;
  natsUrl?: string;
  /** The run-output stream's replicas and limits (converged by the migration, its owner). */
  stream: RunStreamSettings;
  /** This deployment's stream and subjects: MESH_DEPLOYMENT, or the database's name. */
  streamNames: RunStreamNames;
  port: number;
  /** HTTP server limits against slow or idle clients (app/http/server.ts). */
  http: {
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxConnections: number;
  };
  /** Server-Sent Events: the reconnection delay clients are told, and the keep-alive comment's period. */
  sse: { retryMs: number; heartbeatMs: number };
  /** Whether roles api and all serve the run console at /console (MESH_CONSOLE). */
  console: boolean;
  /** The address the HTTP server binds (default: every interface); a pod's own IP, for instance. */
  listenAddress?: string;
  executorId: string;
  workflowVersion: string;
  /**
   * What the release's migration Job checks before anything rolls (app/durability/release-checks.ts): the
   * version the stack deploys this image as, and the versions whose workers the update removes.
   */
  release: { expectedWorkflowVersion?: string; retiringWorkflowVersions: string[] };
  apiToken?: string;
  workerConcurrency: number;
  shutdownGraceMs: number;
  executorTimeoutMs: number;
  heartbeatIntervalMs: number;
  autoMigrate: boolean;
  /**
   * Wake the queue dispatcher on a Postgres NOTIFY (app/queue-wake/) and poll only as a safety net. Off,
   * mesh dispatches by polling alone, at a fast default interval.
   */
  queueWake: boolean;
  queuePollMs: number;
  /**
   * Keep this pod's `controller.kubernetes.io/pod-deletion-cost` at the runs it holds
   * (MESH_POD_DELETION_COST, app/scale-in/): scale-in then removes idle workers first.
   */
  podDeletionCost?: InClusterPod;
  model: ModelSpec;
  builtin: {
    tokens: number;
    tokenCpuMicros: number;
    tokenDelayMs: number;
    checkpointEvery: number;
    segmentMemoryMb: number;
  };
  logLevel: string;
}

type Env = Record<string, string | undefined>;

/** This process's own pod and the API server that holds it, from the downward API and the kubelet. */
export interface InClusterPod {
  namespace: string;
  podName: string;
  apiHost: string;
  apiPort: number;
}

const postgresUrl = z
  .string()
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === "postgres:" || url.protocol === "postgresql:") && url.hostname !== "";
    } catch {
      return false;
    }
  }, "must be a postgres:// or postgresql:// URL with a host")
  .superRefine((value, context) => {
    // verify-full names the CA bundle by path; the driver reads it on the first connection, so an unmounted
    // bundle would surface later as a bare ENOENT from deep inside a pool.
    let caFile: string | null;
    try {
      caFile = new URL(value).searchParams.get("sslrootcert");
    } catch {
      return; // not a URL: the check above says so
    }
    if (caFile === null) return;
    try {
      accessSync(caFile, constants.R_OK);
    } catch (error) {
      context.addIssue({
        code: "custom",
        message: `names sslrootcert ${caFile}, which cannot be read (${(error as NodeJS.ErrnoException).code}): the database's CA bundle must be mounted there`,
      });
    }
  });

const natsUrls = z.string().refine(
  (value) =>
    value.split(",").every((part) => {
      try {
        const url = new URL(part.trim());
        return ["nats:", "tls:", "ws:", "wss:"].includes(url.protocol) && url.hostname !== "";
      } catch {
        return false;
      }
    }),
  "must be a comma-separated list of nats://host:port URLs",
);

const integer = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const boolean = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(["true", "false", "1", "0", "yes", "no"], "must be true or false"))
  .transform((value) => value === "true" || value === "1" || value === "yes");

const ipAddress = z
  .string()
  .trim()
  .refine((value) => isIP(value) !== 0, "must be an IPv4 or IPv6 address (the pod's own IP, say)");

const deploymentName = z
  .string()
  .trim()
  .regex(DEPLOYMENT_NAME, "must be a DNS label (lowercase letters, digits, '-'), e.g. the namespace")
  .refine((name) => name !== "runs", 'must not be "runs"');

/** A comma-separated list of workflow versions (the names the stack config validates). */
const workflowVersionList = z
  .string()
  .transform((value) => value.split(",").map((entry) => entry.trim()))
  .refine((versions) => versions.every((version) => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(version)), {
    message: "must be workflow versions separated by commas, like mesh-wf-1,mesh-wf-2",
  });

const modelSpec = z
  .string()
  .trim()
  .regex(/^(builtin|openai:[\w.:/-]+)$/, 'must be "builtin" or "openai:<model>"');

/** Reads one variable through a schema; an absent or empty value takes the fallback. */
/** Two Postgres URLs of one database (users and parameters aside). */
function sameDatabase(a: string, b: string): boolean {
  const [left, right] = [new URL(a), new URL(b)];
  const port = (url: URL) => url.port || "5432";
  return left.hostname === right.hostname && port(left) === port(right) && left.pathname === right.pathname;
}

function read<T>(env: Env, name: string, schema: z.ZodType<T, string>, fallback: T): T;
function read<T>(env: Env, name: string, schema: z.ZodType<T, string>): T | undefined;
function read<T>(env: Env, name: string, schema: z.ZodType<T, string>, fallback?: T): T | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const reason = parsed.error.issues[0]?.message ?? "is invalid";
    throw new ConfigError(`${name} ${reason} (got ${JSON.stringify(redact(name, raw))})`);
  }
  return parsed.data;
}

/**
 * What an error may echo of a bad value. Tokens and keys: nothing. URLs: everything but the credentials,
 * found without parsing (the value is invalid, so it may not parse): whatever lies between the scheme and
 * the last "@" is dropped, so a password holding "/", "#", "@" or spaces never shows, even in part.
 */
function redact(name: string, raw: string): string {
  if (/(TOKEN|KEY|PASSWORD|SECRET)$/.test(name)) return "<redacted>";
  const shown =
    name.endsWith("_URL") && raw.includes("@")
      ? raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)?.*@/is, "$1***@")
      : raw;
  return shown.length > 80 ? `${shown.slice(0, 80)}...` : shown;
}

/**
 * MESH_API_TOKEN: unset runs the API open (main.ts warns at start-up); set but blank is a mistake (a
 * Secret key with an empty value, a templating slip) and must not silently open the API.
 */
function apiToken(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const token = raw.trim();
  if (token === "")
    throw new ConfigError(
      "MESH_API_TOKEN is set but blank: set a token, or unset the variable to run the API without auth",
    );
  return token;
}

/**
 * MESH_POD_DELETION_COST=true writes to this pod through the API server: it needs the pod's name and
 * namespace (the downward API) and the API server's address (set by the kubelet in every container).
 */
function inClusterPod(env: Env): InClusterPod {
  const needed = ["POD_NAME", "POD_NAMESPACE", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"] as const;
  const missing = needed.filter((name) => !env[name]?.trim());
  if (missing.length > 0)
    throw new ConfigError(
      `MESH_POD_DELETION_COST=true needs ${missing.join(", ")}: it writes this pod's annotation through the Kubernetes API (POD_NAME and POD_NAMESPACE from the downward API)`,
    );
  return {
    namespace: env.POD_NAMESPACE?.trim() ?? "",
    podName: env.POD_NAME?.trim() ?? "",
    apiHost: env.KUBERNETES_SERVICE_HOST?.trim() ?? "",
    apiPort: read(env, "KUBERNETES_SERVICE_PORT", integer(1, 65_535), 443),
  };
}

/** Builds the validated configuration or throws a ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): MeshConfig {
  const { role, warning } = resolveRole(env.MESH_DISPATCH_ROLE);

  const databaseUrl = read(env, "DATABASE_URL", postgresUrl);
  if (!databaseUrl)
    throw new ConfigError("DATABASE_URL is required (the Postgres URL of the DBOS system database)");
  const migrationBaseUrl = read(env, "DATABASE_MIGRATION_URL", postgresUrl) ?? databaseUrl;
  if (!sameDatabase(databaseUrl, migrationBaseUrl))
    throw new ConfigError(
      "DATABASE_MIGRATION_URL must name the same host, port and database as DATABASE_URL (only the user differs)",
    );
  const ownerCredentialsFile = read(env, "DATABASE_MIGRATION_CREDENTIALS_FILE", z.string().trim());
  let migrationDatabaseUrl = migrationBaseUrl;
  if (ownerCredentialsFile !== undefined) {
    try {
      migrationDatabaseUrl = withOwnerCredentials(migrationBaseUrl, ownerCredentialsFile);
    } catch (error) {
      throw new ConfigError(`DATABASE_MIGRATION_CREDENTIALS_FILE: ${(error as Error).message}`);
    }
  }
  const scalerDatabaseUrl = read(env, "DATABASE_SCALER_URL", postgresUrl);
  if (scalerDatabaseUrl !== undefined && !sameDatabase(databaseUrl, scalerDatabaseUrl))
    throw new ConfigError(
      "DATABASE_SCALER_URL must name the same host, port and database as DATABASE_URL (only the user differs)",
    );

  // Role api reads run streams only: when its deployment gives it a user of its own for that (the stacks'
  // NATS_API_URL, a user that cannot publish a chunk), it connects as that user.
  const natsApiUrl = role === "api" ? read(env, "NATS_API_URL", natsUrls) : undefined;
  const natsUrl = natsApiUrl ?? read(env, "NATS_URL", natsUrls);
  if (!natsUrl && role !== "all") {
    throw new ConfigError(
      `NATS_URL is required for role "${role}": api and worker processes stream run output through NATS JetStream`,
    );
  }

  const shutdownGraceMs = read(env, "MESH_SHUTDOWN_GRACE_MS", integer(0, 3_600_000), 25_000);
  const executorTimeoutMs = read(env, "MESH_EXECUTOR_TIMEOUT_MS", integer(1_000, 3_600_000), 30_000);
  const queueWake = read(env, "MESH_QUEUE_WAKE", boolean, true);

  const modelRaw = read(env, "MESH_MODEL", modelSpec, "builtin");
  let model: ModelSpec = { kind: "builtin" };
  if (modelRaw.startsWith("openai:")) {
    const baseUrl = read(
      env,
      "OPENAI_BASE_URL",
      z.url("must be an http(s) URL"),
      "https://api.openai.com/v1",
    );
    model = { kind: "openai", model: modelRaw.slice("openai:".length), baseUrl, apiKey: env.OPENAI_API_KEY };
  }

  return {
    role,
    roleWarning: warning,
    databaseUrl,
    migrationDatabaseUrl,
    ...(scalerDatabaseUrl === undefined ? {} : { scalerDatabaseUrl }),
    natsUrl,
    streamNames: runStreamNames(
      read(env, "MESH_DEPLOYMENT", deploymentName) ?? deploymentFromDatabase(databaseUrl),
    ),
    stream: {
      replicas: read(env, "MESH_STREAM_REPLICAS", integer(1, 5), DEFAULT_RUN_STREAM_SETTINGS.replicas),
      maxAgeMs:
        read(
          env,
          "MESH_STREAM_MAX_AGE_SECONDS",
          integer(60, 365 * 24 * 3600),
          DEFAULT_RUN_STREAM_SETTINGS.maxAgeMs / 1000,
        ) * 1000,
      maxBytes: read(
        env,
        "MESH_STREAM_MAX_BYTES",
        integer(1024 * 1024, Number.MAX_SAFE_INTEGER),
        DEFAULT_RUN_STREAM_SETTINGS.maxBytes,
      ),
    },
    port: read(env, "PORT", integer(0, 65_535), 8080),
    listenAddress: read(env, "MESH_LISTEN_ADDRESS", ipAddress),
    sse: {
      retryMs: read(env, "MESH_SSE_RETRY_MS", integer(100, 600_000), 2_000),
      heartbeatMs: read(env, "MESH_SSE_HEARTBEAT_MS", integer(100, 600_000), 15_000),
    },
    console: read(env, "MESH_CONSOLE", boolean, false),
    http: {
      headersTimeoutMs: read(env, "MESH_HTTP_HEADERS_TIMEOUT_MS", integer(500, 600_000), 15_000),
      requestTimeoutMs: read(env, "MESH_HTTP_REQUEST_TIMEOUT_MS", integer(1_000, 3_600_000), 60_000),
      keepAliveTimeoutMs: read(env, "MESH_HTTP_KEEP_ALIVE_TIMEOUT_MS", integer(1_000, 600_000), 65_000),
      maxConnections: read(env, "MESH_HTTP_MAX_CONNECTIONS", integer(1, 1_000_000), 10_000),
    },
    executorId: env.POD_NAME?.trim() || `${hostname()}-${process.pid}`,
    workflowVersion: env.MESH_WORKFLOW_VERSION?.trim() || WORKFLOW_CODE_VERSION,
    release: {
      expectedWorkflowVersion: env.MESH_EXPECTED_WORKFLOW_VERSION?.trim() || undefined,
      retiringWorkflowVersions: read(env, "MESH_RETIRING_WORKFLOW_VERSIONS", workflowVersionList, []),
    },
    apiToken: apiToken(env.MESH_API_TOKEN),
    workerConcurrency: read(env, "MESH_WORKER_CONCURRENCY", integer(1, 10_000), 8),
    shutdownGraceMs,
    executorTimeoutMs,
    heartbeatIntervalMs: Math.max(250, Math.floor(executorTimeoutMs / 6)),
    autoMigrate: read(env, "MESH_AUTO_MIGRATE", boolean, true),
    queueWake,
    // With the wake-up, polling only bounds how late a run starts when a notification is lost.
    queuePollMs: read(env, "MESH_QUEUE_POLL_MS", integer(10, 60_000), queueWake ? 1_000 : 50),
    ...(read(env, "MESH_POD_DELETION_COST", boolean, false) ? { podDeletionCost: inClusterPod(env) } : {}),
    model,
    builtin: {
      tokens: read(env, "MESH_BUILTIN_TOKENS", integer(1, 100_000), 40),
      tokenCpuMicros: read(env, "MESH_BUILTIN_TOKEN_CPU_US", integer(0, 10_000_000), 200),
      tokenDelayMs: read(env, "MESH_BUILTIN_TOKEN_DELAY_MS", integer(0, 60_000), 5),
      checkpointEvery: read(env, "MESH_CHECKPOINT_EVERY", integer(1, 100_000), 8),
      segmentMemoryMb: read(env, "MESH_BUILTIN_SEGMENT_MEMORY_MB", integer(0, 4_096), 0),
    },
    logLevel: read(env, "LOG_LEVEL", z.enum(LOG_LEVELS), "info"),
  };
}
