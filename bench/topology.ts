import { type MeshProcess, startMesh, stopAll } from "../test/support/mesh-process.js";
import { createTestDatabase, dropTestDatabase, NATS_URL } from "../test/support/services.js";

export interface TopologySpec {
  kind: "all" | "split";
  workers?: number;
  env?: Record<string, string>;
  /** CPU pinning (taskset) for the api/all process and for workers. */
  apiCpus?: string;
  workerCpus?: string;
}

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
