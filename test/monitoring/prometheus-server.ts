import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort } from "../support/mesh-process.js";
import { waitFor } from "../support/wait.js";

// A real Prometheus server (tools/prometheus, built by scripts/ensure-tools.sh) on loopback, with the
// configuration the operator stand-in derived (prometheus-operator.ts). Its data directory and log live
// in a temp folder that `stop()` removes (MESH_KEEP_PROMETHEUS=1 keeps them, and says where).

export interface ActiveAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: "pending" | "firing";
  activeAt: string;
}

export interface ScrapeTarget {
  labels: Record<string, string>;
  scrapePool: string;
  health: "up" | "down" | "unknown";
  lastError: string;
  scrapeUrl: string;
}

export interface PrometheusServer {
  url: string;
  /** The alerts Prometheus holds now: pending or firing (a resolved alert is gone from the list). */
  alerts(): Promise<ActiveAlert[]>;
  targets(): Promise<ScrapeTarget[]>;
  /** An instant query's vector. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  stop(): Promise<void>;
}

export async function startPrometheus(options: {
  scrapeConfigs: Record<string, unknown>[];
  ruleFile: unknown;
  /** How often rules are evaluated (the operator's Prometheus: its `evaluationInterval`). */
  evaluationInterval: string;
  scrapeInterval: string;
}): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), "mesh-prometheus-"));
  writeFileSync(join(dir, "rules.yml"), stringify(options.ruleFile));
  writeFileSync(
    join(dir, "prometheus.yml"),
    stringify({
      global: { scrape_interval: options.scrapeInterval, evaluation_interval: options.evaluationInterval },
      rule_files: [join(dir, "rules.yml")],
      scrape_configs: options.scrapeConfigs,
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = createWriteStream(join(dir, "prometheus.log"));
  const child: ChildProcess = spawn(
    "prometheus",
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=info",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = once(child, "exit");
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (process.env.MESH_KEEP_PROMETHEUS === "1") console.error(`prometheus: kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  };
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5_000) });
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== "success") throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };
  try {
    await waitFor(
      "prometheus ready",
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}; log in ${dir}`);
        return (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok;
      },
      { timeoutMs: 60_000 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    alerts: async () => (await api<{ alerts: ActiveAlert[] }>("/api/v1/alerts")).alerts,
    targets: async () => (await api<{ activeTargets: ScrapeTarget[] }>("/api/v1/targets")).activeTargets,
    query: async (expr) =>
      (
        await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
          `/api/v1/query?query=${encodeURIComponent(expr)}`,
        )
      ).result,
    stop,
  };
}
