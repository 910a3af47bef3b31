// The api's CPU drill (#20 item 5): the prod topology on a real node with metrics-server reading the
// kubelet's resource metrics, a request load that makes the api CPU-bound, the HPA adding api pods, the
// Service spreading new connections onto them with no failed request, and the tier back at min once the
// load falls. Writes docs/api-cpu-drill.md with MESH_DRILL_DOCS=1.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { ApiClient } from "../support/api-client.js";
import { waitForAllSucceeded } from "../support/run-checks.js";
import { waitFor } from "../support/wait.js";
import { apiCpuReport } from "./drill/api-cpu-report.js";
import { ApiScaleSampler } from "./drill/api-scale-sampler.js";
import {
  type RealDrillEnvironment,
  realNodeResources,
  startRealDrillEnvironment,
} from "./drill/real-drill-environment.js";
import { RequestLoad } from "./drill/request-load.js";
import { stackShape } from "./support/stack-shapes.js";

const STACK = "apicpu";
const NAMESPACE = `mesh-${STACK}`;
const MIN = 1;
const MAX = 3;
const TARGET_UTILIZATION = 50;
const SCALE_DOWN = { stabilizationWindowSeconds: 20, pods: 1, periodSeconds: 15 };
/** A dashboard's listing: the 100 newest runs, each a run view the api builds and serialises. */
const LOAD_PATH = "/v1/runs?limit=100";
const ROUTE = "/v1/runs";
const HEAVY_CONCURRENCY = 8;
const LIGHT_PAUSE_MS = 500;
/** Requests each added pod must answer before the load is lowered: the Service routes to it. */
const SERVED_BY_EACH = 50;
/** Then the heavy load goes on this long, spread over every pod, before it is lowered. */
const HOLD_SPREAD_MS = 30_000;
const DOCS = fileURLToPath(new URL("../../docs", import.meta.url));

