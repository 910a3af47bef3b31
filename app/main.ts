// mesh: one image, three dispatch roles. This file is the start-up order of DESIGN §2.1, top to bottom.

import { setTimeout as sleep } from "node:timers/promises";
import { ConfigError, loadConfig, type MeshConfig } from "./config.js";
import { createMeshPool } from "./db.js";
import { DispatchVersion } from "./durability/dispatch-version.js";
import { executionGate } from "./durability/execution-gate.js";
import { Heartbeat } from "./durability/heartbeat.js";
import { runMigrations } from "./durability/migrations.js";
import { Reaper } from "./durability/reaper.js";
import {
  checkImageWorkflowVersion,
  checkRetiringVersions,
  RELEASE_REFUSED_EXIT_CODE,
  ReleaseRefusedError,
} from "./durability/release-checks.js";
import { requeuePendingRuns } from "./durability/requeue-own-runs.js";
import { createHttpApp } from "./http/create-http-app.js";
import { OpenStreams } from "./http/open-streams.js";
import { Readiness } from "./http/readiness.js";
import { startHttpServer } from "./http/server.js";
import { log } from "./log.js";
import { processInfo, streamChunks } from "./metrics.js";
import { RUN_QUEUES } from "./queue-names.js";
import { ensureQueuesRegistered, writeQueueSettings } from "./queue-settings.js";
import { startQueueWake } from "./queue-wake/start-queue-wake.js";
import { listenQueuesFor } from "./role.js";
import { startDeletionCost } from "./scale-in/start-deletion-cost.js";

