import type { RunStreamBus, StreamEvent } from "./run-stream-bus.js";

interface RunLog {
  events: StreamEvent[];
  waiters: Set<() => void>;
  touchedAt: number;
}

/**
 * The in-process bus of a lone `all` process without NATS. It keeps the most recent runs' events in
 * memory (bounded like the JetStream stream), so a late client still gets the whole output.
 */
export function createMemoryBus(options: { maxRuns?: number } = {}): RunStreamBus {
  const maxRuns = options.maxRuns ?? 2_000;
  const runs = new Map<string, RunLog>();

  function logFor(runId: string): RunLog {
    let runLog = runs.get(runId);
    if (!runLog) {
      runLog = { events: [], waiters: new Set(), touchedAt: Date.now() };
      runs.set(runId, runLog);
      if (runs.size > maxRuns) {
        const oldest = runs.keys().next().value;
        if (oldest !== undefined) runs.delete(oldest);
      }
    }
    return runLog;
  }

  function append(runId: string, event: StreamEvent): void {
    const runLog = logFor(runId);
    runLog.events.push(event);
    runLog.touchedAt = Date.now();
    for (const wake of runLog.waiters) wake();
    runLog.waiters.clear();
  }

  return {
    kind: "memory",
    async publishChunk(runId, chunk) {
      append(runId, { type: "chunk", ...chunk });
    },
    async publishDone(runId, done) {
      append(runId, { type: "done", ...done });
    },
    async hasMessages(runId) {
      return (runs.get(runId)?.events.length ?? 0) > 0;
    },
    async *tail(runId, signal) {
      const runLog = logFor(runId);
      let next = 0;
      while (!signal.aborted) {
        while (next < runLog.events.length) {
          const event = runLog.events[next++];
          if (event) yield event;
        }
        await new Promise<void>((resolve) => {
          const wake = () => {
            signal.removeEventListener("abort", wake);
            resolve();
          };
          runLog.waiters.add(wake);
          signal.addEventListener("abort", wake, { once: true });
        });
      }
    },
    isAvailable: () => true,
    async close() {
      runs.clear();
    },
  };
}
