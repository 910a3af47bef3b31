import type { ServerResponse } from "node:http";

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

export interface SseWriterOptions {
  /** The reconnection delay a client is told to use (`retry:`), in ms. */
  retryMs: number;
  /** A comment line is sent after this long without a write, so proxies and load balancers keep an idle stream open. */
  heartbeatMs: number;
}

export const DEFAULT_SSE_OPTIONS: SseWriterOptions = { retryMs: 2_000, heartbeatMs: 15_000 };

/**
 * Server-Sent Events written straight to the Node response: every chunk of a run passes through
 * here, and skipping the web-stream layers between Hono and the socket takes a fraction of a
 * millisecond off each (see docs/benchmarks.md, streaming).
 */
export class SseWriter {
  #lastWriteAt = Date.now();
  readonly #heartbeat: NodeJS.Timeout;

  constructor(
    private readonly response: ServerResponse,
    options: SseWriterOptions = DEFAULT_SSE_OPTIONS,
  ) {
    response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
      connection: "keep-alive",
    });
    // A frame with only `retry:` dispatches no event; it sets the client's reconnection delay.
    response.write(`retry: ${options.retryMs}\n\n`);
    this.#heartbeat = setInterval(
      () => {
        if (Date.now() - this.#lastWriteAt < options.heartbeatMs || this.closed) return;
        this.#lastWriteAt = Date.now();
        response.write(": keep-alive\n\n");
      },
      Math.max(50, Math.floor(options.heartbeatMs / 3)),
    );
    this.#heartbeat.unref();
    response.on("close", () => clearInterval(this.#heartbeat));
  }

  get closed(): boolean {
    return this.response.destroyed || this.response.writableEnded;
  }

  /** Writes one event; waits for the socket to drain when the client reads slower than the run streams. */
  async write(event: SseEvent): Promise<void> {
    if (this.closed) return;
    this.#lastWriteAt = Date.now();
    const frame = `event: ${event.event}\n${event.id === undefined ? "" : `id: ${event.id}\n`}data: ${event.data}\n\n`;
    if (!this.response.write(frame)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.response.off("drain", done);
          this.response.off("close", done);
          resolve();
        };
        this.response.on("drain", done);
        this.response.on("close", done);
      });
    }
  }

  onClose(listener: () => void): void {
    this.response.on("close", listener);
  }

  end(): void {
    clearInterval(this.#heartbeat);
    if (!this.closed) this.response.end();
  }
}
