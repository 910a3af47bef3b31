// The scale drill (#20): the prod topology with queue-depth autoscaling on a real node, KEDA itself
// reading the real queue, the controller-manager's HPA scaling the workers from KEDA's metric through the
// aggregation layer, a burst that takes them to max, the backlog drained, and scale-in back to min that
// removes idle workers, not busy ones (pod-deletion-cost). Writes docs/scale-drill.md with MESH_DRILL_DOCS=1.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { ApiClient } from "../support/api-client.js";
import { expectedOutput, type SegmentExecution, segmentsExecutedTwice } from "../support/run-checks.js";
import { query } from "../support/services.js";
import { waitFor } from "../support/wait.js";
import {
  type RealDrillEnvironment,
  realNodeResources,
  startRealDrillEnvironment,
} from "./drill/real-drill-environment.js";
import { scaleReport } from "./drill/scale-report.js";
import { type ScaleSample, ScaleSampler } from "./drill/scale-sampler.js";
import { stackShape } from "./support/stack-shapes.js";

const STACK = "scale";
const NAMESPACE = `mesh-${STACK}`;
const WORKER = "mesh-worker";
const MIN = 1;
const MAX = 4;
const CONCURRENCY = 4;
/** KEDA's target: one worker per CONCURRENCY runs queued or held, so the burst below asks for MAX. */
const TARGET_RUNS_PER_REPLICA = CONCURRENCY;
/**
 * Runs of 60 tokens 2.5 s apart (150 s, a checkpoint every 8 tokens): the first worker's runs must still be
 * going when the added workers are Ready (≈ 60–110 s after the burst on this loaded machine), and end
 * well before theirs, so that at the first scale-in there is an idle worker and busy ones.
 */
const TOKENS = 60;
const TOKEN_DELAY_MS = 2_500;
/** The second part of the burst goes in this long after the first has filled the one worker. */
const SECOND_PART_AFTER_MS = 40_000;
const SCALE_DOWN = { stabilizationWindowSeconds: 20, pods: 1, periodSeconds: 15 };
const DOCS = fileURLToPath(new URL("../../docs", import.meta.url));

