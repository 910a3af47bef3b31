// The rollout drill (DESIGN §3.3 under load): state 1 → 2 → 3, a PDB-honouring drain of a node in
// state 3, then 3 → 2 → 1, each step a real `pulumi up` whose pods the real Deployment controller rolls and
// two real nodes run as containers of mesh's image (kubelet, containerd, CNI; test/real-node), while a
// steady load goes through the Service's ClusterIP, routed by kube-proxy.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import type { ControlPlane } from "../control-plane/control-plane.js";
import { expectedOutput } from "../support/run-checks.js";
import { query } from "../support/services.js";
import { waitFor } from "../support/wait.js";
import { drainNode, podPlacement, waitForDeploymentsAvailable } from "./drill/cluster-operations.js";
import { type DrillStep, drillReport, latencyChart } from "./drill/drill-report.js";
import {
  type RealDrillEnvironment,
  realNodeResources,
  startRealDrillEnvironment,
} from "./drill/real-drill-environment.js";
import { SteadyLoad } from "./drill/steady-load.js";
import { setPathConfig, stepRecorder } from "./support/engine-stack.js";
import { setPath, stackShape } from "./support/stack-shapes.js";

const STACK = "drill";
const NAMESPACE = `mesh-${STACK}`;
/**
 * A run streams 80 tokens 100 ms apart (8 s): longer than the api pods' preStop sleep (5 s), so streams
 * that opened before a pod left the endpoints are still open when it drains, and must resume elsewhere.
 */
const TOKENS = 80;
const TOKEN_DELAY_MS = 100;
/** The stack's worker.concurrency: not the app's default (8), so a pod writing its own would show. */
const STACK_CONCURRENCY = 12;
const NODES = [
  { name: "node-a", zone: "zone-a" },
  { name: "node-b", zone: "zone-b" },
];
const DOCS = fileURLToPath(new URL("../../docs", import.meta.url));

