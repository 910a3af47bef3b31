import { spawnSync } from "node:child_process";
import { connect } from "node:net";
import { NATS_URL, POSTGRES_ADMIN_URL } from "../test/support/services.js";

/** The commands the scenarios run: the engine scenario's control plane and Pulumi, and mesh's NATS. */
const COMMANDS = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kwok",
  "pulumi",
  "pulumi-resource-kubernetes",
];

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({
      host: hostname || "127.0.0.1",
      port: Number(port || defaultPort),
      timeout: 2_000,
    });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
}

/**
 * What the benchmark needs and this machine lacks, checked in its first seconds — so a newcomer's run
 * stops at once naming it, instead of failing at the last scenario after half an hour.
 */
export async function missingPrerequisites(): Promise<string[]> {
  const missing = COMMANDS.filter(
    (command) => spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status !== 0,
  ).map((command) => `${command} is not on PATH`);
  if (!(await reachable(POSTGRES_ADMIN_URL, 5432)))
    missing.push(`Postgres does not answer at ${new URL(POSTGRES_ADMIN_URL).host}`);
  if (!(await reachable(NATS_URL, 4222))) missing.push(`NATS does not answer at ${new URL(NATS_URL).host}`);
  return missing;
}
