// The upgrade drill (#18): a workflow-version upgrade mesh-wf-1 → mesh-wf-2 by one `pulumi up` under a
// steady load, with runs of every kind in flight when it starts — queued, mid-way, handed back by a
// draining worker, orphaned by a kill -9 of a v1 worker — then the v1 version drained and retired by a
// second `pulumi up`. Two builds of mesh's image (test/real-node/images.ts variants): v1 checkpoints
// every 4 tokens, v2 every 5, so a v1 run resumed on v2 code would replay v1's segments into v2's layout
// and give a wrong output. Pods run as containers on two real nodes (test/real-node).
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
import { podPlacement, waitForDeploymentsAvailable } from "./drill/cluster-operations.js";
import { DispatchSampler } from "./drill/dispatch-sampler.js";
import type { DrillStep } from "./drill/drill-report.js";
import {
  type RealDrillEnvironment,
  realNodeResources,
  startRealDrillEnvironment,
} from "./drill/real-drill-environment.js";
import { SteadyLoad } from "./drill/steady-load.js";
import { type UpgradeSummary, upgradeReport } from "./drill/upgrade-report.js";
import { setPathConfig, stepRecorder } from "./support/engine-stack.js";
import { stackShape } from "./support/stack-shapes.js";

const STACK = "upgrade";
const NAMESPACE = `mesh-${STACK}`;
const IMAGE_BASE = "registry.mesh.test/mesh:0.0.0-base";
const IMAGE_V1 = "registry.mesh.test/mesh:1.0.0";
const IMAGE_V2 = "registry.mesh.test/mesh:2.0.0";
const V1 = "mesh-wf-1";
const V2 = "mesh-wf-2";
/**
 * A run: 200 tokens 100 ms apart (20 s), far longer than a worker's drain budget (5 s): a worker told to
 * stop hands back every run it started in the last 15 s.
 */
const TOKENS = 200;
const WORKER_CONCURRENCY = 8;
/** Runs posted at once just before the upgrade, so some wait in the queue at v1 while it rolls. */
const BURST = 24;
const TOKEN_DELAY_MS = 100;
/** Runs posted behind a just-started burst run of their thread: queued at v1 until v2 is live. */
const CHAINED = 4;
/** Runs never waited longer than this while a worker slot was free, over the whole drill (DispatchSampler). */
const DISPATCH_PAUSE_BOUND_MS = 10_000;
const NODES = [
  { name: "node-a", zone: "zone-a" },
  { name: "node-b", zone: "zone-b" },
];
const DOCS = fileURLToPath(new URL("../../docs", import.meta.url));