describe("rollout drill: 1 → 2 → 3 → drain → 2 → 1 under load, on real nodes", () => {
  let drill: RealDrillEnvironment;
  let cluster: ControlPlane;
  let databaseUrl: string;
  let stack: Stack;
  let serviceUrl: string;
  const apiToken = randomBytes(16).toString("hex");
  const shape = stackShape("dev", {
    "worker.concurrency": STACK_CONCURRENCY,
    "worker.replicas": 2,
    "api.resources": realNodeResources("512Mi"),
    "worker.resources": realNodeResources("1Gi"),
    "extraEnv.MESH_BUILTIN_TOKENS": String(TOKENS),
    "extraEnv.MESH_BUILTIN_TOKEN_DELAY_MS": String(TOKEN_DELAY_MS),
  });

  before(async function () {
    this.timeout(1_200_000);
    drill = await startRealDrillEnvironment({
      stackName: STACK,
      nodes: NODES,
      meshImage: String(shape.values.image),
      shape,
      apiToken,
    });
    ({ cluster, databaseUrl, stack, serviceUrl } = drill);
  });

  after(async function () {
    this.timeout(300_000);
    await drill?.stop();
  });

  const storedQueueSettings = () =>
    query<{ name: string; worker_concurrency: number }>(
      databaseUrl,
      "SELECT name, worker_concurrency FROM dbos.queues ORDER BY name",
    );

  it("serves every request, completes every run with its twin's output, and moves execution off the api pods", async function () {
    this.timeout(1_200_000);
    const load = new SteadyLoad({
      baseUrl: serviceUrl,
      token: apiToken,
      runsPerSecond: 2,
      getsPerSecond: 6,
      threads: 48,
      streamEvery: 2,
    });
    const steps: DrillStep[] = [];
    const placements: Record<string, string[]> = { "state 1": await podPlacement(cluster, NAMESPACE) };
    const settingsAfterStep: Record<string, number[]> = {};
    let evictionsRefusedByBudget = 0;
    let rolledToApiAt = 0;

    const step = async (name: string, action: () => Promise<void>) => {
      load.step = name;
      const startedAt = load.now();
      await action();
      steps.push({ name, startedAt, endedAt: load.now() });
      console.log(`      step ${name}: ${((load.now() - startedAt) / 1000).toFixed(1)} s`);
      placements[`after ${name}`] = await podPlacement(cluster, NAMESPACE);
      settingsAfterStep[name] = (await storedQueueSettings()).map((row) => row.worker_concurrency);
    };
    /** `pulumi config set --path ...` then `pulumi up` (which awaits the Deployments' rollouts). */
    const configSetAndUp = async (values: Record<string, string | number | boolean>) => {
      await setPathConfig(stack, values);
      for (const [key, value] of Object.entries(values)) setPath(shape.values, key, value);
      const recorder = stepRecorder();
      const result = await stack.up({ onEvent: recorder.onEvent });
      assert.equal(result.summary.result, "succeeded", recorder.diagnostics.join("\n"));
      await waitForDeploymentsAvailable(cluster, NAMESPACE);
    };

    load.start();
    await step("steady (state 1)", () => sleep(8_000));
    await step("1 → 2", () => configSetAndUp({ "worker.enabled": true }));
    await step("2 → 3", async () => {
      await configSetAndUp({ dispatchRole: "api" });
      rolledToApiAt = Date.now();
    });
    await step("steady (state 3)", () => sleep(8_000));
    await step("drain node a", async () => {
      evictionsRefusedByBudget = await drainNode(cluster, NODES[0]?.name ?? "", NAMESPACE);
    });
    await step("3 → 2", () => configSetAndUp({ dispatchRole: "all" }));
    await step("2 → 1", () => configSetAndUp({ "worker.enabled": false }));
    await step("steady (state 1 again)", () => sleep(5_000));
    load.step = "stopping";
    await load.stop(120_000);

    // Every accepted run ends SUCCESS with the output of its uninterrupted twin.
    const outcomes = await waitFor(
      `${load.runs.length} runs to finish`,
      async () => {
        const rows = await query<{ workflow_uuid: string; status: string }>(
          databaseUrl,
          "SELECT workflow_uuid, status FROM dbos.workflow_status WHERE workflow_uuid = ANY($1)",
          [load.runs.map((run) => run.runId)],
        );
        const pending = rows.filter((row) => row.status === "PENDING" || row.status === "ENQUEUED");
        return rows.length === load.runs.length && pending.length === 0 ? rows : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 1_000 },
    );
    const failedRuns = outcomes.filter((row) => row.status !== "SUCCESS");
    assert.deepEqual(failedRuns, [], "every accepted run ends SUCCESS");
    const wrongOutputs: string[] = [];
    for (const run of load.runs) {
      const response = await fetch(`${serviceUrl}/v1/runs/${run.runId}`, {
        headers: { authorization: `Bearer ${apiToken}` },
      });
      const view = (await response.json()) as { output?: string };
      if (view.output !== expectedOutput(run.input, TOKENS)) wrongOutputs.push(run.runId);
    }

    const streams = load.runs.flatMap((run) => (run.stream ? [run.stream] : []));
    const streamsCut = streams.filter((stream) => stream.resumes > 0).length;
    const summary = {
      steps,
      load,
      runsSucceeded: load.runs.length - wrongOutputs.length,
      streamsCut,
      evictionsRefusedByBudget,
      placements,
    };
    const report = drillReport(summary, "rollout-drill.svg");
    for (const line of report.lines) console.log(`      ${line}`);
    const outDir = process.env.MESH_DRILL_DOCS ? DOCS : join(tmpdir(), "mesh-rollout-drill");
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, "rollout-drill.md"), report.markdown);
    writeFileSync(join(outDir, "rollout-drill.svg"), latencyChart(summary));
    console.log(`      report: ${join(outDir, "rollout-drill.md")}`);

    // Zero failed requests: no connection error, no 5xx, no stream cut by an error.
    const failures = load.failures();
    assert.deepEqual(
      failures.map((sample) => `${sample.step}: ${sample.kind} ${sample.status} ${sample.error ?? ""}`),
      [],
      "no request failed",
    );
    assert.ok(load.runs.length >= 60, `a steady load (${load.runs.length} runs accepted)`);
    assert.deepEqual(wrongOutputs, [], "every run's output equals its uninterrupted twin's");

    // Every SSE stream delivered every seq once, in order, resuming with Last-Event-ID after a cut.
    for (const stream of streams) {
      assert.equal(stream.done?.status, "SUCCESS", `stream of ${stream.runId} ended with done`);
      assert.deepEqual(
        stream.seqs,
        Array.from({ length: TOKENS }, (_, index) => index + 1),
        `stream of ${stream.runId}: every seq once (${stream.connections} connections)`,
      );
    }
    assert.ok(streamsCut > 0, "some streams lost their pod during the drill and resumed elsewhere");

    // No run body executed on an api pod once the 2 → 3 rollout had finished; the workers did execute then.
    const executions = drill.logs
      .collected(NAMESPACE)
      .flatMap((pod) => segmentLogTimes(pod.lines).map((time) => ({ pod: pod.name, role: pod.role, time })));
    const onApiAfterRollout = executions.filter(
      (entry) => entry.role === "api" && entry.time > rolledToApiAt,
    );
    assert.deepEqual(onApiAfterRollout, [], "no segment executed by an api pod after 2 → 3");
    assert.ok(
      executions.some((entry) => entry.role === "all"),
      "all pods executed segments (states 1, 2)",
    );
    assert.ok(
      executions.some((entry) => entry.role === "worker" && entry.time > rolledToApiAt),
      "workers executed segments in state 3",
    );

    // The queue settings in Postgres stayed the stack's after every step.
    for (const [name, concurrencies] of Object.entries(settingsAfterStep))
      assert.deepEqual(concurrencies, [STACK_CONCURRENCY, STACK_CONCURRENCY], `queue settings after ${name}`);
  });
});

/** When each "segment executed" line of a pod's log was written (pino's epoch-ms `time`). */
function segmentLogTimes(lines: string[]): number[] {
  return lines
    .filter((line) => line.includes('"segment executed"'))
    .map((line) => (JSON.parse(line) as { time: number }).time);
}
