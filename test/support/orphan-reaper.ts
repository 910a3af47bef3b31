import { readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A test process killed outright (SIGKILL, a closed pipe) never runs its after-hooks: the servers it
 * started would keep running. Harnesses that start long-lived processes keep a folder per run under the
 * temp dir, named `<prefix>…`, holding `owner` (the test process's PID) and `pids` (`<pid> <binary>` per
 * line). Each start first ends the runs whose owner is gone — by the PIDs they recorded, checked against
 * the binary's name in case a PID was reused — and removes their folders.
 */
export function reapOrphanedRuns(prefix: string): void {
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(prefix)) continue;
    const dir = join(tmpdir(), entry);
    const owner = Number(readOptional(join(dir, "owner")));
    if (owner && isAlive(owner)) continue;
    for (const line of readOptional(join(dir, "pids")).split("\n").filter(Boolean)) {
      const [pid, name] = line.split(" ");
      if (name && readOptional(`/proc/${pid}/cmdline`).includes(name)) process.kill(Number(pid), "SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

export function readOptional(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** Alive and not a zombie (a killed process whose parent has not reaped it yet is as good as gone). */
export function isAlive(pid: number): boolean {
  const stat = readOptional(`/proc/${pid}/stat`);
  if (stat === "") return false;
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}
