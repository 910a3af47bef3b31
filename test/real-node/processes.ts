// The long-lived processes of the real nodes (containerd, kubelets, kube-proxy, forwarders): each logs to
// a file in the work folder and is recorded in its `pids`, so that a killed test run's are found and
// ended by the next run (cleanup.ts) as well as by stop().
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { appendFileSync, closeSync, openSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  logPath: string;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines of its log, for an error message. */
  logTail(lines?: number): string;
}

export function startProcess(options: {
  name: string;
  command: string;
  args: string[];
  logPath: string;
  pidFile: string;
  netns?: string;
}): ManagedProcess {
  const log = openSync(options.logPath, "a");
  const [command, args] = options.netns
    ? ["ip", ["netns", "exec", options.netns, options.command, ...options.args]]
    : [options.command, options.args];
  const child = spawn(command, args, { stdio: ["ignore", log, log] });
  closeSync(log);
  // `ip netns exec` execs the command: the pid is the command's.
  appendFileSync(options.pidFile, `${child.pid} ${options.command.split("/").pop()}\n`);
  const exited = once(child, "exit");
  child.once("error", (error) => console.error(`real-node: ${options.name}: ${error.message}`));
  const logTail = (lines = 20) => {
    try {
      return readFileSync(options.logPath, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  };
  return {
    name: options.name,
    child,
    logPath: options.logPath,
    logTail,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const stopped = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!stopped) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
}
