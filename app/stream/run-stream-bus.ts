/** One piece of a run's output, numbered from 1 in the order the model produced it. */
export interface StreamChunk {
  seq: number;
  text: string;
}

/** The end of a run's stream, with its final status and output. */
export interface StreamDone {
  status: string;
  output?: string;
  error?: string;
  /** Number of chunks the run produced, so a reader can tell it missed some. */
  chunkCount?: number;
}

/** `at`: when the event was published (epoch ms, sub-ms precision), for latency measurements. */
export type StreamEvent = (({ type: "chunk" } & StreamChunk) | ({ type: "done" } & StreamDone)) & {
  at?: number;
};

/** Epoch milliseconds with sub-millisecond precision, comparable across processes on one machine. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Carries the streamed output of runs from the process executing them to the processes serving
 * their SSE streams. JetStream in the split topology; an in-process bus for a lone `all` process.
 */
export interface RunStreamBus {
  readonly kind: "jetstream" | "memory";
  publishChunk(runId: string, chunk: StreamChunk): Promise<void>;
  publishDone(runId: string, done: StreamDone): Promise<void>;
  /** True when the bus holds at least one message for the run (false once its data has expired). */
  hasMessages(runId: string): Promise<boolean>;
  /** Yields the run's events in order from the beginning, until `signal` aborts or the consumer stops. */
  tail(runId: string, signal: AbortSignal): AsyncIterable<StreamEvent>;
  /** Whether the bus can currently carry messages (NATS connected). */
  isAvailable(): boolean;
  close(): Promise<void>;
}
