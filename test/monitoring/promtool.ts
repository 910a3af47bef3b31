import { spawnSync } from "node:child_process";

// promtool, from the pinned Prometheus module (tools/prometheus, built by scripts/ensure-tools.sh): the
// verdict of Prometheus itself on the rules mesh renders, not a re-implementation of PromQL.

let checked = false;

/** The promtool binary on PATH, or a failure naming how to get it (never a silent skip). */
export function promtoolBinary(): string {
  if (checked) return "promtool";
  const found = spawnSync("promtool", ["--version"], { encoding: "utf8" });
  if (found.error || found.status !== 0)
    throw new Error(
      "promtool is not on PATH: run the suite through ./dev test (scripts/ensure-tools.sh builds it)",
    );
  checked = true;
  return "promtool";
}

export interface PromtoolResult {
  ok: boolean;
  output: string;
}

/** Runs `promtool <args>` in `cwd` (rule unit tests resolve their rule files from there). */
export function promtool(args: string[], cwd: string): PromtoolResult {
  const result = spawnSync(promtoolBinary(), args, { cwd, encoding: "utf8", timeout: 120_000 });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}