describe("scale drill: KEDA scales the workers on the real queue, and scale-in spares busy workers", () => {
  let drill: RealDrillEnvironment;
  const apiToken = randomBytes(16).toString("hex");
  const shape = stackShape("prod", {
    "api.replicas": 1,
    "api.autoscaling.enabled": false,
    "api.resources": realNodeResources("512Mi"),
    "worker.resources": realNodeResources("512Mi"),
    "worker.concurrency": CONCURRENCY,
    "worker.terminationGracePeriodSeconds": 60,
    "worker.autoscaling": {
      enabled: true,
      mode: "queueDepth",
      minReplicas: MIN,
      maxReplicas: MAX,
      targetRunsPerReplica: TARGET_RUNS_PER_REPLICA,
      scaleDown: SCALE_DOWN,
    },
    "extraEnv.MESH_BUILTIN_TOKENS": String(TOKENS),
    "extraEnv.MESH_BUILTIN_TOKEN_DELAY_MS": String(TOKEN_DELAY_MS),
  });

  before(async function () {
    this.timeout(1_200_000);
    drill = await startRealDrillEnvironment({
      stackName: STACK,
      nodes: [{ name: "node-a", zone: "zone-a" }],
      meshImage: String(shape.values.image),
      shape,
      apiToken,
      keda: true,
    });
  });

  after(async function () {
    this.timeout(300_000);
    await drill?.stop();
  });

  it("scales 1 → 4 on a burst, drains it, returns to 1, and removes idle workers while busy ones remain", async function () {
    this.timeout(1_500_000);
    const client = new ApiClient(drill.serviceUrl, apiToken);
    const runs: { runId: string; input: string }[] = [];
    const submit = async (part: string, count: number) => {
      const submitted = await Promise.all(
        Array.from({ length: count }, async (_, index) => {
          const input = `${part} ${index}`;
          return { runId: await client.createRun(`${part}-${index}`, input), input };
        }),
      );
      runs.push(...submitted);
      return submitted.map((run) => run.runId);
    };
    const sampler = new ScaleSampler({
      cluster: drill.cluster,
      namespace: NAMESPACE,
      databaseUrl: drill.databaseUrl,
      runIds: () => runs.map((run) => run.runId),
      workerDeployment: WORKER,
      scaledObject: WORKER,
    });
    const last = () => sampler.samples.at(-1);
    const describeLast = () => JSON.stringify(last());
    sampler.start();
    try {
      // KEDA serves the ScaledObject's metric before the load: its scaler logged in and ran the query.
      await waitFor(
        "KEDA's metric for the workers, through the apiserver",
        () => last()?.metric !== undefined,
        {
          timeoutMs: 180_000,
          intervalMs: 1_000,
        },
      );
      await waitFor(`${MIN} worker Ready`, () => last()?.ready === MIN, {
        timeoutMs: 120_000,
        intervalMs: 1_000,
      });

      // First part: one worker's worth, which the one worker takes.
      const firstPart = await submit("first", CONCURRENCY);
      const firstWorker = await waitFor(
        "the one worker holding the first part",
        () => last()?.workers.find((worker) => worker.held === CONCURRENCY)?.name,
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      await sleep(SECOND_PART_AFTER_MS);
      // Second part: three workers' worth, more than the one worker can take.
      const burstAt = sampler.now();
      await submit("second", CONCURRENCY * (MAX - MIN));

      const since = (sample: ScaleSample | undefined) => (sample ? sample.at - burstAt : Number.NaN);
      await waitFor(`${MAX} workers Ready (the HPA at max from KEDA's metric)`, () => last()?.ready === MAX, {
        timeoutMs: 240_000,
        intervalMs: 1_000,
      }).catch((error: Error) => assert.fail(`${error.message}; last sample: ${describeLast()}`));
      await waitFor(`all ${runs.length} runs done`, () => last()?.succeeded === runs.length, {
        timeoutMs: 600_000,
        intervalMs: 1_000,
      }).catch((error: Error) => assert.fail(`${error.message}; last sample: ${describeLast()}`));
      await waitFor(
        `back at ${MIN} worker`,
        () => {
          const sample = last();
          return sample?.workers.length === MIN && sample.ready === MIN && sample.desired === MIN;
        },
        { timeoutMs: 300_000, intervalMs: 1_000 },
      ).catch((error: Error) => assert.fail(`${error.message}; last sample: ${describeLast()}`));
      await sampler.stop();

      const after = sampler.samples.filter((sample) => sample.at >= burstAt);
      const firstWhere = (check: (sample: ScaleSample) => boolean) => since(after.find(check));
      const drainedAt = firstWhere((sample) => sample.succeeded === runs.length);

      // Every run ends SUCCESS with the output of its uninterrupted twin.
      const wrongOutputs: string[] = [];
      for (const run of runs) {
        const view = await client.getRun(run.runId);
        if (view.status !== "SUCCESS" || view.output !== expectedOutput(run.input, TOKENS))
          wrongOutputs.push(`${run.runId} (${view.status})`);
      }
      // Which worker executed each segment: a run resumed elsewhere shows two executors.
      const executions = segmentExecutionsIn(drill.logs.collected(NAMESPACE).flatMap((pod) => pod.lines));
      const twice = [...executions].flatMap(([runId, list]) =>
        segmentsExecutedTwice(list).map((entry) => `${runId}: ${entry}`),
      );
      const interrupted = [...executions]
        .filter(([, list]) => new Set(list.map((entry) => entry.executorId)).size > 1)
        .map(
          ([runId, list]) => `${runId} on ${[...new Set(list.map((entry) => entry.executorId))].join(" → ")}`,
        );

      const summary = {
        samples: sampler.samples,
        scaleIns: sampler.scaleIns,
        burstAt,
        firstAdded: firstWhere((sample) => sample.ready > MIN),
        atMax: firstWhere((sample) => sample.ready === MAX),
        drained: drainedAt,
        backAtMin: firstWhere(
          (sample) =>
            sample.at - burstAt > drainedAt && sample.workers.length === MIN && sample.ready === MIN,
        ),
        runs: runs.length,
        runsSucceeded: runs.length - wrongOutputs.length,
        interrupted,
        segmentsExecutedTwice: twice,
        settings: {
          minReplicas: MIN,
          maxReplicas: MAX,
          targetRunsPerReplica: TARGET_RUNS_PER_REPLICA,
          concurrency: CONCURRENCY,
          runSeconds: (TOKENS * TOKEN_DELAY_MS) / 1000,
          scaleDown: SCALE_DOWN,
        },
      };
      const report = scaleReport(summary);
      for (const line of report.lines) console.log(`      ${line}`);
      const outDir = process.env.MESH_DRILL_DOCS ? DOCS : join(tmpdir(), "mesh-scale-drill");
      mkdirSync(outDir, { recursive: true });
      writeFileSync(join(outDir, "scale-drill.md"), report.markdown);
      writeFileSync(join(outDir, "scale-drill.svg"), report.svg);
      // The raw samples beside the report (not committed to docs/): what a failed drill is read from.
      writeFileSync(join(tmpdir(), "mesh-scale-drill-samples.json"), JSON.stringify(sampler.samples));
      const costLines = drill.logs
        .collected(NAMESPACE)
        .flatMap((pod) =>
          pod.lines.filter((line) => /deletion-cost/.test(line)).map((line) => `${pod.name}: ${line}`),
        );
      if (costLines.length)
        console.log(`      pod-deletion-cost log lines:\n${costLines.slice(0, 20).join("\n")}`);
      console.log(`      report: ${join(outDir, "scale-drill.md")}`);

      assert.deepEqual(wrongOutputs, [], "every run SUCCESS with its twin's output");
      assert.deepEqual(twice, [], "no segment executed twice");
      assert.ok(
        Math.max(...after.map((sample) => sample.metric ?? 0)) >= runs.length,
        `KEDA's metric counted the whole burst (${runs.length} runs queued or held)`,
      );
      // Scale-in: one pod at a time down to min, never a busy worker while an idle one was there.
      assert.equal(
        sampler.scaleIns.length,
        MAX - MIN,
        `${MAX - MIN} workers removed: ${report.lines.join("\n")}`,
      );
      const firstScaleIn = sampler.scaleIns[0];
      assert.equal(
        firstScaleIn?.pod,
        firstWorker,
        `the first scale-in removed the first worker, idle since its runs ended, not a busy one:\n${report.lines.join("\n")}`,
      );
      const busyRemoved = sampler.scaleIns.filter((event) => event.held > 0 && event.idleOthers.length > 0);
      assert.deepEqual(busyRemoved, [], "no busy worker removed while an idle one was there");
      assert.deepEqual(interrupted, [], "no run interrupted by scale-in (handed back and resumed elsewhere)");
      // Each removed worker drained and exited on its own ("stopped" is logged just before exit 0).
      for (const event of sampler.scaleIns) {
        const lines = drill.logs.collected(NAMESPACE).find((pod) => pod.name === event.pod)?.lines ?? [];
        const draining = lines.findIndex((line) => line.includes('"draining"'));
        const stopped = lines.findIndex((line) => line.includes('"stopped"'));
        assert.ok(draining >= 0 && stopped > draining, `${event.pod} drained and stopped cleanly (exit 0)`);
      }
      // firstPart is the first worker's: it held them from start to end.
      const firstExecutors = firstPart.map((runId) => [
        ...new Set((executions.get(runId) ?? []).map((entry) => entry.executorId)),
      ]);
      assert.deepEqual(
        firstExecutors,
        firstPart.map(() => [firstWorker]),
        "the first part ran on the first worker",
      );
    } finally {
      await sampler.stop();
      const left = await query<{ status: string; n: number }>(
        drill.databaseUrl,
        "SELECT status, count(*)::int AS n FROM dbos.workflow_status GROUP BY status",
      ).catch(() => []);
      console.log(`      runs by status at the end: ${JSON.stringify(left)}`);
    }
  });
});

/** "segment executed" lines of mesh pods' logs, per run. */
function segmentExecutionsIn(lines: string[]): Map<string, SegmentExecution[]> {
  const executions = new Map<string, SegmentExecution[]>();
  for (const line of lines) {
    if (!line.includes('"segment executed"')) continue;
    const entry = JSON.parse(line) as { runId: string; segment: number; executorId: string };
    executions.set(entry.runId, [
      ...(executions.get(entry.runId) ?? []),
      { runId: entry.runId, segment: entry.segment, executorId: entry.executorId },
    ]);
  }
  return executions;
}
