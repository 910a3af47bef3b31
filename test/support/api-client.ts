import { sseEvents } from "./sse-events.js";

/** A decoded JSON response body; tests assert on it field by field. */
// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the assertions that read them
export type Json = any;

/** A thin HTTP client for mesh's API, as a user would call it. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
  ) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  async request(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: this.headers(body === undefined ? {} : { "content-type": "application/json" }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  async createRun(threadId: string, input: string, idempotencyKey?: string): Promise<string> {
    const { status, body } = await this.request("POST", `/v1/threads/${threadId}/runs`, {
      input,
      idempotencyKey,
    });
    if (status !== 202) throw new Error(`POST run answered ${status}: ${JSON.stringify(body)}`);
    return body.runId;
  }

  async getRun(runId: string): Promise<Json> {
    const { status, body } = await this.request("GET", `/v1/runs/${runId}`);
    if (status !== 200) throw new Error(`GET run answered ${status}: ${JSON.stringify(body)}`);
    return body;
  }

  /** Reads an SSE stream; stops after `maxChunks` chunks (a dropped connection) or at `done`. */
  async readStream(
    runId: string,
    options: { lastEventId?: string; maxChunks?: number } = {},
  ): Promise<{
    chunks: Array<{ id: string; seq: number; text: string }>;
    done?: Json;
    status: number;
    /** The last 4 KiB of the body as received: what a test that failed on it shows. */
    rawTail: string;
  }> {
    const controller = new AbortController();
    const response = await fetch(`${this.baseUrl}/v1/runs/${runId}/stream`, {
      headers: this.headers(options.lastEventId ? { "last-event-id": options.lastEventId } : {}),
      signal: controller.signal,
    });
    const chunks: Array<{ id: string; seq: number; text: string }> = [];
    const raw = { tail: "" };
    if (response.status !== 200 || !response.body) return { chunks, status: response.status, rawTail: "" };
    let done: Json;
    try {
      for await (const event of sseEvents(response.body as AsyncIterable<Uint8Array>, raw)) {
        if (event.event === "chunk") {
          const data = JSON.parse(event.data ?? "{}");
          chunks.push({ id: event.id ?? "", seq: data.seq, text: data.text });
          if (options.maxChunks !== undefined && chunks.length >= options.maxChunks) break;
        } else if (event.event === "done") {
          done = JSON.parse(event.data ?? "{}");
          break;
        }
      }
    } catch (error) {
      if ((error as Error).name !== "AbortError") throw error;
      // Nobody but this function aborts the request: say so if it happens anyway.
      raw.tail += `\n[aborted: ${(error as Error).message}]`;
    } finally {
      // Only once what was read is kept: aborting inside the loop makes the body iterator's clean-up
      // reject, and that rejection would replace a `return` of the result (a `done` already read was
      // lost that way — the NATS-restart test's "late stream without done").
      controller.abort();
    }
    return { chunks, done, status: 200, rawTail: raw.tail };
  }
}

export const TERMINAL = new Set(["SUCCESS", "ERROR", "CANCELLED"]);
