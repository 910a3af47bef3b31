// What a cluster's log agent does: follows every container log the kubelets write (podLogsDir, CRI log
// format) and keeps a copy per pod, because the kubelet removes a pod's logs soon after the pod is gone,
// and a drill reads them at its end.
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { listDirectory } from "./host-helpers.js";

export interface CollectedPod {
  namespace: string;
  name: string;
  node: string;
  /** MESH_DISPATCH_ROLE, from mesh's "mesh ready" line (undefined for other pods or before it logged). */
  role?: string;
  /** Its workflow version, from the same line. */
  version?: string;
  /** The application's lines (stdout and stderr, every restart), the CRI prefix removed. */
  lines: string[];
}

const POLL_MS = 250;

export class PodLogCollector {
  private readonly offsets = new Map<string, number>();
  private readonly partial = new Map<string, string>();
  /** A CRI line marked partial (P) waits here for the rest of its line. */
  private readonly continued = new Map<string, string>();
  private readonly pods = new Map<string, CollectedPod>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly nodes: { name: string; podLogsDir: string }[]) {
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  /** Every pod seen so far (read once more first). */
  collected(namespace?: string): CollectedPod[] {
    this.poll();
    return [...this.pods.values()].filter((pod) => namespace === undefined || pod.namespace === namespace);
  }

  stop(): void {
    clearInterval(this.timer);
    this.poll();
  }

  private poll(): void {
    for (const node of this.nodes) {
      for (const podDir of listDirectory(node.podLogsDir)) {
        const [namespace = "", name = ""] = podDir.split("_");
        for (const container of listDirectory(join(node.podLogsDir, podDir)))
          for (const file of listDirectory(join(node.podLogsDir, podDir, container)).filter((f) =>
            f.endsWith(".log"),
          ))
            this.read(join(node.podLogsDir, podDir, container, file), `${namespace}/${name}`, {
              namespace,
              name,
              node: node.name,
            });
      }
    }
  }

  private read(path: string, key: string, pod: Omit<CollectedPod, "lines">): void {
    const size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
    const offset = this.offsets.get(path) ?? 0;
    if (size <= offset) return;
    const buffer = Buffer.alloc(size - offset);
    const fd = openSync(path, "r");
    try {
      readSync(fd, buffer, 0, buffer.length, offset);
    } finally {
      closeSync(fd);
    }
    this.offsets.set(path, size);
    const record = this.pods.get(key) ?? { ...pod, lines: [] };
    this.pods.set(key, record);
    const text = (this.partial.get(path) ?? "") + buffer.toString("utf8");
    const complete = text.split("\n");
    this.partial.set(path, complete.pop() ?? "");
    let pending = this.continued.get(path) ?? "";
    for (const line of complete) {
      // <RFC3339 time> <stream> <P|F> <content>: P is a partial line continued by the next.
      const match = /^\S+ (?:stdout|stderr) ([PF]) (.*)$/.exec(line);
      if (!match) continue;
      pending += match[2];
      if (match[1] === "P") continue;
      record.lines.push(pending);
      if (record.role === undefined && pending.includes('"mesh ready"')) {
        const ready = JSON.parse(pending) as { role?: string; version?: string };
        record.role = ready.role;
        record.version = ready.version;
      }
      pending = "";
    }
    this.continued.set(path, pending);
  }
}
