import assert from "node:assert/strict";
import { createRequire } from "node:module";
import pg from "pg";
import { findDispatcherWake, PATCHED_DBOS_VERSION } from "../app/queue-wake/dispatcher-wake.js";
import { installedQueueWakeTriggers } from "../app/queue-wake/wake-trigger.js";
import { ApiClient } from "./support/api-client.js";
import { dispatchDelays, runTimings } from "./support/dispatch-delays.js";
import { type MeshProcess, runMigrateCommand, startMesh, stopAll } from "./support/mesh-process.js";
import { waitForAllSucceeded } from "./support/run-checks.js";
import { createTestDatabase, dropTestDatabase, NATS_URL, query } from "./support/services.js";

// Fixture: 1 api + 1 worker whose queues poll only every 10 s. A run that starts within a second of its
// enqueue (or of its thread's previous run ending) was started by the wake-up, not by a poll.
const POLL_MS = 10_000;
const WOKEN_WITHIN_MS = 2_000;
const env = {
  MESH_QUEUE_POLL_MS: String(POLL_MS),
  MESH_BUILTIN_TOKENS: "4",
  MESH_BUILTIN_TOKEN_DELAY_MS: "0",
  MESH_WORKER_CONCURRENCY: "4",
};

const triggersOf = async (databaseUrl: string) => {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await installedQueueWakeTriggers(client);
  } finally {
    await client.end();
  }
};

