import { type MeshProcess, startMesh, stopAll } from "../test/support/mesh-process.js";
import { createTestDatabase, dropTestDatabase, NATS_URL } from "../test/support/services.js";

export interface TopologySpec {
  kind: "all" | "split";
  workers?: number;
  env?: Record<string, string>;
  /** CPU pinning (taskset) for the api/all process and for workers. */
  apiCpus?: string;
  workerCpus?: string;
  /** Modules the worker processes preload (--import), for experiments on DBOS's dispatcher. */
  workerPreload?: string[];
  /** Runs once the api (which migrates the database) is ready, before any worker starts. */
  afterApiReady?: (databaseUrl: string) => Promise<void>;
}

/** What an experiment adds to a topology (the queue-wake experiment's hook and trigger). */
export type TopologyVariant = Pick<TopologySpec, "workerPreload" | "afterApiReady">;

export interface RunningTopology {
  databaseUrl: string;
  api: MeshProcess;
  workers: MeshProcess[];
}

/** Starts a topology on a fresh database, runs `body`, and always tears it down. */
export async function withTopology<T>(
  spec: TopologySpec,
  body: (topology: RunningTopology) => Promise<T>,
): Promise<T> {
  const databaseUrl = await createTestDatabase(`bench_${spec.kind}`);
  const processes: MeshProcess[] = [];
  try {
    const env = { LOG_LEVEL: "warn", MESH_BUILTIN_TOKEN_DELAY_MS: "0", ...spec.env };
    const api = await startMesh({
      role: spec.kind === "all" ? "all" : "api",
      databaseUrl,
      natsUrl: NATS_URL,
      env,
      cpus: spec.apiCpus,
    });
    processes.push(api);
    await spec.afterApiReady?.(databaseUrl);
    const workers =
      spec.kind === "all"
        ? []
        : await Promise.all(
            Array.from({ length: spec.workers ?? 1 }, () =>
              startMesh({
                role: "worker",
                databaseUrl,
                natsUrl: NATS_URL,
                env,
                cpus: spec.workerCpus,
                preload: spec.workerPreload,
              }),
            ),
          );
    processes.push(...workers);
    // The first poll after a queue is registered can take about a second: let the topology settle.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    return await body({ databaseUrl, api, workers });
  } finally {
    await stopAll(processes);
    await dropTestDatabase(databaseUrl);
  }
}
