// The run stream's names and size, as plain data: read by app/config.ts before anything connects.

/**
 * Each deployment streams in a subject space of its own: stream `MESH_RUNS_<DEPLOYMENT>` on
 * `mesh.<deployment>.runs.>`. Run IDs derive from (thread, idempotency key), so two deployments sharing a
 * NATS would otherwise read each other's chunks for the same thread and key.
 */
export interface RunStreamNames {
  deployment: string;
  stream: string;
  /** The stream's subject filter. */
  subjects: string;
  subject(runId: string): string;
}

/** A deployment's name: a DNS label (the Kubernetes namespace, or the database's name locally). */
export const DEPLOYMENT_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function runStreamNames(deployment: string): RunStreamNames {
  if (!DEPLOYMENT_NAME.test(deployment) || deployment === "runs")
    throw new Error(`not a deployment name: ${JSON.stringify(deployment)}`);
  return {
    deployment,
    stream: `MESH_RUNS_${deployment.toUpperCase().replace(/-/g, "_")}`,
    subjects: `mesh.${deployment}.runs.>`,
    subject: (runId) => `mesh.${deployment}.runs.${runId}`,
  };
}

/** The deployment name a database gives when MESH_DEPLOYMENT is unset: its name, as a DNS label. */
export function deploymentFromDatabase(databaseUrl: string): string {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1)) || "postgres";
  const label = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return label === "" || label === "runs" ? `db-${label || "default"}` : label;
}

/**
 * How the run-output stream is sized. The release's migration (its one owner, like the queue settings)
 * converges an existing stream to these; a process that finds no stream only creates one.
 */
export interface RunStreamSettings {
  /** Servers holding a copy: min(3, servers) on mesh's own NATS cluster. */
  replicas: number;
  /** How long a run's output stays resumable over SSE (after that, readers get the stored result). */
  maxAgeMs: number;
  /** Bytes kept at most; the oldest messages are discarded first. Below the servers' volume size. */
  maxBytes: number;
}

export const DEFAULT_RUN_STREAM_SETTINGS: RunStreamSettings = {
  replicas: 1,
  maxAgeMs: 24 * 60 * 60 * 1000,
  maxBytes: 1024 * 1024 * 1024,
};