describe("upgrade drill: mesh-wf-1 → mesh-wf-2 under load, every kind of run in flight, on real nodes", () => {
  let drill: RealDrillEnvironment;
  let cluster: ControlPlane;
  let databaseUrl: string;
  let stack: Stack;
  let serviceUrl: string;
  const apiToken = randomBytes(16).toString("hex");
  // State 3 (api + workers) on the v1 image. A worker has 10 s to stop (5 s of drain budget): runs that
  // are mid-way when it is told to stop are handed back.
  const shape = stackShape("dev", {
    image: IMAGE_V1,
    dispatchRole: "api",
    "worker.enabled": true,
    "worker.replicas": 2,
    "worker.concurrency": WORKER_CONCURRENCY,
    "worker.terminationGracePeriodSeconds": 10,
    "workflow.version": V1,
    "extraEnv.MESH_BUILTIN_TOKENS": String(TOKENS),
    "extraEnv.MESH_BUILTIN_TOKEN_DELAY_MS": String(TOKEN_DELAY_MS),
    "extraEnv.MESH_EXECUTOR_TIMEOUT_MS": "5000",
    "api.resources": realNodeResources("512Mi"),
    "worker.resources": realNodeResources("1Gi"),
  });

  before(async function () {
    this.timeout(1_200_000);
    drill = await startRealDrillEnvironment({
      stackName: STACK,
      nodes: NODES,
      // The stack's first image must be loaded: v1 is the base reference, v2 a variant of it.
      meshImage: IMAGE_BASE,
      meshVariants: [
        { reference: IMAGE_V1, workflowVersion: V1, env: { MESH_CHECKPOINT_EVERY: "4" } },
        { reference: IMAGE_V2, workflowVersion: V2, env: { MESH_CHECKPOINT_EVERY: "5" } },
      ],
      shape,
      apiToken,
    });
    ({ cluster, databaseUrl, stack, serviceUrl } = drill);
  });

  // A failed drill leaves its load and sampler running: they would keep mocha alive.
  let stopLoad: (() => Promise<void>) | undefined;
  let stopSampler: (() => Promise<void>) | undefined;
  after(async function () {
    this.timeout(300_000);
    await stopSampler?.();
    await stopLoad?.();
    await drill?.stop();
  });

  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${serviceUrl}${path}`, {
      headers: { authorization: `Bearer ${apiToken}` },
    });
    assert.equal(response.status, 200, `GET ${path}`);
    return (await response.json()) as T;
  };
  /** Waiting and running runs of a version on the run queues, per GET /v1/queues. */
  const versionLoad = async (version: string) => {
    const { queues } = await api<{
      queues: { versions: { version: string; enqueued: number; pending: number; stranded: number }[] }[];
    }>("/v1/queues");
    const entries = queues.flatMap((queue) => queue.versions).filter((entry) => entry.version === version);
    return {
      runs: entries.reduce((sum, entry) => sum + entry.enqueued + entry.pending, 0),
      stranded: entries.reduce((sum, entry) => sum + entry.stranded, 0),
    };
  };
  const runsWithSteps = (status: string) =>
    query<{ workflow_uuid: string; executor_id: string; application_version: string }>(
      databaseUrl,
      `SELECT ws.workflow_uuid, ws.executor_id, ws.application_version FROM dbos.workflow_status ws
        WHERE ws.status = $1
          AND EXISTS (SELECT 1 FROM dbos.operation_outputs o WHERE o.workflow_uuid = ws.workflow_uuid)`,
      [status],
    );
  /** The namespace's pods that are not terminating, with their container's image. */
  const livePods = async () =>
    (
      await cluster.api<{
        items: {
          metadata: { name: string; deletionTimestamp?: string };
          spec: { containers: { image: string }[] };
        }[];
      }>("GET", `/api/v1/namespaces/${NAMESPACE}/pods`)
    ).body.items
      .filter((pod) => !pod.metadata.deletionTimestamp)
      .map((pod) => ({ name: pod.metadata.name, image: pod.spec.containers[0]?.image ?? "" }));
  /** Old v1 worker pods (Deployment mesh-worker, image v1) holding runs with recorded steps. */
  const oldWorkersHolding = async () => {
    const holders = new Set((await runsWithSteps("PENDING")).map((run) => run.executor_id));
    const v1Pods = new Set((await livePods()).filter((pod) => pod.image === IMAGE_V1).map((pod) => pod.name));
    return [...holders].filter(
      (pod) => v1Pods.has(pod) && !pod.startsWith(`mesh-worker-${V1}-`) && pod.startsWith("mesh-worker-"),
    );
  };
  const availableReplicas = async (name: string) => {
    const response = await cluster.api<{ status?: { availableReplicas?: number } }>(
      "GET",
      `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${name}`,
    );
    return response.status === 200 ? (response.body.status?.availableReplicas ?? 0) : 0;
  };
  const deploymentExists = async (name: string) =>
    (await cluster.api("GET", `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${name}`)).status === 200;

  it("finishes every run on its own version's code, strands none, and retires v1 once it is empty", async function () {
    this.timeout(1_500_000);
    const load = new SteadyLoad({
      baseUrl: serviceUrl,
      token: apiToken,
      runsPerSecond: 0.5,
      getsPerSecond: 4,
      threads: 64,
      streamEvery: 3,
    });
    const steps: DrillStep[] = [];
    const burstRuns: { runId: string; input: string }[] = [];
    const placements: Record<string, string[]> = { "v1 (state 3)": await podPlacement(cluster, NAMESPACE) };
    const step = async (name: string, action: () => Promise<void>) => {
      load.step = name;
      const startedAt = load.now();
      await action();
      steps.push({ name, startedAt, endedAt: load.now() });
      console.log(`      step ${name}: ${((load.now() - startedAt) / 1000).toFixed(1)} s`);
      placements[`after ${name}`] = await podPlacement(cluster, NAMESPACE);
    };
    const configSetAndUp = async (values: Record<string, string | number | boolean>) => {
      if (Object.keys(values).length > 0) await setPathConfig(stack, values);
      const recorder = stepRecorder();
      const result = await stack.up({ onEvent: recorder.onEvent });
      assert.equal(result.summary.result, "succeeded", recorder.diagnostics.join("\n"));
      await waitForDeploymentsAvailable(cluster, NAMESPACE);
      return recorder;
    };

    load.start();
    stopLoad = () => load.stop(0);
    const loadStartedAt = Date.now();
    const sampler = new DispatchSampler({
      cluster,
      namespace: NAMESPACE,
      databaseUrl,
      workerConcurrency: WORKER_CONCURRENCY,
      versionOfImage: { [IMAGE_V1]: V1, [IMAGE_V2]: V2 },
      intervalMs: 500,
      began: loadStartedAt,
    });
    sampler.start();
    stopSampler = () => sampler.stop();
    await step("steady (v1)", () => sleep(10_000));

    // What the PR's `pulumi preview` shows: v1's draining Deployment to be created, and why.
    await setPathConfig(stack, { image: IMAGE_V2, "workflow.version": V2 });
    const preview = stepRecorder();
    await stack.preview({ onEvent: preview.onEvent });

    // The moment of `pulumi up`: a burst queues runs behind the busy v1 workers, which hold runs with
    // recorded steps. While the up rolls, once v1's draining workers are up, an old v1 worker holding runs
    // is killed outright (its pod force-deleted: SIGKILL, no drain); the other is drained by the roll.
    const queuedAtUp: string[] = [];
    const chainedRuns: string[] = [];
    await step("burst", async () => {
      const burst = await Promise.all(
        Array.from({ length: BURST }, (_, index) =>
          fetch(`${serviceUrl}/v1/threads/burst-${index}/runs`, {
            method: "POST",
            headers: { authorization: `Bearer ${apiToken}`, "content-type": "application/json" },
            body: JSON.stringify({ input: `burst ${index}` }),
          }).then(async (response) => {
            assert.equal(response.status, 202);
            return { runId: ((await response.json()) as { runId: string }).runId, input: `burst ${index}` };
          }),
        ),
      );
      burstRuns.push(...burst);
      await waitFor(
        "both v1 workers to hold runs with steps",
        async () => (await oldWorkersHolding()).length >= 2,
      );
      // Runs that v1 cannot start before v2 is live: each behind a burst run of its own thread that a v1
      // worker just started (one run per thread at a time; that run has ~20 s to go, the up takes ~12 s).
      // Whatever capacity v1's draining workers have, these wait step-less at v1, and the mover must hand
      // them to v2 (without them, whether any queued run is left for v2 is a race).
      const started = await query<{ queue_partition_key: string }>(
        databaseUrl,
        `SELECT queue_partition_key FROM dbos.workflow_status
          WHERE status = 'PENDING' AND application_version = $1 AND queue_partition_key LIKE 'burst-%'
          ORDER BY updated_at DESC LIMIT $2`,
        [V1, CHAINED],
      );
      assert.ok(started.length >= 1, "v1 workers started burst runs");
      const chained = await Promise.all(
        started.map(({ queue_partition_key: thread }) =>
          fetch(`${serviceUrl}/v1/threads/${thread}/runs`, {
            method: "POST",
            headers: { authorization: `Bearer ${apiToken}`, "content-type": "application/json" },
            body: JSON.stringify({ input: `chained ${thread}` }),
          }).then(async (response) => {
            assert.equal(response.status, 202);
            return {
              runId: ((await response.json()) as { runId: string }).runId,
              input: `chained ${thread}`,
            };
          }),
        ),
      );
      burstRuns.push(...chained);
      chainedRuns.push(...chained.map((run) => run.runId));
      const waiting = await query<{ workflow_uuid: string }>(
        databaseUrl,
        "SELECT workflow_uuid FROM dbos.workflow_status WHERE status = 'ENQUEUED' AND application_version = $1",
        [V1],
      );
      queuedAtUp.push(...waiting.map((row) => row.workflow_uuid));
    });
    const startedByV1 = new Set<string>();
    const noteV1Runs = async () => {
      for (const run of [...(await runsWithSteps("PENDING")), ...(await runsWithSteps("ENQUEUED"))])
        if (run.application_version === V1) startedByV1.add(run.workflow_uuid);
    };
    await noteV1Runs();

    const upgradeStartedAt = Date.now();
    let killedPod = "";
    let drainersBeforeRoll = 0;
    await step("pulumi up: v2 (kill -9 a v1 worker mid-roll)", async () => {
      const killer = (async () => {
        // Mid-roll: once the first v2 worker pod exists (the release's workers roll after v1's draining
        // workers are available, which the drill checks after the up).
        await waitFor(
          "the first v2 worker pod",
          async () =>
            (await livePods()).some((pod) => pod.image === IMAGE_V2 && pod.name.startsWith("mesh-worker-")),
          { timeoutMs: 180_000, intervalMs: 250 },
        );
        drainersBeforeRoll = await availableReplicas(`mesh-worker-${V1}`);
        await noteV1Runs();
        killedPod = (await oldWorkersHolding())[0] ?? "";
        assert.ok(killedPod, "an old v1 worker holds runs with steps when the roll starts");
        const killed = await cluster.api("DELETE", `/api/v1/namespaces/${NAMESPACE}/pods/${killedPod}`, {
          gracePeriodSeconds: 0,
        });
        assert.equal(killed.status, 200, `force-delete ${killedPod}`);
      })();
      await configSetAndUp({}); // the config the preview showed
      await killer;
    });
    const upgradeEndedAt = Date.now();
    const drainingDeploymentAfterUp = await deploymentExists(`mesh-worker-${V1}`);

    // v1 drains: its runs finish on its draining workers. Runs stranded at v1 (no live executor of v1)
    // for 30 s end the wait, naming them.
    let drainedAt = 0;
    await step("v1 drains", async () => {
      let strandedSince: number | undefined;
      for (const deadline = Date.now() + 300_000; ; await sleep(500)) {
        const v1 = await versionLoad(V1);
        if (v1.runs === 0) break;
        if (v1.stranded === 0) strandedSince = undefined;
        else strandedSince ??= Date.now();
        if ((strandedSince !== undefined && Date.now() - strandedSince > 30_000) || Date.now() > deadline) {
          const waiting = await query<{ workflow_uuid: string }>(
            databaseUrl,
            "SELECT workflow_uuid FROM dbos.workflow_status WHERE status = 'ENQUEUED' AND application_version = $1",
            [V1],
          );
          assert.fail(
            `${V1} did not drain: ${v1.runs} runs left, ${v1.stranded} stranded (no live executor of ${V1}): ${waiting.map((row) => row.workflow_uuid).join(", ")}`,
          );
        }
      }
      drainedAt = Date.now();
    });
    assert.equal(drainingDeploymentAfterUp, true, "v1 kept a draining worker Deployment");
    assert.ok(drainersBeforeRoll >= 1, "v1's draining workers were available before the first v2 worker pod");
    await step("pulumi up: retire v1", async () => {
      await configSetAndUp({ "workflow.retired[0]": V1 });
    });
    assert.equal(
      await deploymentExists(`mesh-worker-${V1}`),
      false,
      "the retired version's workers are gone",
    );
    await step("steady (v2)", () => sleep(8_000));
    load.step = "stopping";
    await load.stop(120_000);
    await sampler.stop();

    const accepted = [...load.runs.map((run) => ({ runId: run.runId, input: run.input })), ...burstRuns];
    const outcomes = await waitFor(
      `${accepted.length} runs to finish`,
      async () => {
        const rows = await query<{ workflow_uuid: string; status: string; application_version: string }>(
          databaseUrl,
          "SELECT workflow_uuid, status, application_version FROM dbos.workflow_status WHERE workflow_uuid = ANY($1)",
          [accepted.map((run) => run.runId)],
        );
        const open = rows.filter((row) => row.status === "PENDING" || row.status === "ENQUEUED");
        return rows.length === accepted.length && open.length === 0 ? rows : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1_000 },
    ).catch(async (error) => {
      const stranded = await query<{ workflow_uuid: string; application_version: string; status: string }>(
        databaseUrl,
        "SELECT workflow_uuid, application_version, status FROM dbos.workflow_status WHERE status IN ('ENQUEUED', 'PENDING')",
      );
      throw new Error(`${(error as Error).message}; stranded runs: ${JSON.stringify(stranded)}`);
    });
    assert.deepEqual(
      outcomes.filter((row) => row.status !== "SUCCESS"),
      [],
      "every accepted run ends SUCCESS",
    );
    const wrongOutputs: string[] = [];
    for (const run of accepted) {
      const view = await api<{ output?: string }>(`/v1/runs/${run.runId}`);
      if (view.output !== expectedOutput(run.input, TOKENS)) wrongOutputs.push(run.runId);
    }

    // Which code ran what: every "segment executed" line of every pod, with the pod's image.
    const versionOfCode: Record<string, string> = { [V1]: "v1", [V2]: "v2" };
    const pods = drill.logs.collected(NAMESPACE);
    const versionOfPod = new Map(
      pods.map((pod) => [pod.name, versionOfCode[pod.version ?? ""] ?? `${pod.version}`]),
    );
    const executions = new Map<string, { pod: string; version: string }[]>();
    for (const pod of pods)
      for (const runId of segmentRunIds(pod.lines))
        executions.set(runId, [
          ...(executions.get(runId) ?? []),
          { pod: pod.name, version: versionOfPod.get(pod.name) ?? "" },
        ]);
    const versionsOf = (runId: string) =>
      new Set((executions.get(runId) ?? []).map((entry) => entry.version));
    const mixed = accepted.filter((run) => versionsOf(run.runId).size !== 1).map((run) => run.runId);
    const v1OnV2 = [...startedByV1].filter((runId) => versionsOf(runId).has("v2"));
    const drainer = (pod: string) => pod.startsWith(`mesh-worker-${V1}-`);
    const podsOf = (runId: string) => (executions.get(runId) ?? []).map((entry) => entry.pod);
    const oldV1Worker = (pod: string) =>
      versionOfPod.get(pod) === "v1" && pod.startsWith("mesh-worker-") && !drainer(pod);
    // A run left mid-way by an old v1 pod: it ran segments there and on another pod (of v1: checked above).
    const resumedAfter = (runId: string, left: (pod: string) => boolean) => {
      const pods = podsOf(runId);
      return pods.some(left) && pods.some((pod) => !left(pod));
    };
    const kinds = {
      queued: queuedAtUp.length,
      queuedMovedToV2: queuedAtUp.filter((runId) => versionsOf(runId).has("v2")).length,
      midWay: startedByV1.size,
      orphaned: [...startedByV1].filter((runId) => resumedAfter(runId, (pod) => pod === killedPod)).length,
      handedBack: [...startedByV1].filter((runId) =>
        resumedAfter(runId, (pod) => oldV1Worker(pod) && pod !== killedPod),
      ).length,
      finishedByDrainer: [...startedByV1].filter((runId) => podsOf(runId).some(drainer)).length,
    };
    const dispatch = await dispatchTimeline(
      databaseUrl,
      accepted.map((run) => run.runId),
    );
    const summary: UpgradeSummary = {
      steps,
      load,
      placements,
      kinds,
      runsAccepted: accepted.length,
      runsSucceeded: accepted.length - wrongOutputs.length,
      strandedAtEnd: (await versionLoad(V1)).stranded + (await versionLoad(V2)).stranded,
      v1DrainMs: drainedAt - upgradeStartedAt,
      upgradeUpMs: upgradeEndedAt - upgradeStartedAt,
      dispatch: { ...dispatch, longestPause: sampler.longestPause(), samples: sampler.samples.length },
      dispatchPauseBoundMs: DISPATCH_PAUSE_BOUND_MS,
    };
    const report = upgradeReport(summary);
    for (const line of report.lines) console.log(`      ${line}`);
    const outDir = process.env.MESH_DRILL_DOCS ? DOCS : join(tmpdir(), "mesh-upgrade-drill");
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, "upgrade-drill.md"), report.markdown);
    writeFileSync(join(outDir, "upgrade-drill.svg"), report.svg);
    // Every dispatch sample, kept beside the report (not in docs/): what a failed pause bound is read from.
    const samplesPath = join(tmpdir(), "mesh-upgrade-drill-samples.json");
    writeFileSync(samplesPath, JSON.stringify(sampler.samples));
    console.log(`      report: ${join(outDir, "upgrade-drill.md")}`);

    assert.match(
      preview.diagnostics.join("\n"),
      new RegExp(`workflow version ${V1} is draining on ${IMAGE_V1.replaceAll(".", "\\.")}`),
    );
    assert.ok(
      preview.steps.some((entry) => entry.op === "create" && entry.name === `mesh-worker-${V1}-deployment`),
      "the preview shows v1's draining Deployment",
    );
    assert.deepEqual(
      load
        .failures()
        .map((sample) => `${sample.step}: ${sample.kind} ${sample.status} ${sample.error ?? ""}`),
      [],
      "no request failed",
    );
    assert.deepEqual(wrongOutputs, [], "every run's output equals its uninterrupted twin's");
    assert.deepEqual(mixed, [], "every run's segments ran on one version");
    assert.deepEqual(v1OnV2, [], "no run v1 started ran a segment on v2 code");
    assert.equal(summary.strandedAtEnd, 0, "no run stranded");
    const chainedOnV2 = chainedRuns.filter((runId) => versionsOf(runId).has("v2")).length;
    assert.ok(
      kinds.queued >= 1 && kinds.queuedMovedToV2 >= 1,
      `queued v1 runs moved to v2: ${JSON.stringify(kinds)}; of ${chainedRuns.length} runs queued behind their thread, ${chainedOnV2} ran on v2`,
    );
    assert.ok(
      kinds.orphaned >= 1,
      `runs orphaned by the kill -9 finished on v1 code: ${JSON.stringify(kinds)}`,
    );
    assert.ok(
      kinds.handedBack >= 1,
      `runs handed back by a draining v1 worker finished on v1 code: ${JSON.stringify(kinds)}`,
    );
    assert.ok(
      kinds.finishedByDrainer >= 1,
      `v1's draining workers finished runs v1 started: ${JSON.stringify(kinds)}`,
    );
    assert.ok(
      summary.dispatch.longestPause.ms <= DISPATCH_PAUSE_BOUND_MS,
      `the longest dispatch pause, ${summary.dispatch.longestPause.ms} ms at ${summary.dispatch.longestPause.atMs} ms into the load, is within ${DISPATCH_PAUSE_BOUND_MS} ms; its samples: ${JSON.stringify(
        sampler.samples.filter(
          (sample) =>
            sample.at >= summary.dispatch.longestPause.atMs &&
            sample.at <= summary.dispatch.longestPause.atMs + summary.dispatch.longestPause.ms,
        ),
      )} (all in ${samplesPath})`,
    );
  });
});

/** Run IDs of the "segment executed" lines of a pod's log, one per execution. */
function segmentRunIds(lines: string[]): string[] {
  return lines
    .filter((line) => line.includes('"segment executed"'))
    .map((line) => (JSON.parse(line) as { runId: string }).runId);
}

/** From DBOS's own records: each run's wait from enqueue (created_at) to its first step's start. */
async function dispatchTimeline(databaseUrl: string, runIds: string[]) {
  const rows = await query<{ wait_ms: string }>(
    databaseUrl,
    `SELECT (min(o.started_at_epoch_ms) - ws.created_at)::text AS wait_ms
       FROM dbos.workflow_status ws JOIN dbos.operation_outputs o ON o.workflow_uuid = ws.workflow_uuid
      WHERE ws.workflow_uuid = ANY($1) GROUP BY ws.workflow_uuid, ws.created_at`,
    [runIds],
  );
  const waits = rows.map((row) => Number(row.wait_ms)).sort((a, b) => a - b);
  const at = (fraction: number) =>
    waits[Math.min(waits.length - 1, Math.floor(fraction * waits.length))] ?? 0;
  return { n: waits.length, p50: at(0.5), p99: at(0.99), maxWait: waits.at(-1) ?? 0 };
}