async function main(argv: string[]): Promise<void> {
  // 1. Resolve the role (and every other variable) from the environment.
  const config = loadConfigOrExit();
  if (config.roleWarning) log.warn(config.roleWarning);

  if (argv[0] === "migrate") {
    await refuseBadRelease(config);
    await runMigrations(
      config.migrationDatabaseUrl,
      { version: config.workflowVersion, promote: true },
      { queueWake: config.queueWake },
      { runtimeDatabaseUrl: config.databaseUrl, scalerDatabaseUrl: config.scalerDatabaseUrl },
    );
    await writeQueueSettingsAsOwner(config);
    if (config.natsUrl) {
      const { migrateRunStream } = await import("./stream/run-stream-setup.js");
      await migrateRunStream(config.natsUrl, config.streamNames, config.stream);
    }
    return;
  }

  // 2. Queue names come from app/queue-names.ts, which imports nothing of DBOS or the workflows.
  const listenQueues = listenQueuesFor(config.role);

  // 3. Configure DBOS before any workflow module is loaded.
  const { DBOS } = await import("@dbos-inc/dbos-sdk");
  DBOS.setConfig({
    name: "mesh",
    systemDatabaseUrl: config.databaseUrl,
    executorID: config.executorId,
    applicationVersion: config.workflowVersion,
    runMigrations: false, // migrations run once, under a lock (step 5) or in the release Job
    // A process frozen inside a transaction (SIGSTOP, a paused VM, a stalled node) holds its runs' row
    // locks until Postgres ends the session, and the reaper's take-over waits on them. End it once the
    // process counts as dead, not at DBOS's 60-s default.
    systemDatabaseIdleTransactionTimeoutMs: config.executorTimeoutMs,
    logLevel: config.logLevel === "debug" || config.logLevel === "trace" ? "debug" : "warn",
    ...(listenQueues === undefined ? {} : { listenQueues }),
  });

  // 4. Load the workflow modules (they register with DBOS) and plug in their ports.
  await import("./workflows/index.js");
  const { bus, ports } = await createRunPorts(config);
  const { setRunPorts } = await import("./workflows/run-ports.js");
  setRunPorts(ports);

  // 5. Migrate (locally, once, under a lock), launch, then register queues: DBOS 5 keeps them in Postgres.
  if (config.autoMigrate)
    await runMigrations(
      config.migrationDatabaseUrl,
      { version: config.workflowVersion, promote: false },
      { queueWake: config.queueWake },
      { runtimeDatabaseUrl: config.databaseUrl, scalerDatabaseUrl: config.scalerDatabaseUrl },
    );
  await DBOS.launch();
  // The release's migration owns the queue settings; a process only creates a missing row.
  await ensureQueuesRegistered(DBOS, config);
  // Processes that dispatch run queues start a run when Postgres says one was enqueued, not at the next poll.
  const queueWake =
    config.queueWake && listenQueues?.length !== 0
      ? await startQueueWake(config.databaseUrl, listenQueues ?? RUN_QUEUES)
      : undefined;

  // 6. HTTP (routes per role), heartbeats, shutdown handling.
  const pool = createMeshPool(config.databaseUrl, { idleTransactionTimeoutMs: config.executorTimeoutMs });
  const readiness = new Readiness(pool);
  const heartbeat = new Heartbeat(
    pool,
    { executorId: config.executorId, role: config.role, version: config.workflowVersion, listenQueues },
    config.heartbeatIntervalMs,
  );
  await heartbeat.start();
  const reaper = new Reaper(pool, {
    selfId: config.executorId,
    executorTimeoutMs: config.executorTimeoutMs,
    intervalMs: Math.max(500, Math.floor(config.executorTimeoutMs / 3)),
  });
  reaper.start();
  // Workers under an autoscaler: scale-in removes the pods holding the fewest runs first.
  const deletionCost = config.podDeletionCost && startDeletionCost(config.podDeletionCost, executionGate);
  // Only processes that serve the API enqueue agent runs.
  const dispatchVersion =
    config.role === "worker"
      ? undefined
      : new DispatchVersion(
          pool,
          config.workflowVersion,
          config.executorTimeoutMs,
          config.heartbeatIntervalMs,
        );
  await dispatchVersion?.start();
  processInfo.set({ role: config.role, version: config.workflowVersion, executor: config.executorId }, 1);

  const openStreams = new OpenStreams();
  const app = createHttpApp({
    role: config.role,
    readiness,
    openStreams,
    pool,
    bus,
    apiToken: config.apiToken,
    sse: config.sse,
    console: config.console,
    executorTimeoutMs: config.executorTimeoutMs,
    dispatchVersion: () => dispatchVersion?.current,
  });
  if (!config.apiToken && config.role !== "worker")
    log.warn(
      { role: config.role },
      "MESH_API_TOKEN is not set: the /v1 API accepts requests without authentication",
    );
  const server = await startHttpServer(
    app,
    { port: config.port, address: config.listenAddress },
    config.http,
  );
  readiness.markReady();
  log.info(
    {
      role: config.role,
      version: config.workflowVersion,
      executorId: config.executorId,
      address: config.listenAddress ?? "*",
      port: config.port,
      bus: bus.kind,
      listenQueues,
    },
    "mesh ready",
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const deadline = Date.now() + config.shutdownGraceMs;
    log.info({ signal, graceMs: config.shutdownGraceMs }, "draining");
    // Whatever hangs below (Postgres gone, NATS gone), the process leaves before the kubelet's SIGKILL.
    setTimeout(() => {
      log.error("shutdown did not finish within MESH_SHUTDOWN_GRACE_MS; exiting");
      process.exit(1);
    }, config.shutdownGraceMs).unref();
    readiness.markDraining();
    reaper.stop();
    deletionCost?.stop();
    dispatchVersion?.stop();
    await heartbeat.stop();
    server.close();
    // Open SSE streams end cleanly now; clients reconnect elsewhere with Last-Event-ID.
    await openStreams.endAll(2_000);
    // Stop dequeuing at once, and let the runs in flight here finish or reach their next checkpoint
    // boundary, within the grace budget (keeping a little of it to hand runs back and exit cleanly).
    // A body stopped at a boundary never executes another segment here, so handing its run back
    // executes no segment twice.
    executionGate.stopAtCheckpoints();
    const waitMs = Math.max(0, deadline - Date.now() - 2_000);
    const dbosStopped = DBOS.shutdown({ workflowCompletionTimeoutMS: waitMs }).catch((error: Error) =>
      log.error({ err: error.message }, "DBOS shutdown failed"),
    );
    if (!(await executionGate.settled(waitMs)))
      log.warn({ runs: executionGate.midSegment }, "runs still inside a segment at the drain deadline");
    // Parked bodies never complete, so DBOS's own wait would run to its timeout: give it only what
    // finished runs need to record their outcome.
    await Promise.race([dbosStopped, sleep(Math.min(1_000, Math.max(0, deadline - Date.now() - 1_500)))]);
    await requeuePendingRuns(config.databaseUrl, config.executorId, executionGate.leftLocally).catch(
      (error: Error) =>
        log.error({ err: error.message }, "could not re-enqueue pending runs; the reaper will"),
    );
    server.closeAllConnections();
    await Promise.allSettled([bus.close(), pool.end(), queueWake?.stop()]);
    log.info({ signal }, "stopped");
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

/**
 * `main.js migrate`, first: a release whose image is not the workflow version the stack says, or that
 * retires a version runs still need, exits with RELEASE_REFUSED_EXIT_CODE before it changes anything.
 */
async function refuseBadRelease(config: MeshConfig): Promise<void> {
  try {
    checkImageWorkflowVersion(config.workflowVersion, config.release.expectedWorkflowVersion);
    await checkRetiringVersions(config.migrationDatabaseUrl, config.release.retiringWorkflowVersions);
  } catch (error) {
    if (!(error instanceof ReleaseRefusedError)) throw error;
    log.error({ err: error.message }, "release refused");
    process.stderr.write(`mesh: release refused: ${error.message}\n`);
    process.exit(RELEASE_REFUSED_EXIT_CODE);
  }
}

/** `main.js migrate`: the release's migration writes the run queues' settings (it owns them). */
async function writeQueueSettingsAsOwner(config: MeshConfig): Promise<void> {
  const { DBOSClient } = await import("@dbos-inc/dbos-sdk");
  const client = await DBOSClient.create({
    systemDatabaseUrl: config.migrationDatabaseUrl,
    applicationName: "mesh",
  });
  try {
    await writeQueueSettings(client, config);
    log.info(
      { workerConcurrency: config.workerConcurrency, pollMs: config.queuePollMs },
      "queue settings written",
    );
  } finally {
    await client.destroy();
  }
}

function loadConfigOrExit(): MeshConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      // One clear line naming the variable; no stack trace.
      process.stderr.write(`mesh: configuration error: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

/** The stream bus for this process and the ports the run workflows publish through. */
async function createRunPorts(config: MeshConfig) {
  const { createModel } = await import("./model/create-model.js");
  const bus = config.natsUrl
    ? await (await import("./stream/jetstream-bus.js")).createJetStreamBus({
        servers: config.natsUrl,
        name: config.executorId,
        names: config.streamNames,
        stream: config.stream,
        // A process that migrates at launch (local runs) is the stream's owner too.
        ownsStreamSettings: config.autoMigrate,
      })
    : (await import("./stream/memory-bus.js")).createMemoryBus();
  const publishSafely =
    <T>(publish: (runId: string, value: T) => Promise<void>) =>
    async (runId: string, value: T) => {
      // Streaming is best effort: the run's output is durable in Postgres, and readers fall back to it.
      try {
        await publish(runId, value);
      } catch (error) {
        log.warn({ runId, err: (error as Error).message }, "could not publish to the run stream");
      }
    };
  return {
    bus,
    ports: {
      model: createModel(config),
      publishChunk: publishSafely(async (runId: string, chunk: { seq: number; text: string }) => {
        await bus.publishChunk(runId, chunk);
        streamChunks.inc({ direction: "published" });
      }),
      publishDone: publishSafely(bus.publishDone),
    },
  };
}

main(process.argv.slice(2)).catch((error: unknown) => {
  log.fatal({ err: error }, "mesh failed to start");
  process.exit(1);
});
