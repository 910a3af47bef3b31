// `npm start`: mesh on this machine. Topology `all` (default): one process on an embedded Postgres with
// the in-process stream bus. `--topology split --workers N`: one api and N workers, streaming via NATS.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createConnection, createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startLocalPostgres } from "./embedded-postgres.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = fileURLToPath(new URL("../app/main.ts", import.meta.url));

const USAGE = `usage: npm start -- [--topology all|split] [--workers N] [--port PORT]

  --topology all     one process serving HTTP and executing runs (default)
  --topology split   one api process and N worker processes (needs NATS)
  --workers N        worker processes in the split topology (default 2)
  --port PORT        HTTP port of the api/all process (default 8080; workers take the next ports)

Environment: DATABASE_URL to use your own Postgres instead of the embedded one (whose data
lives in .mesh/, or MESH_LOCAL_DIR); NATS_URL for the split topology (default: a server on
127.0.0.1:4222, if one answers).`;

function fail(message: string): never {
  process.stderr.write(`mesh: ${message}\n`);
  process.exit(2);
}

function parseOptions() {
  let values: { topology?: string; workers?: string; port?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        topology: { type: "string", default: "all" },
        workers: { type: "string", default: "2" },
        port: { type: "string", default: process.env.PORT ?? "8080" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const topology = values.topology ?? "all";
  if (topology !== "all" && topology !== "split")
    fail(`--topology must be "all" or "split" (got "${topology}")`);
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1 || workers > 32)
    fail("--workers must be a whole number from 1 to 32");
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) fail("--port must be a TCP port number");
  return { topology, workers, port };
}

function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port, timeout: 1_000 });
    const settle = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => settle(true));
    socket.once("error", () => settle(false));
    socket.once("timeout", () => settle(false));
  });
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  return typeof address === "object" && address ? address.port : 0;
}

async function natsUrlForSplit(): Promise<string> {
  if (process.env.NATS_URL) return process.env.NATS_URL;
  if (await answers("127.0.0.1", 4222)) return "nats://127.0.0.1:4222";
  fail(
    "the split topology streams run output through NATS JetStream, and none answers on 127.0.0.1:4222.\n" +
      "  Start one (nats-server -js) or set NATS_URL=nats://host:4222, or run the default topology: npm start",
  );
}

function startRole(role: string, name: string, port: number, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
    cwd: ROOT,
    env: { ...process.env, ...env, MESH_DISPATCH_ROLE: role, PORT: String(port), POD_NAME: name },
    stdio: "inherit",
  });
  child.once("exit", (code, signal) => {
    if (!shuttingDown) {
      process.stderr.write(`mesh: ${name} exited (${signal ?? code}); stopping the rest\n`);
      void shutdown(1);
    }
  });
  return child;
}

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    if (child.exitCode !== null) return;
    const response = await fetch(`${url}/readyz`).catch(() => undefined);
    if (response?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  fail(`${url} did not become ready within 60 s`);
}

let shuttingDown = false;
const children: ChildProcess[] = [];
let stopPostgres: (() => Promise<void>) | undefined;

async function shutdown(code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    }),
  );
  // embedded-postgres waits for its server's exit event, which never comes if the terminal's Ctrl-C
  // already stopped it (it shares our process group): do not wait forever.
  await Promise.race([
    stopPostgres?.().catch(() => undefined),
    new Promise((resolve) => setTimeout(resolve, 10_000)),
  ]);
  process.exit(code);
}

async function main(): Promise<void> {
  const { topology, workers, port } = parseOptions();
  // embedded-postgres installs exit hooks that stop Postgres and exit at once on SIGINT/SIGTERM, which
  // would orphan the mesh processes mid-drain. This runner owns the order: mesh first, Postgres last.
  process.removeAllListeners("SIGINT");
  process.removeAllListeners("SIGTERM");
  process.once("SIGINT", () => void shutdown(0));
  process.once("SIGTERM", () => void shutdown(0));
  // Whatever ends this process, its mesh processes must not outlive it.
  process.on("exit", () => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  });

  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    const postgres = await startLocalPostgres(
      `${ROOT}.mesh`,
      Number(process.env.MESH_LOCAL_PG_PORT ?? (await freePort())),
    );
    stopPostgres = postgres.stop;
    databaseUrl = postgres.databaseUrl;
    process.stdout.write(`mesh: embedded Postgres running (data in .mesh/postgres)\n`);
  }
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    MESH_AUTO_MIGRATE: "true",
    // Ctrl-C should not wait the production 25 s for a local run to drain.
    MESH_SHUTDOWN_GRACE_MS: process.env.MESH_SHUTDOWN_GRACE_MS ?? "5000",
    // The run console is on locally (off by default in Kubernetes: stack config console.enabled).
    MESH_CONSOLE: process.env.MESH_CONSOLE ?? "true",
  };
  const url = `http://127.0.0.1:${port}`;

  if (topology === "all") {
    const child = startRole("all", "local-all", port, env);
    children.push(child);
    await waitReady(url, child);
  } else {
    env.NATS_URL = await natsUrlForSplit();
    const api = startRole("api", "local-api", port, env);
    children.push(api);
    for (let index = 1; index <= workers; index++) {
      children.push(startRole("worker", `local-worker-${index}`, port + index, env));
    }
    await waitReady(url, api);
  }
  if (shuttingDown) return;
  const token = process.env.MESH_API_TOKEN ? ` -H "Authorization: Bearer $MESH_API_TOKEN"` : "";
  process.stdout.write(
    [
      "",
      `mesh is running (${topology === "all" ? "topology all: one process" : `topology split: 1 api + ${workers} workers`}) at ${url}`,
      `Console: ${url}/console    API contract: ${url}/openapi.json`,
      "Try:",
      `  curl -s -X POST ${url}/v1/threads/demo/runs${token} -H 'content-type: application/json' -d '{"input":"hello"}'`,
      `  curl -N ${url}/v1/runs/<runId>/stream${token}`,
      `  curl -s ${url}/v1/queues${token}`,
      "Ctrl-C stops it.",
      "",
    ].join("\n"),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`mesh: ${(error as Error).message}\n`);
  void shutdown(1);
});
