import { request } from "node:http";

/** One answered (or failed) request of the load. */
export interface RequestOutcome {
  /** ms since `began` (when the request was sent). */
  at: number;
  phase: string;
  status?: number;
  error?: string;
}

/**
 * Closed-loop HTTP load: `concurrency` loops, each sending its next GET when the last one is answered,
 * after `pauseMs`. Every request opens its own connection (no keep-alive), as many short-lived clients
 * behind a load balancer do: the Service picks an endpoint per connection, so pods that become Ready
 * during the load get their share at once. A request fails on a status other than 200, a connection
 * error, or no answer within 10 s; every outcome is kept.
 */
export class RequestLoad {
  readonly outcomes: RequestOutcome[] = [];
  phase = "";
  private loops: Promise<void>[] = [];
  private generation = 0;

  constructor(
    private readonly options: {
      baseUrl: string;
      path: string;
      token: string;
      /** The drill's clock (Date.now() at its start), shared with its sampler. */
      began: number;
    },
  ) {}

  /** Runs `concurrency` loops from now on, replacing the ones running. */
  async set(phase: string, concurrency: number, pauseMs: number): Promise<void> {
    await this.stop();
    this.phase = phase;
    const generation = ++this.generation;
    this.loops = Array.from({ length: concurrency }, async () => {
      while (generation === this.generation) {
        this.outcomes.push(await this.once());
        if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    });
  }

  async stop(): Promise<void> {
    this.generation++;
    await Promise.all(this.loops);
    this.loops = [];
  }

  failures(): RequestOutcome[] {
    return this.outcomes.filter((outcome) => outcome.status !== 200);
  }

  private once(): Promise<RequestOutcome> {
    const phase = this.phase;
    const at = Date.now() - this.options.began;
    return new Promise((resolve) => {
      const sent = request(
        new URL(this.options.path, this.options.baseUrl),
        { agent: false, headers: { authorization: `Bearer ${this.options.token}` }, timeout: 10_000 },
        (response) => {
          response.resume();
          response.on("end", () => resolve({ at, phase, status: response.statusCode }));
          response.on("error", (error) => resolve({ at, phase, error: error.message }));
        },
      );
      sent.on("timeout", () => sent.destroy(new Error("no answer within 10 s")));
      sent.on("error", (error) => resolve({ at, phase, error: error.message }));
      sent.end();
    });
  }
}
