/** The input of an agent-run workflow, as stored by DBOS. */
export interface RunRequest {
  threadId: string;
  input: string;
  /** Epoch ms when the API accepted the run; used to measure dispatch latency. */
  enqueuedAt: number;
}

/** The output of an agent-run workflow: the streamed chunks, in order (their concatenation is the answer). */
export interface RunResult {
  chunks: string[];
}

export function isRunResult(value: unknown): value is RunResult {
  return (
    typeof value === "object" &&
    value !== null &&
    Array.isArray((value as RunResult).chunks) &&
    (value as RunResult).chunks.every((chunk) => typeof chunk === "string")
  );
}
