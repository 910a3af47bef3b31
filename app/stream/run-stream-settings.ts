// The run stream's name and size, as plain data: read by app/config.ts before anything connects.

export const RUN_STREAM_NAME = "MESH_RUNS";
export const RUN_SUBJECTS = "mesh.runs.>";

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
