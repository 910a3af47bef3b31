import { DBOS } from "@dbos-inc/dbos-sdk";
import { executionGate } from "../durability/execution-gate.js";
import { log } from "../log.js";
import { dispatchLatency, runsExecuted } from "../metrics.js";
import { runPorts } from "./run-ports.js";
import type { RunResult } from "./run-types.js";

/**
 * The body shared by every run workflow: the model's answer in segments, each a DBOS step (the
 * checkpoint), each token published as a chunk as it is produced. A resumed run skips the completed
 * segments, so its output equals an uninterrupted run's; chunks of a re-run segment repeat their
 * sequence numbers, which readers deduplicate.
 */
export async function executeAgentRun(
  runId: string,
  queue: string,
  input: string,
  enqueuedAt: number,
): Promise<RunResult> {
  // The body's first instruction: enqueue (the api's clock) → here (this process's), one machine's clock
  // on a single host and NTP-bounded across hosts. Logged per start so benchmarks read every sample.
  const bodyStartedAt = Date.now();
  const { model, publishChunk, publishDone } = runPorts();
  dispatchLatency.observe({ queue }, Math.max(0, bodyStartedAt - enqueuedAt) / 1000);
  log.info({ runId, queue, enqueuedAt, bodyStartedAt, executorId: DBOS.executorID }, "run body started");

  const chunks: string[] = [];
  executionGate.begin(runId);
  try {
    for (let segment = 0; ; segment++) {
      const firstSeq = chunks.length + 1;
      // A draining process stops here, between checkpoints, and hands the run back (SIGTERM drain).
      await executionGate.atCheckpoint(runId);
      const result = await DBOS.runStep(
        async () => {
          let seq = firstSeq;
          const generated = await model.generateSegment({
            input,
            segment,
            tokensSoFar: chunks.length,
            onToken: (text) => publishChunk(runId, { seq: seq++, text }),
          });
          // Only a segment that really executed logs this (a resumed run replays recorded ones silently).
          log.info(
            { runId, segment, tokens: generated.tokens.length, executorId: DBOS.executorID },
            "segment executed",
          );
          return generated;
        },
        { name: `segment-${segment}` },
      );
      chunks.push(...result.tokens);
      if (result.done) break;
    }
    await executionGate.atCheckpoint(runId);
    await DBOS.runStep(
      () => publishDone(runId, { status: "SUCCESS", output: chunks.join(""), chunkCount: chunks.length }),
      {
        name: "publish-done",
      },
    );
  } catch (error) {
    runsExecuted.inc({ queue, outcome: "error" });
    throw error;
  } finally {
    executionGate.end(runId);
  }
  runsExecuted.inc({ queue, outcome: "success" });
  // The body is done; DBOS records the result next, unless another executor took the run over in the
  // meantime (a frozen executor woke up), in which case DBOS fences this attempt.
  log.info({ runId, queue, chunks: chunks.length, executorId: DBOS.executorID }, "run body finished");
  return { chunks };
}
