import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { sseEvents } from "../../support/sse-events.js";

/** One request the load made: when, what, how long, and how it ended. */
export interface RequestSample {
  /** ms since the load started. */
  at: number;
  kind: "POST run" | "GET run" | "SSE connect";
  ms: number;
  /** HTTP status, or 0 when the connection failed. */
  status: number;
  error?: string;
  /** The drill step running when the request started. */
  step: string;
}

/** A failed request: a connection error, a 5xx, or a stream cut by an error rather than ended by the server. */
export function isFailure(sample: RequestSample): boolean {
  return sample.status === 0 || sample.status >= 500 || sample.error !== undefined;
}

/** One SSE reader: every chunk it received, over however many connections it took. */
export interface StreamRecord {
  runId: string;
  seqs: number[];
  text: string;
  connections: number;
  /** Reconnections sent with Last-Event-ID after a connection ended before `done`. */
  resumes: number;
  done?: { status?: string };
}

export interface AcceptedRun {
  runId: string;
  threadId: string;
  input: string;
  stream?: StreamRecord;
}

export interface SteadyLoadOptions {
  baseUrl: string;
  token: string;
  runsPerSecond: number;
  getsPerSecond: number;
  threads: number;
  /** Every n-th run also gets an SSE reader. */
  streamEvery: number;
}

/**
 * A steady load through the Service: runs posted at a fixed rate over many threads, GETs of known runs,
 * and SSE readers on some runs that resume with Last-Event-ID whenever their connection ends early. Every
 * request opens its own connection (routing is per connection, as with kube-proxy), and nothing is retried:
 * a failed request is recorded as one.
 */
export class SteadyLoad {
  readonly samples: RequestSample[] = [];
  readonly runs: AcceptedRun[] = [];
  step = "start";
  private readonly began = Date.now();
  private timers: NodeJS.Timeout[] = [];
  private inFlight = new Set<Promise<unknown>>();
  private streams = new Set<Promise<unknown>>();
  private posted = 0;
  private readonly loadId = randomBytes(4).toString("hex");

  constructor(private readonly options: SteadyLoadOptions) {}

  /** ms since the load began (the drill's clock for marking steps). */
  now(): number {
    return Date.now() - this.began;
  }

  start(): void {
    this.timers.push(setInterval(() => this.track(this.postRun()), 1000 / this.options.runsPerSecond));
    this.timers.push(setInterval(() => this.track(this.getRun()), 1000 / this.options.getsPerSecond));
  }

  /** Stops making requests; waits for those in flight and for every SSE reader to reach `done`. */
  async stop(streamTimeoutMs: number): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await Promise.all(this.inFlight);
    const deadline = new Promise((resolve) => setTimeout(resolve, streamTimeoutMs).unref());
    await Promise.race([Promise.all(this.streams), deadline]);
  }

  failures(): RequestSample[] {
    return this.samples.filter(isFailure);
  }

  private track(work: Promise<unknown>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private async postRun(): Promise<void> {
    const index = this.posted++;
    const threadId = `drill-thread-${index % this.options.threads}`;
    const input = `drill run ${index}`;
    const response = await this.request("POST run", "POST", `/v1/threads/${threadId}/runs`, {
      input,
      // Unique per load: run IDs derive from (thread, key), and JetStream (shared by every test run on this
      // machine) still holds the streams of earlier drills under those IDs.
      idempotencyKey: `drill-${this.loadId}-${index}`,
    });
    if (response?.status !== 202) return;
    const run: AcceptedRun = { runId: JSON.parse(response.body).runId, threadId, input };
    this.runs.push(run);
    if (index % this.options.streamEvery === 0) {
      run.stream = { runId: run.runId, seqs: [], text: "", connections: 0, resumes: 0 };
      const reading = this.readStream(run.stream);
      this.streams.add(reading);
    }
  }

  private async getRun(): Promise<void> {
    const run = this.runs[Math.floor(Math.random() * this.runs.length)];
    if (run) await this.request("GET run", "GET", `/v1/runs/${run.runId}`);
  }

  private async request(
    kind: RequestSample["kind"],
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: string } | undefined> {
    const sample: RequestSample = { at: this.now(), kind, ms: 0, status: 0, step: this.step };
    const started = performance.now();
    try {
      const response = await httpRequest(this.options.baseUrl, method, path, this.options.token, body);
      sample.status = response.status;
      if (response.status >= 500) sample.error = response.body.slice(0, 200);
      return response;
    } catch (error) {
      sample.error = (error as Error).message;
      return undefined;
    } finally {
      sample.ms = performance.now() - started;
      this.samples.push(sample);
    }
  }

  /** Reads a run's stream to `done`, reconnecting with the last seen id whenever a connection ends early. */
  private async readStream(stream: StreamRecord): Promise<void> {
    while (!stream.done) {
      const lastEventId = stream.seqs.at(-1);
      if (stream.connections > 0) stream.resumes += 1;
      stream.connections += 1;
      const sample: RequestSample = {
        at: this.now(),
        kind: "SSE connect",
        ms: 0,
        status: 0,
        step: this.step,
      };
      const started = performance.now();
      try {
        await new Promise<void>((resolve, reject) => {
          const req = request(`${this.options.baseUrl}/v1/runs/${stream.runId}/stream`, {
            agent: false,
            headers: {
              authorization: `Bearer ${this.options.token}`,
              ...(lastEventId === undefined ? {} : { "last-event-id": String(lastEventId) }),
            },
          });
          req.on("error", reject);
          req.on("response", async (res) => {
            sample.status = res.statusCode ?? 0;
            sample.ms = performance.now() - started;
            if (sample.status !== 200) {
              res.resume();
              resolve();
              return;
            }
            try {
              for await (const event of sseEvents(res)) {
                if (event.event === "chunk") {
                  const data = JSON.parse(event.data ?? "{}");
                  stream.seqs.push(data.seq);
                  stream.text += data.text;
                } else if (event.event === "done") {
                  stream.done = JSON.parse(event.data ?? "{}");
                  req.destroy();
                  break;
                }
              }
              resolve();
            } catch (error) {
              reject(error);
            }
          });
          req.end();
        });
      } catch (error) {
        sample.error = (error as Error).message;
        if (sample.ms === 0) sample.ms = performance.now() - started;
      }
      this.samples.push(sample);
      if (sample.status !== 200) return; // a failed connection is recorded; the drill asserts there are none
    }
  }
}

function httpRequest(
  baseUrl: string,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(`${baseUrl}${path}`, {
      method,
      agent: false,
      timeout: 30_000,
      headers: {
        authorization: `Bearer ${token}`,
        ...(payload
          ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
          : {}),
      },
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out after 30 s`)));
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.end(payload);
  });
}
