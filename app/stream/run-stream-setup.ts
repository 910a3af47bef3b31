import {
  DiscardPolicy,
  type JetStreamManager,
  jetstreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { connect, nanos } from "@nats-io/transport-node";
import { log } from "../log.js";
import { natsConnectOptions } from "./nats-servers.js";
import type { RunStreamNames, RunStreamSettings } from "./run-stream-settings.js";

/** Re-run segments repeat their chunks' message IDs within this window; the server drops the repeats. */
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

export function runStreamConfig(
  names: RunStreamNames,
  settings: RunStreamSettings,
): Partial<StreamConfig> & { name: string } {
  return {
    name: names.stream,
    subjects: [names.subjects],
    num_replicas: settings.replicas,
    max_age: nanos(settings.maxAgeMs),
    max_bytes: settings.maxBytes,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(Math.min(DUPLICATE_WINDOW_MS, settings.maxAgeMs)),
  };
}

const alreadyExists = (error: unknown) => /already in use|already exists/i.test(String(error));

/**
 * The owner's path (the migration): create the stream, or update an existing one in place — replicas,
 * age and size limits change without losing a stored message (NATS adds or removes replicas live).
 */
export async function convergeRunStream(
  manager: JetStreamManager,
  names: RunStreamNames,
  settings: RunStreamSettings,
): Promise<void> {
  const config = runStreamConfig(names, settings);
  try {
    await manager.streams.add(config);
    log.info({ stream: names.stream, subjects: names.subjects, ...settings }, "run stream created");
  } catch (error) {
    if (!alreadyExists(error)) throw error;
    const before = (await manager.streams.info(names.stream)).config;
    await manager.streams.update(names.stream, config);
    log.info(
      {
        stream: names.stream,
        from: { replicas: before.num_replicas, maxBytes: before.max_bytes, maxAgeNs: before.max_age },
        to: settings,
      },
      "run stream settings converged",
    );
  }
}

/**
 * Every other process: a missing stream (a NATS without the migration's stream, a local run) is created,
 * an existing one is left as its owner set it — a pod never overwrites the release's settings.
 */
export async function createRunStreamIfMissing(
  manager: JetStreamManager,
  names: RunStreamNames,
  settings: RunStreamSettings,
): Promise<void> {
  try {
    await manager.streams.info(names.stream);
    return;
  } catch (error) {
    if (!/not found/i.test(String(error))) throw error;
  }
  try {
    await manager.streams.add(runStreamConfig(names, settings));
    log.warn({ stream: names.stream, ...settings }, "run stream was missing: created it");
  } catch (error) {
    if (alreadyExists(error)) return; // another process created it first
    // On mesh's own NATS only the migration may create it: say so, and stream once it exists.
    log.error(
      { stream: names.stream, err: String(error) },
      "run stream is missing and this process may not create it: run the migration (readers fall back to stored results)",
    );
  }
}

/** The migration's step for NATS: connect, converge the run stream to the release's settings, leave. */
export async function migrateRunStream(
  servers: string,
  names: RunStreamNames,
  settings: RunStreamSettings,
): Promise<void> {
  const connection = await connect({
    ...natsConnectOptions(servers),
    name: "mesh-migrate",
    timeout: 10_000,
  });
  try {
    await convergeRunStream(await jetstreamManager(connection), names, settings);
  } finally {
    await connection.drain().catch(() => connection.close());
  }
}
