import type { TokenModel } from "../model/token-model.js";
import type { StreamChunk, StreamDone } from "../stream/run-stream-bus.js";

/**
 * What run workflows need from the outside world. Workflows know nothing of HTTP or NATS subjects;
 * main.ts plugs the real model and stream bus in before launch.
 */
export interface RunPorts {
  model: TokenModel;
  publishChunk(runId: string, chunk: StreamChunk): Promise<void>;
  publishDone(runId: string, done: StreamDone): Promise<void>;
}

let ports: RunPorts | undefined;

export function setRunPorts(value: RunPorts): void {
  ports = value;
}

export function runPorts(): RunPorts {
  if (!ports) throw new Error("run ports are not set: main.ts must call setRunPorts before DBOS.launch");
  return ports;
}
