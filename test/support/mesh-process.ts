import { type ChildProcess, type SpawnSyncReturns, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { runtimeDatabaseUrl } from "./services.js";

const MAIN = fileURLToPath(new URL("../../app/main.ts", import.meta.url));

export interface MeshProcessOptions {
  role: "all" | "api" | "worker";
  /** The test database's owner URL: the process migrates with it and runs as the runtime role. */
  databaseUrl: string;
  /** Run as the owner instead of the runtime role (default "runtime", as pods do). */
  runAs?: "runtime" | "owner";
  natsUrl?: string;
  /** Extra or overriding environment variables. */
  env?: Record<string, string>;
  /** Wait for /readyz to answer 200 before returning (default true). */
  waitReady?: boolean;
  /** Pin the process to these CPUs (taskset -c), e.g. "0" or "1". */
  cpus?: string;
}

/** A real mesh process: `node --import tsx app/main.ts`, so signals reach the Node process itself. */
export class MeshProcess {
  readonly logs: string[] = [];
  #exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly role: string,
    readonly executorId: string,
    readonly port: number,
    readonly child: ChildProcess,
  ) {
    const collect = (data: Buffer) => this.logs.push(...data.toString().split("\n").filter(Boolean));
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    this.#exit = once(child, "exit").then(([code, signal]) => ({ code, signal }));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  waitExit() {
    return this.#exit;
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.exited) process.kill(this.pid, signal);
  }

  /** SIGTERM, then SIGKILL if it is still there after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.exited) return;
    this.signal("SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    await this.#exit;
    clearTimeout(timer);
  }
}

let counter = 0;

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (typeof address !== "object" || !address) throw new Error("no port");
  return address.port;
}

export async function startMesh(options: MeshProcessOptions): Promise<MeshProcess> {
  const port = await freePort();
  const executorId = `test-${options.role}-${process.pid}-${++counter}`;
  // taskset execs node in place, so the child's PID is the Node process itself.
  const command = options.cpus ? "taskset" : process.execPath;
  const nodeArgs = ["--import", "tsx", MAIN];
  const args = options.cpus ? ["-c", options.cpus, process.execPath, ...nodeArgs] : nodeArgs;
  const child = spawn(command, args, {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      MESH_DISPATCH_ROLE: options.role,
      ...(options.runAs === "owner"
        ? { DATABASE_URL: options.databaseUrl }
        : {
            DATABASE_URL: runtimeDatabaseUrl(options.databaseUrl),
            DATABASE_MIGRATION_URL: options.databaseUrl,
          }),
      PORT: String(port),
      POD_NAME: executorId,
      LOG_LEVEL: "info",
      MESH_BUILTIN_TOKEN_DELAY_MS: "2",
      // JetStream reserves a stream's max_bytes up front: test streams stay small.
      MESH_STREAM_MAX_BYTES: String(64 * 1024 * 1024),
      ...(options.natsUrl ? { NATS_URL: options.natsUrl } : {}),
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const mesh = new MeshProcess(options.role, executorId, port, child);
  if (options.waitReady ?? true) {
    // Polled by hand rather than with waitFor: a process that exits must fail the start at once.
    const deadline = Date.now() + 60_000;
    while (true) {
      if (mesh.exited) throw new Error(`${executorId} exited early:\n${mesh.logs.slice(-20).join("\n")}`);
      const response = await fetch(`${mesh.url}/readyz`).catch(() => undefined);
      if (response?.status === 200) break;
      if (Date.now() > deadline) {
        await mesh.stop(1_000);
        throw new Error(
          `${executorId} did not become ready within 60 s:\n${mesh.logs.slice(-20).join("\n")}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return mesh;
}

/**
 * `main migrate`, as the migration Job runs it: the DBOS and mesh schemas, queue settings, the run stream,
 * and the runtime role. `env.DATABASE_URL` is the owner's URL; the Job gets it as DATABASE_MIGRATION_URL and
 * the runtime role's URL (the processes') as DATABASE_URL.
 */
export function runMigrateCommand(env: Record<string, string>, timeoutMs = 60_000): SpawnSyncReturns<string> {
  const owner = env.DATABASE_URL;
  const urls =
    owner === undefined || env.DATABASE_MIGRATION_URL !== undefined
      ? {}
      : { DATABASE_URL: runtimeDatabaseUrl(owner), DATABASE_MIGRATION_URL: owner };
  return spawnSync(process.execPath, ["--import", "tsx", MAIN, "migrate"], {
    env: { PATH: process.env.PATH ?? "", ...env, ...urls },
    encoding: "utf8",
    timeout: timeoutMs,
  });
}

export async function stopAll(processes: Iterable<MeshProcess>): Promise<void> {
  await Promise.all([...processes].map((mesh) => mesh.stop()));
}
