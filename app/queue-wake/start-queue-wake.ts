import { log } from "../log.js";
import { findDispatcherWake } from "./dispatcher-wake.js";
import { QueueWakeListener } from "./queue-wake-listener.js";

/**
 * Starts waking DBOS's dispatcher on Postgres notifications for `queues`, once DBOS has launched. On a
 * DBOS without the patch the process still dispatches, by polling alone at MESH_QUEUE_POLL_MS: said
 * loudly, since runs then start up to one (1-s default) interval late.
 */
export async function startQueueWake(
  databaseUrl: string,
  queues: readonly string[],
): Promise<QueueWakeListener | undefined> {
  const lookup = findDispatcherWake();
  if (!lookup.available) {
    log.error(
      { reason: lookup.reason },
      "queue wake-up unavailable: runs start at the next poll; set MESH_QUEUE_WAKE=false for fast polling",
    );
    return undefined;
  }
  // A run ending here wakes this process's own dispatcher; the listener hears only of enqueued runs.
  lookup.dispatcher.wakeOnSlotRelease = true;
  const listener = new QueueWakeListener(databaseUrl, lookup.dispatcher, queues);
  await listener.start();
  return listener;
}