describe("api CPU drill: the HPA scales the api on CPU from metrics-server, and no request fails", () => {
  let drill: RealDrillEnvironment;
  const apiToken = randomBytes(16).toString("hex");
  const resources = realNodeResources("512Mi");
  const shape = stackShape("prod", {
    "api.autoscaling": {
      enabled: true,
      minReplicas: MIN,
      maxReplicas: MAX,
      targetCPUUtilizationPercentage: TARGET_UTILIZATION,
      scaleDown: SCALE_DOWN,
    },
    "api.resources": resources,
    "worker.resources": resources,
    "worker.autoscaling": { enabled: false },
    "worker.replicas": 1,
    "extraEnv.MESH_BUILTIN_TOKENS": "4",
  });

  before(async function () {
    this.timeout(1_200_000);
    drill = await startRealDrillEnvironment({
      stackName: STACK,
      nodes: [{ name: "node-a", zone: "zone-a" }],
      meshImage: String(shape.values.image),
      shape,
      apiToken,
      metricsServer: true,
    });
  });

  after(async function () {
    this.timeout(300_000);
    await drill?.stop();
  });

  it(`scales the api ${MIN} → ${MAX} under CPU-heavy requests, routes to the new pods, and returns to ${MIN}`, async function () {
    this.timeout(1_500_000);
    // 100 finished runs for the listing to show.
    const client = new ApiClient(drill.serviceUrl, apiToken);
    const seeded = await Promise.all(
      Array.from({ length: 100 }, (_, index) => client.createRun(`seed-${index}`, `seed ${index}`)),
    );
    await waitForAllSucceeded(client, seeded, 180_000);

    const began = Date.now();
    const sampler = new ApiScaleSampler({
      began,
      cluster: drill.cluster,
      namespace: NAMESPACE,
      selector: "app.kubernetes.io/name=mesh",
      hpa: "mesh",
      route: ROUTE,
      port: 8080,
    });
    const load = new RequestLoad({ baseUrl: drill.serviceUrl, path: LOAD_PATH, token: apiToken, began });
    const last = () => sampler.samples.at(-1);
    const describeLast = () => JSON.stringify(last());
    sampler.start();
    try {
      await waitFor(
        `the HPA reading the api's CPU from metrics-server, ${MIN} pod Ready`,
        () => last()?.utilization !== undefined && last()?.ready === MIN && last()?.pods.length === MIN,
        { timeoutMs: 180_000, intervalMs: 1_000 },
      ).catch((error: Error) => assert.fail(`${error.message}; last sample: ${describeLast()}`));
      const original = new Set(last()?.pods.map((pod) => pod.name));

      const heavyAt = sampler.now();
      await load.set("heavy", HEAVY_CONCURRENCY, 0);
      await waitFor(`${MAX} api pods Ready (the HPA at max on CPU)`, () => last()?.ready === MAX, {
        timeoutMs: 300_000,
        intervalMs: 1_000,
      }).catch((error: Error) => assert.fail(`${error.message}; last sample: ${describeLast()}`));
      const added = () => (last()?.pods ?? []).filter((pod) => !original.has(pod.name));
      await waitFor(
        `each added api pod answering ≥ ${SERVED_BY_EACH} requests through the Service`,
        () => added().length === MAX - MIN && added().every((pod) => (pod.served ?? 0) >= SERVED_BY_EACH),
        { timeoutMs: 120_000, intervalMs: 1_000 },
      ).catch((error: Error) => assert.fail(`${error.message}; last sample: ${describeLast()}`));

      const spreadAt = sampler.now();
      await sleep(HOLD_SPREAD_MS);
      const lightAt = sampler.now();
      await load.set("light", 1, LIGHT_PAUSE_MS);
      await waitFor(
        `the api back at ${MIN} pod`,
        () => last()?.pods.length === MIN && last()?.ready === MIN && last()?.current === MIN,
        { timeoutMs: 300_000, intervalMs: 1_000 },
      ).catch((error: Error) => assert.fail(`${error.message}; last sample: ${describeLast()}`));
      const backAt = sampler.now();
      await sleep(5_000); // the light load keeps going past the last scale-in
      await load.stop();
      await sampler.stop();

      const firstAdded = sampler.samples.find((sample) => sample.at > heavyAt && sample.ready > MIN);
      const atMax = sampler.samples.find((sample) => sample.at > heavyAt && sample.ready === MAX);
      const summary = {
        min: MIN,
        max: MAX,
        targetUtilization: TARGET_UTILIZATION,
        cpuRequest: resources.requests.cpu,
        scaleDown: SCALE_DOWN,
        load: { path: LOAD_PATH, heavyConcurrency: HEAVY_CONCURRENCY, lightPerSecond: 1000 / LIGHT_PAUSE_MS },
        spreadCpuMillis: Object.fromEntries(
          (sampler.samples.findLast((sample) => sample.at <= lightAt)?.pods ?? []).map((pod) => [
            pod.name,
            pod.cpuMillis ?? Number.NaN,
          ]),
        ),
        heavyMs: lightAt - heavyAt,
        spreadMs: lightAt - spreadAt,
        firstAddedMs: (firstAdded?.at ?? Number.NaN) - heavyAt,
        atMaxMs: (atMax?.at ?? Number.NaN) - heavyAt,
        backToMinMs: backAt - lightAt,
        peakUtilization: Math.max(...sampler.samples.map((sample) => sample.utilization ?? 0)),
        servedByPod: Object.fromEntries(sampler.served),
        outcomes: load.outcomes,
        samples: sampler.samples,
      };
      const report = apiCpuReport(summary);
      for (const line of report.lines) console.log(`      ${line}`);
      const outDir = process.env.MESH_DRILL_DOCS ? DOCS : join(tmpdir(), "mesh-api-cpu-drill");
      mkdirSync(outDir, { recursive: true });
      writeFileSync(join(outDir, "api-cpu-drill.md"), report.markdown);
      writeFileSync(join(tmpdir(), "mesh-api-cpu-drill-samples.json"), JSON.stringify(sampler.samples));

      assert.deepEqual(
        load
          .failures()
          .map((outcome) => `${outcome.phase} at ${outcome.at} ms: ${outcome.status ?? outcome.error}`),
        [],
        "no request failed, while pods were added or removed",
      );
      assert.ok(
        summary.peakUtilization > TARGET_UTILIZATION,
        `the HPA read CPU above its target (${summary.peakUtilization} %)`,
      );
      assert.ok(
        load.outcomes.some((outcome) => outcome.phase === "light" && outcome.at > backAt),
        "the light load ran past the last scale-in",
      );
    } finally {
      await load.stop();
      await sampler.stop();
    }
  });
});
