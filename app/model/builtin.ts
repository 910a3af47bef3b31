import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { SegmentRequest, SegmentResult, TokenModel } from "./token-model.js";

export interface BuiltinModelOptions {
  /** Tokens in every answer. */
  tokens: number;
  /** Busy CPU time per token, standing in for the parsing of a real model stream. */
  tokenCpuMicros: number;
  /** Wall-clock pause per token, standing in for a model's generation speed. */
  tokenDelayMs: number;
  /** Tokens per segment (one DBOS step checkpoint each). */
  checkpointEvery: number;
  /**
   * Memory each segment holds while it generates (MiB, written so it is resident), standing in for a
   * model client's response buffers: what a worker's memory limit must leave room for, per run it holds.
   */
  segmentMemoryMb: number;
}

const WORDS = [
  "mesh",
  "queue",
  "worker",
  "durable",
  "stream",
  "thread",
  "token",
  "agent",
  "plan",
  "step",
  "retry",
  "commit",
  "signal",
  "drain",
  "scale",
  "route",
  "event",
  "chunk",
  "state",
  "lease",
] as const;

/** The i-th token of the answer to `input`: a pure function, so a resumed run reproduces it exactly. */
export function builtinToken(input: string, index: number): string {
  const digest = createHash("sha256").update(input).update(":").update(String(index)).digest();
  const word = WORDS[(digest[0] ?? 0) % WORDS.length];
  return index === 0 ? `${word}` : ` ${word}`;
}

/** Spins the CPU for about `micros` microseconds (deliberately blocking: it models CPU-bound parsing). */
function burnCpu(micros: number): void {
  if (micros <= 0) return;
  const until = process.hrtime.bigint() + BigInt(micros) * 1000n;
  let x = 0;
  while (process.hrtime.bigint() < until) x = (x * 31 + 7) % 1_000_003;
}

export function createBuiltinModel(options: BuiltinModelOptions): TokenModel {
  return {
    name: "builtin",
    async generateSegment({ input, segment, onToken }: SegmentRequest): Promise<SegmentResult> {
      const start = segment * options.checkpointEvery;
      const end = Math.min(start + options.checkpointEvery, options.tokens);
      const tokens: string[] = [];
      const buffers =
        options.segmentMemoryMb > 0 ? Buffer.alloc(options.segmentMemoryMb << 20, 1) : undefined;
      for (let index = start; index < end; index++) {
        burnCpu(options.tokenCpuMicros);
        // A real model stream awaits the socket between tokens; so does this one, even at zero delay,
        // so other work on the event loop (HTTP in role `all`) gets its turn as it would.
        if (options.tokenDelayMs > 0) await sleep(options.tokenDelayMs);
        else await new Promise<void>((resolve) => setImmediate(resolve));
        const token = builtinToken(input, index);
        tokens.push(token);
        await onToken(token);
      }
      buffers?.fill(2); // held (and touched) until the segment ends
      return { tokens, done: end >= options.tokens };
    },
  };
}