describe("queue wake-up: a NOTIFY at enqueue and a run ending in the worker start runs, polling is the safety net", () => {
  let databaseUrl: string;
  let processes: MeshProcess[] = [];
  let client: ApiClient;

  before(async () => {
    databaseUrl = await createTestDatabase("queue_wake");
    const migrated = runMigrateCommand({ DATABASE_URL: databaseUrl, MESH_QUEUE_POLL_MS: String(POLL_MS) });
    assert.equal(migrated.status, 0, migrated.stderr);
    processes = [
      await startMesh({
        role: "api",
        databaseUrl,
        natsUrl: NATS_URL,
        env: { ...env, MESH_AUTO_MIGRATE: "false" },
      }),
      await startMesh({
        role: "worker",
        databaseUrl,
        natsUrl: NATS_URL,
        env: { ...env, MESH_AUTO_MIGRATE: "false" },
      }),
    ];
    client = new ApiClient(processes[0]?.url ?? "");
  });
  after(async () => {
    await stopAll(processes);
    await dropTestDatabase(databaseUrl);
  });

  it("finds the patched dispatcher on this DBOS, and refuses another DBOS version", () => {
    const lookup = findDispatcherWake();
    assert.equal(lookup.available, true, lookup.available ? "" : lookup.reason);
    const require = createRequire(import.meta.url);
    const { globalParams } = require("@dbos-inc/dbos-sdk/internal/utils") as {
      globalParams: { dbosVersion: string };
    };
    assert.equal(globalParams.dbosVersion, PATCHED_DBOS_VERSION);
    globalParams.dbosVersion = "9.9.9";
    try {
      const moved = findDispatcherWake();
      assert.equal(moved.available, false);
      assert.match(moved.available ? "" : moved.reason, /DBOS 9\.9\.9 is installed; .* for 5\.3\.0/);
    } finally {
      globalParams.dbosVersion = PATCHED_DBOS_VERSION;
    }
  });

  it("starts each run within milliseconds of its enqueue although the queue polls every 10 s", async () => {
    const runIds: string[] = [];
    // One at a time, a little apart, so that no run rides on another's poll.
    for (let index = 0; index < 6; index++) {
      runIds.push(await client.createRun(`wake-${index}`, `wake ${index}`));
      await waitForAllSucceeded(client, runIds.slice(-1), 30_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const delays = dispatchDelays(await runTimings(databaseUrl, runIds));
    assert.equal(delays.length, runIds.length);
    assert.ok(
      delays.every((delay) => delay < WOKEN_WITHIN_MS),
      `enqueue → claim (ms): ${delays.join(", ")}; a poll would take up to ${POLL_MS}`,
    );
  });

  it("starts a thread's next run as soon as its previous run ends (the worker wakes its own dispatcher)", async () => {
    const first = await client.createRun("one-thread", "first on the thread");
    const second = await client.createRun("one-thread", "second on the thread");
    await waitForAllSucceeded(client, [first, second], 30_000);
    const [firstRun, secondRun] = await runTimings(databaseUrl, [first, second]);
    assert.ok(firstRun?.completedAt && secondRun?.startedAt, "both ran");
    const waited = secondRun.startedAt - firstRun.completedAt;
    assert.ok(waited < WOKEN_WITHIN_MS, `second run claimed ${waited} ms after the first ended`);
  });

  it("is installed by the migration and removed by a release that turns it off (MESH_QUEUE_WAKE=false)", async () => {
    assert.deepEqual(await triggersOf(databaseUrl), ["mesh_queue_wake_enqueued", "mesh_queue_wake_status"]);
    const off = runMigrateCommand({ DATABASE_URL: databaseUrl, MESH_QUEUE_WAKE: "false" });
    assert.equal(off.status, 0, off.stderr);
    assert.deepEqual(await triggersOf(databaseUrl), []);
    const functions = await query(databaseUrl, "SELECT 1 FROM pg_proc WHERE proname = 'queue_wake'");
    assert.equal(functions.length, 0, "mesh.queue_wake() dropped with its triggers");
    const on = runMigrateCommand({ DATABASE_URL: databaseUrl, MESH_QUEUE_POLL_MS: String(POLL_MS) });
    assert.equal(on.status, 0, on.stderr);
    assert.deepEqual(await triggersOf(databaseUrl), ["mesh_queue_wake_enqueued", "mesh_queue_wake_status"]);
  });
});

// The patch itself, on a dispatcher of its own: a queue whose poll never finds work and whose interval is
// a minute, with polls that block until the test lets them finish. Fails when DBOS's dispatcher changes
// under the patch (names, the scheduler loop's wake) as well as when the patch misbehaves.
describe("the patched DBOS dispatcher's wakeQueue", () => {
  interface QueueState {
    queue: { name: string; minPollingIntervalMs: number; databaseBacked: boolean };
    currentPollingMs: number;
    nextPollAt: number;
  }
  interface Runner {
    isRunning: boolean;
    abortController: AbortController;
    states: Map<string, QueueState>;
    pollQueue: () => Promise<boolean>;
    schedulerLoop(exec: unknown, startNow: number, lanes: number): Promise<void>;
    wakeQueue(name: string): boolean;
    wakeOnSlotRelease: boolean;
    slotReleased(name: string): void;
    stop(): void;
  }
  const require = createRequire(import.meta.url);
  const { wfQueueRunner } = require("@dbos-inc/dbos-sdk/internal/wfqueue") as { wfQueueRunner: object };
  const Dispatcher = wfQueueRunner.constructor as new () => Runner;
  const exec = {
    systemDatabase: { listQueues: async () => [], transitionDelayedWorkflows: async () => undefined },
    logger: { info() {}, warn() {}, debug() {}, error() {} },
  };

  let runner: Runner;
  let loop: Promise<void>;
  const pollStarts: number[] = [];
  let releasePoll: () => void = () => undefined;

  beforeEach(() => {
    pollStarts.length = 0;
    runner = new Dispatcher();
    runner.isRunning = true;
    runner.abortController = new AbortController();
    runner.states.set("q", {
      queue: { name: "q", minPollingIntervalMs: 60_000, databaseBacked: false },
      currentPollingMs: 60_000,
      nextPollAt: Date.now() + 60_000,
    });
    runner.pollQueue = () => {
      pollStarts.push(Date.now());
      return new Promise<boolean>((resolve) => {
        releasePoll = () => resolve(false);
      });
    };
    loop = runner.schedulerLoop(exec, Date.now(), 3);
  });
  afterEach(async () => {
    runner.stop();
    releasePoll();
    await loop;
  });

  const until = async (what: string, check: () => boolean, timeoutMs = 2_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) assert.fail(`${what} within ${timeoutMs} ms (polls: ${pollStarts.length})`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  it("polls an idle queue at once, and says false for a queue it does not dispatch", async () => {
    assert.equal(runner.wakeQueue("not-mine"), false);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(pollStarts.length, 0, "nothing polls before the wake");
    // Five times: without waking the scheduler loop, a poll would still start at its next 1-s maintenance
    // tick, 0–1,000 ms later; woken, it starts at once.
    const delays: number[] = [];
    for (let wake = 1; wake <= 5; wake++) {
      const wokenAt = Date.now();
      assert.equal(runner.wakeQueue("q"), true);
      await until("a poll", () => pollStarts.length === wake);
      delays.push((pollStarts.at(-1) ?? 0) - wokenAt);
      releasePoll();
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 200));
    }
    assert.ok(Math.max(...delays) < 250, `wake → poll (ms): ${delays.join(", ")}`);
  });

  it("polls when a run of the queue ends here only once mesh turns that on (unpatched behaviour otherwise)", async () => {
    assert.equal(runner.wakeOnSlotRelease, false, "off until mesh's wake-up starts");
    runner.slotReleased("q");
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(pollStarts.length, 0, "off: the next poll is a minute away");
    runner.wakeOnSlotRelease = true;
    runner.slotReleased("q");
    await until("a poll after the slot was released", () => pollStarts.length === 1);
  });

  it("polls again right after a poll that was in flight when the wake came (its snapshot may miss the run)", async () => {
    runner.wakeQueue("q");
    await until("the first poll", () => pollStarts.length === 1);
    runner.wakeQueue("q"); // lands while the first poll runs
    releasePoll();
    await until("a second poll", () => pollStarts.length === 2);
    releasePoll();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(pollStarts.length, 2, "and then waits for the next wake or its interval");
  });
});
