import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeIncompleteReport } from "../bench/incomplete-report.js";
import type { Measurement } from "../bench/results.js";
import { runScenarios } from "../bench/scenario-runner.js";

// The benchmark as a newcomer meets it: run without the tools it needs, and a scenario that fails
// part-way. Nothing here measures anything.
const BENCH = fileURLToPath(new URL("../bench/run.ts", import.meta.url));

describe("the benchmark for a newcomer", () => {
  let outDir: string;
  beforeEach(() => {
    outDir = mkdtempSync(join(tmpdir(), "mesh-bench-newcomer-"));
  });
  afterEach(() => rmSync(outDir, { recursive: true, force: true }));

  it("stops before its first scenario, naming every tool it cannot find", () => {
    // Node itself and the system's commands, without .tools/bin (where ./dev puts the Go tools).
    const path = [dirname(process.execPath), "/usr/sbin", "/usr/bin", "/sbin", "/bin"].join(":");
    const run = spawnSync(process.execPath, ["--import", "tsx", BENCH, "--quick", "--out", outDir], {
      encoding: "utf8",
      env: { ...process.env, PATH: path },
      timeout: 60_000,
    });
    assert.equal(run.status, 2, run.stderr);
    for (const tool of ["etcd", "kube-apiserver", "pulumi"])
      assert.match(run.stderr, new RegExp(`${tool} is not on PATH`));
    assert.match(run.stderr, /\.\/dev bench/, "says how to run it with everything set up");
    assert.doesNotMatch(run.stderr, /\[1\/9\]/, "no scenario started");
  });

  it("keeps every finished scenario's figures, marked incomplete, when a later one fails", async () => {
    const measurement: Partial<Measurement> = {};
    const ran: string[] = [];
    const failure = await runScenarios<Measurement>(
      [
        {
          name: "baselines",
          run: async (into) => {
            ran.push("baselines");
            into.baselines = {
              postgresCommitsPerSecond: 1234,
              postgresConnections: 8,
            } as Measurement["baselines"];
          },
        },
        {
          name: "busyCost",
          run: async (into) => {
            ran.push("busyCost");
            into.busyCost = [
              { checkpoints: 4, transactionsPerRun: 23.5 },
            ] as unknown as Measurement["busyCost"];
          },
        },
        {
          name: "openStreams",
          run: async () => {
            ran.push("openStreams");
            throw new Error("etcd exited with code 1");
          },
        },
        {
          name: "queueWake",
          run: async () => {
            ran.push("queueWake");
          },
        },
      ],
      measurement,
      1,
    );
    assert.deepEqual(ran, ["baselines", "busyCost", "openStreams"], "nothing runs after the failure");
    assert.equal(failure?.scenario, "openStreams");
    assert.match(failure?.message ?? "", /etcd exited/);

    writeIncompleteReport(outDir, {
      quick: true,
      incomplete: failure ?? { scenario: "", message: "" },
      machine: { cpus: 2, node: process.versions.node },
      startedAt: new Date().toISOString(),
      durationSeconds: 42,
      repeats: [measurement],
    });
    const json = JSON.parse(readFileSync(join(outDir, "benchmarks.json"), "utf8"));
    assert.equal(json.incomplete.scenario, "openStreams");
    assert.equal(json.repeats[0].baselines.postgresCommitsPerSecond, 1234);
    assert.equal(json.repeats[0].busyCost[0].transactionsPerRun, 23.5);
    const report = readFileSync(join(outDir, "benchmarks.md"), "utf8");
    assert.match(report, /INCOMPLETE/);
    assert.match(report, /stopped at \*\*openStreams \(repeat 1\)\*\*/);
    assert.match(report, /"postgresCommitsPerSecond": 1234/);
    assert.match(report, /"transactionsPerRun": 23.5/);
    assert.match(report, /etcd exited with code 1/);
  });
});
