import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createConnection } from "node:net";
import { waitFor } from "./wait.js";

// Restarting the machine's own Postgres and NATS, with the commands this kind of machine uses to start
// them (DESIGN: both are started before every session and CI run). Fault tests only.

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

export function canRestartPostgres(): boolean {
  return existsSync("/usr/bin/pg_ctlcluster") && existsSync("/etc/postgresql");
}

/** Stops the machine's Postgres, keeps it down for `downtimeMs` (a slow restart), and starts it again. */
export async function restartPostgres(downtimeMs: number): Promise<void> {
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

export function canRestartNats(): boolean {
  return existsSync("/usr/sbin/nats-server") && existsSync("/usr/sbin/start-stop-daemon");
}

export async function stopNats(): Promise<void> {
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
