import assert from "node:assert/strict";
import { ApiClient } from "../support/api-client.js";
import { useCpuHogIfRequested } from "../support/cpu-hog.js";
import { dispatchDelays, runTimings } from "../support/dispatch-delays.js";
import { cannotRestart, restartPostgres } from "../support/machine-services.js";
import { type MeshProcess, startMesh, stopAll } from "../support/mesh-process.js";
import { waitForAllSucceeded } from "../support/run-checks.js";
import { createTestDatabase, dropTestDatabase, NATS_URL, query } from "../support/services.js";
import { waitFor } from "../support/wait.js";

// Fixture: 1 api + 1 worker whose queues poll every 5 s, the wake-up's safety net. A lost wake-up may cost
// a run at most that (and DBOS's ±5 % jitter); a woken run starts within a fraction of it. The margins
// hold under the CPU hog (`npm run test:durability-under-load`).
const POLL_MS = 5_000;
const WOKEN_WITHIN_MS = 2_000;
const AT_MOST_ONE_POLL_MS = POLL_MS * 1.05 + 2_000;
const env = {
  MESH_QUEUE_POLL_MS: String(POLL_MS),
  MESH_BUILTIN_TOKENS: "4",
  MESH_BUILTIN_TOKEN_DELAY_MS: "0",
  // Enough slots that no run waits for one: a delay here is the dispatcher's alone.
  MESH_WORKER_CONCURRENCY: "64",
  MESH_EXECUTOR_TIMEOUT_MS: "5000",
};

/** The backends LISTENing for wake-ups (one per dispatching process). */
const listeners = (databaseUrl: string) =>
  query<{ pid: number }>(
    databaseUrl,
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'mesh-queue-wake' AND datname = current_database()",
  );

describe("durability: a lost queue wake-up costs at most one poll interval, never a stuck run", () => {
  useCpuHogIfRequested();
  let databaseUrl: string;
  let processes: MeshProcess[] = [];
  let client: ApiClient;

  beforeEach(async () => {
    databaseUrl = await createTestDatabase("queue_wake_faults");
    processes = [
      await startMesh({ role: "api", databaseUrl, natsUrl: NATS_URL, env }),
      await startMesh({ role: "worker", databaseUrl, natsUrl: NATS_URL, env }),
    ];
    client = new ApiClient(processes[0]?.url ?? "");
    await waitFor("the worker to listen", async () => (await listeners(databaseUrl)).length === 1);
  });
  afterEach(async function () {
    if (this.currentTest?.state === "failed")
      for (const mesh of processes) console.log(`--- ${mesh.executorId}\n${mesh.logs.slice(-30).join("\n")}`);
    await stopAll(processes);
    await dropTestDatabase(databaseUrl);
  });

  /** Creates runs on threads of their own and checks each started within `withinMs` of its enqueue. */
  const runAndCheck = async (label: string, count: number, withinMs: number) => {
    const runIds = await Promise.all(
      Array.from({ length: count }, (_, index) => client.createRun(`${label}-${index}`, `${label} ${index}`)),
    );
    await waitForAllSucceeded(client, runIds, 60_000);
    const delays = dispatchDelays(await runTimings(databaseUrl, runIds));
    assert.equal(delays.length, count);
    assert.ok(
      delays.every((delay) => delay < withinMs),
      `${label}: enqueue → claim (ms) ${delays.join(", ")}, expected each under ${withinMs}`,
    );
  };

  it("a listener connection killed by Postgres: runs meanwhile start within one poll, and the wake-up comes back", async () => {
    const [before] = await listeners(databaseUrl);
    await query(databaseUrl, "SELECT pg_terminate_backend($1)", [before?.pid]);
    await runAndCheck("killed-listener", 8, AT_MOST_ONE_POLL_MS);
    await waitFor(
      "a new listener",
      async () => {
        const now = await listeners(databaseUrl);
        return now.length === 1 && now[0]?.pid !== before?.pid;
      },
      { timeoutMs: 30_000 },
    );
    await runAndCheck("after-reconnect", 4, WOKEN_WITHIN_MS);
  });

  it("Postgres restarting: runs enqueued as it returns start within one poll, and the wake-up comes back", async function () {
    const missing = cannotRestart("postgres");
    if (missing) assert.fail(missing);
    this.timeout(180_000);
    await restartPostgres(2_000);
    const [api] = processes;
    await waitFor("the api ready again", async () => (await fetch(`${api?.url}/readyz`)).status === 200, {
      timeoutMs: 60_000,
    });
    await runAndCheck("after-restart", 8, AT_MOST_ONE_POLL_MS);
    await waitFor("the listener back", async () => (await listeners(databaseUrl)).length === 1, {
      timeoutMs: 60_000,
    });
    await runAndCheck("listening-again", 4, WOKEN_WITHIN_MS);
  });

  it("a burst of enqueues, many landing while a poll is in flight: none waits for the next poll", async () => {
    const runIds: string[] = [];
    // Waves of 1–6 runs, 0–40 ms apart. (The in-flight case itself is pinned down deterministically in
    // test/queue-wake.test.ts: here a later wave's or a completion's NOTIFY would mask a lost one.)
    for (let wave = 0; wave < 25; wave++) {
      const size = 1 + Math.floor(Math.random() * 6);
      const created = await Promise.all(
        Array.from({ length: size }, (_, index) =>
          client.createRun(`burst-${wave}-${index}`, `burst ${wave} ${index}`),
        ),
      );
      runIds.push(...created);
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 40)));
    }
    await waitForAllSucceeded(client, runIds, 120_000);
    const delays = dispatchDelays(await runTimings(databaseUrl, runIds)).sort((a, b) => a - b);
    const late = delays.filter((delay) => delay >= WOKEN_WITHIN_MS);
    assert.deepEqual(
      late,
      [],
      `${late.length} of ${delays.length} runs waited for a poll; median ${delays[delays.length >> 1]} ms`,
    );
  });
});
