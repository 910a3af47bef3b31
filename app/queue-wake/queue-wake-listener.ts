import pg from "pg";
import { log } from "../log.js";
import { queueWakeListening, queueWakeups } from "../metrics.js";
import type { DispatcherWake } from "./dispatcher-wake.js";
import { QUEUE_WAKE_CHANNEL } from "./wake-trigger.js";

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10_000;

/**
 * Holds one Postgres connection LISTENing on the wake-up channel and wakes DBOS's dispatcher for the
 * queue each notification names. A notification lost while the connection is down costs at most one
 * polling interval (the queues still poll); to shorten even that, every (re)connect wakes the queues it
 * is given, since runs may have been enqueued while nobody listened.
 */
export class QueueWakeListener {
  private client?: pg.Client;
  private stopped = false;
  private reconnectDelayMs = RECONNECT_MIN_MS;
  private reconnectTimer?: NodeJS.Timeout;

  constructor(
    private readonly databaseUrl: string,
    private readonly dispatcher: DispatcherWake,
    private readonly queues: readonly string[],
  ) {}

  /** Connects and LISTENs; a failure is logged and retried in the background, never thrown. */
  async start(): Promise<void> {
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    queueWakeListening.set(0);
    await this.client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      keepAlive: true,
      application_name: "mesh-queue-wake",
    });
    this.client = client;
    client.on("notification", (message) => {
      if (message.channel !== QUEUE_WAKE_CHANNEL || !message.payload) return;
      if (this.dispatcher.wakeQueue(message.payload)) queueWakeups.inc({ queue: message.payload });
    });
    // 'error' and 'end' both fire on a dropped connection (Postgres restarting, the backend terminated).
    client.on("error", (error) => this.lost(client, error.message));
    client.on("end", () => this.lost(client, "connection ended"));
    try {
      await client.connect();
      await client.query(`LISTEN ${QUEUE_WAKE_CHANNEL}`);
    } catch (error) {
      this.lost(client, (error as Error).message);
      return;
    }
    if (this.stopped || this.client !== client) return;
    queueWakeListening.set(1);
    this.reconnectDelayMs = RECONNECT_MIN_MS;
    for (const queue of this.queues) this.dispatcher.wakeQueue(queue);
  }

  private lost(client: pg.Client, reason: string): void {
    if (this.stopped || this.client !== client || this.reconnectTimer) return;
    queueWakeListening.set(0);
    client.end().catch(() => undefined);
    log.warn(
      { err: reason, retryMs: this.reconnectDelayMs },
      "queue wake-up listener lost its connection; queues fall back to polling until it is back",
    );
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, this.reconnectDelayMs);
    this.reconnectDelayMs = Math.min(RECONNECT_MAX_MS, this.reconnectDelayMs * 2);
  }
}
