import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { natsConnectOptions } from "../../app/stream/nats-servers.js";
import {
  deploymentFromDatabase,
  type RunStreamNames,
  runStreamNames,
} from "../../app/stream/run-stream-settings.js";
import { NATS_URL } from "./services.js";

/** The stream and subjects of processes started on `databaseUrl` without MESH_DEPLOYMENT (the suite's). */
export function streamNamesOf(databaseUrl: string): RunStreamNames {
  return runStreamNames(deploymentFromDatabase(databaseUrl));
}

/** Every message JetStream holds for a run, in stream order, as `chunk:<seq>` or `done`. */
export async function storedStreamEvents(
  names: RunStreamNames,
  runId: string,
  servers = NATS_URL,
): Promise<string[]> {
  const connection = await connect(natsConnectOptions(servers));
  try {
    const consumer = await jetstream(connection).consumers.get(names.stream, {
      filter_subjects: names.subject(runId),
      deliver_policy: DeliverPolicy.All,
    });
    const events: string[] = [];
    const pending = (await consumer.info()).num_pending;
    if (pending === 0) return events;
    const messages = await consumer.fetch({ max_messages: pending, expires: 5_000 });
    for await (const message of messages) {
      const event = message.json<{ type: string; seq?: number }>();
      events.push(event.type === "chunk" ? `chunk:${event.seq}` : event.type);
      if (events.length >= pending) break;
    }
    return events;
  } finally {
    await connection.close();
  }
}

/** Deletes everything JetStream holds for a run, as if its stream data had expired (max_age). */
export async function expireStreamData(names: RunStreamNames, runId: string): Promise<void> {
  const connection = await connect({ servers: NATS_URL });
  try {
    const manager = await jetstreamManager(connection);
    await manager.streams.purge(names.stream, { filter: names.subject(runId) });
  } finally {
    await connection.close();
  }
}
