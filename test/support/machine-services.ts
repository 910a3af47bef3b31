import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createConnection } from "node:net";
import { waitFor } from "./wait.js";

// Restarting the machine's own Postgres and NATS, with the commands this kind of machine uses to start
// them (DESIGN: both are started before every session and CI run). Fault tests only. Elsewhere (GitHub
// runners, where they run in containers) the MESH_TEST_{POSTGRES,NATS}_{STOP,START}_CMD shell commands
// say how; with neither, the fault tests fail naming what is missing — they never skip silently.

const command = (name: string) => process.env[name]?.trim() || undefined;
const run = (shellCommand: string) => execFileSync("sh", ["-c", shellCommand], { stdio: "ignore" });

/** Why this machine cannot restart a service, or undefined when it can. */
export function cannotRestart(service: "postgres" | "nats"): string | undefined {
  const can = service === "postgres" ? canRestartPostgres() : canRestartNats();
  if (can) return undefined;
  const prefix = `MESH_TEST_${service.toUpperCase()}`;
  return `cannot restart ${service} here: no ${service === "postgres" ? "pg_ctlcluster" : "nats-server/start-stop-daemon"}; set ${prefix}_STOP_CMD and ${prefix}_START_CMD`;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function canRestartPostgres(): boolean {
  if (command("MESH_TEST_POSTGRES_STOP_CMD") && command("MESH_TEST_POSTGRES_START_CMD")) return true;
  return existsSync("/usr/bin/pg_ctlcluster") && existsSync("/etc/postgresql");
}

/** Stops the machine's Postgres, keeps it down for `downtimeMs` (a slow restart), and starts it again. */
export async function restartPostgres(downtimeMs: number): Promise<void> {
  const stop = command("MESH_TEST_POSTGRES_STOP_CMD");
  const start = command("MESH_TEST_POSTGRES_START_CMD");
  if (stop && start) {
    run(stop);
    await new Promise((resolve) => setTimeout(resolve, downtimeMs));
    run(start);
    await waitFor("Postgres to answer again", () => answers(5432), { timeoutMs: 60_000 });
    return;
  }
  const version = readdirSync("/etc/postgresql")[0] ?? "";
  const ctl = (action: string) =>
    execFileSync(
      "pg_ctlcluster",
      ["--skip-systemctl-redirect", version, "main", action, ...(action === "stop" ? ["-m", "fast"] : [])],
      {
        stdio: "ignore",
      },
    );
  ctl("stop");
  await new Promise((resolve) => setTimeout(resolve, downtimeMs));
  ctl("start");
  await waitFor("Postgres to answer again", () => answers(5432), { timeoutMs: 30_000 });
}

function canRestartNats(): boolean {
  if (command("MESH_TEST_NATS_STOP_CMD") && command("MESH_TEST_NATS_START_CMD")) return true;
  return existsSync("/usr/sbin/nats-server") && existsSync("/usr/sbin/start-stop-daemon");
}

export async function stopNats(): Promise<void> {
  const stop = command("MESH_TEST_NATS_STOP_CMD");
  if (stop) {
    run(stop);
    await waitFor("NATS to stop", async () => !(await answers(4222)), { timeoutMs: 30_000 });
    return;
  }
  execFileSync(
    "start-stop-daemon",
    ["--stop", "--oknodo", "--retry", "10", "--exec", "/usr/sbin/nats-server"],
    {
      stdio: "ignore",
    },
  );
  await waitFor("NATS to stop", async () => !(await answers(4222)), { timeoutMs: 15_000 });
}

export async function startNats(): Promise<void> {
  const start = command("MESH_TEST_NATS_START_CMD");
  if (start) {
    run(start);
    await waitFor("NATS to answer again", () => answers(4222), { timeoutMs: 30_000 });
    return;
  }
  execFileSync(
    "start-stop-daemon",
    [
      "--start",
      "--oknodo",
      "--background",
      "--exec",
      "/usr/sbin/nats-server",
      "--",
      "-a",
      "127.0.0.1",
      "-p",
      "4222",
      "-js",
      "-sd",
      "/var/lib/nats-server",
      "-l",
      "/var/log/nats-server.log",
    ],
    { stdio: "ignore" },
  );
  await waitFor("NATS to answer again", () => answers(4222), { timeoutMs: 15_000 });
}
