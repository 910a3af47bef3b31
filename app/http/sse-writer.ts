import type { ServerResponse } from "node:http";

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * Server-Sent Events written straight to the Node response: every chunk of a run passes through
 * here, and skipping the web-stream layers between Hono and the socket takes a fraction of a
 * millisecond off each (see docs/benchmarks.md, streaming).
 */
export class SseWriter {
  constructor(private readonly response: ServerResponse) {
    response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
      connection: "keep-alive",
    });
    response.flushHeaders();
  }

  get closed(): boolean {
    return this.response.destroyed || this.response.writableEnded;
  }

  /** Writes one event; waits for the socket to drain when the client reads slower than the run streams. */
  async write(event: SseEvent): Promise<void> {
    if (this.closed) return;
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
    if (!this.closed) this.response.end();
  }
}
