import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, nanos } from "@nats-io/transport-node";
import { natsConnectOptions } from "../app/stream/nats-servers.js";
import { type RunStreamNames, runStreamNames } from "../app/stream/run-stream-settings.js";
import { natsServerConfigText } from "../infra/render/config-files.js";
import { renderStack } from "./infra/support.js";
import { ApiClient, type Json } from "./support/api-client.js";
import { type MeshProcess, runMigrateCommand, startMesh, stopAll } from "./support/mesh-process.js";
import {
  type NatsServer,
  NatsServers,
  type WorkloadNatsUrls,
  workloadNatsUrls,
} from "./support/nats-servers.js";
import { storedStreamEvents } from "./support/run-stream-contents.js";
import { createTestDatabase, dropTestDatabase } from "./support/services.js";
import { waitFor } from "./support/wait.js";

// Fixture: three real nats-servers (the pinned build) from the prod stack's rendered config (30-s lame
// duck, the server's minimum), migrated by `main migrate` with the prod migration Job's stream env, then
// 1 api + 1 worker on a fresh database streaming runs through them.
const TOKENS = 60;
const meshEnv = {
  MESH_BUILTIN_TOKENS: String(TOKENS),
  MESH_BUILTIN_TOKEN_DELAY_MS: "100",
  MESH_CHECKPOINT_EVERY: "6",
  // Like the pods: the migration Job owns the stream's settings; processes never converge them.
  MESH_AUTO_MIGRATE: "false",
};
/** What the prod stream was created with before mesh owned its NATS: one replica, 1 GiB, 24 h. */
const preManagedStream = (names: RunStreamNames) => ({
  name: names.stream,
  subjects: [names.subjects],
  max_age: nanos(24 * 3600 * 1000),
  max_bytes: 1024 ** 3,
  duplicate_window: nanos(2 * 60 * 1000),
  num_replicas: 1,
});

interface StreamReading {
  runId: string;
  seqs: number[];
  text: string;
  done?: Json;
  status: number;
}

describe("mesh on a three-server NATS cluster rendered by the prod stack", () => {
  let cluster: NatsServers;
  let jobEnv: Record<string, string>;
  let databaseUrl: string;
  let names: RunStreamNames;
  /** Each workload's credentials, as Secret `mesh` gives them (the pods' users in account MESH). */
  let urls: WorkloadNatsUrls;
  const processes: MeshProcess[] = [];

  before(async () => {
    const prod = await renderStack("prod");
    const config = natsServerConfigText(prod.resources);
    assert.ok(config);
    const job = prod.objects.find((object) => object.kind === "Job");
    assert.ok(job);
    jobEnv = Object.fromEntries(
      (job.spec.template.spec.containers[0].env as { name: string; value?: string }[])
        .filter((entry) => entry.value !== undefined && entry.name.startsWith("MESH_"))
        .map((entry) => [entry.name, entry.value as string]),
    );
    cluster = await NatsServers.start(config, 3);
    urls = workloadNatsUrls(prod.resources, cluster);
    databaseUrl = await createTestDatabase("nats-cluster");
    // Like the pods: the deployment's name is the namespace (MESH_DEPLOYMENT from the rendered Job).
    assert.equal(jobEnv.MESH_DEPLOYMENT, "mesh-prod");
    names = runStreamNames(jobEnv.MESH_DEPLOYMENT);
  });

  after(async () => {
    await stopAll(processes);
    await cluster?.stop();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
  });

  const withManager = async <T>(
    use: (manager: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<T>,
  ) => {
    // The migration's user: the one that may create, update and read the stream.
    const connection = await connect(natsConnectOptions(urls.migrate));
    try {
      return await use(await jetstreamManager(connection));
    } finally {
      await connection.close();
    }
  };

  it("converges a stream created with the old settings to the prod stream's, keeping every message", async () => {
    const subject = names.subject("pre-upgrade-run");
    await withManager((manager) => manager.streams.add(preManagedStream(names)));
    const connection = await connect(natsConnectOptions(urls.worker));
    try {
      const js = jetstream(connection);
      for (let seq = 1; seq <= 50; seq++) await js.publish(subject, JSON.stringify({ type: "chunk", seq }));
    } finally {
      await connection.close();
    }

    const migrate = runMigrateCommand(
      {
        DATABASE_URL: databaseUrl,
        NATS_URL: urls.migrate,
        ...jobEnv,
      },
      90_000,
    );
    assert.equal(migrate.status, 0, migrate.stderr + migrate.stdout);
    assert.match(migrate.stdout, /run stream settings converged/);

    const info = await withManager((manager) =>
      waitFor(
        "three current replicas",
        async () => {
          const stream = await manager.streams.info(names.stream);
          const current = (stream.cluster?.replicas ?? []).filter((replica) => replica.current);
          return current.length === 2 && stream.cluster?.leader ? stream : undefined;
        },
        { timeoutMs: 30_000 },
      ),
    );
    assert.equal(info.config.num_replicas, 3);
    assert.equal(String(info.config.num_replicas), jobEnv.MESH_STREAM_REPLICAS);
    assert.equal(String(info.config.max_bytes), jobEnv.MESH_STREAM_MAX_BYTES);
    assert.equal(info.config.max_age, nanos(Number(jobEnv.MESH_STREAM_MAX_AGE_SECONDS) * 1000));
    assert.equal(info.config.discard, "old");
    assert.equal(info.state.messages, 50, "no message lost by the update");
  });

  it("streams a run with every chunk exactly once while the stream's leader is killed with -9", async () => {
    const env = { ...meshEnv, MESH_DEPLOYMENT: names.deployment };
    const api = await startMesh({ role: "api", databaseUrl, natsUrl: urls.main, env });
    const worker = await startMesh({ role: "worker", databaseUrl, natsUrl: urls.worker, env });
    processes.push(api, worker);
    const client = new ApiClient(api.url);

    const runId = await client.createRun("leader-kill", "what happens when a NATS server dies?");
    const reading = readRun(client, runId);
    await waitFor(
      "the run to stream its first chunks",
      async () => (await client.getRun(runId)).status === "PENDING",
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const leader = await streamLeader();
    const heldBeforeKill = await storedStreamEvents(names, runId, urls.main);
    leader.kill("SIGKILL");
    const result = await reading;
    assertWholeStream(result, await finishedRun(client, runId));
    // With the old leader still down, the two other copies elect a leader and serve the stream: every
    // message stored before the kill is still there, once (a single copy would have gone down with it).
    const newLeader = await waitFor(
      "a new stream leader among the survivors",
      async () => {
        const name = await withManager(
          async (manager) => (await manager.streams.info(names.stream)).cluster?.leader,
        );
        return name && name !== leader.name ? name : undefined;
      },
      { timeoutMs: 30_000 },
    );
    const stored = await storedStreamEvents(names, runId, urls.main);
    assert.deepEqual(
      stored.slice(0, heldBeforeKill.length),
      heldBeforeKill,
      "what was stored survived the kill",
    );
    assert.equal(new Set(stored).size, stored.length, "no message stored twice");
    console.log(
      `      leader ${leader.name} killed after ${heldBeforeKill.length} chunks, ${newLeader} took over; the stream holds ${stored.length} messages of the run (nothing is stored until the survivors have elected a leader); the reader's done came from ${result.done?.source ?? "the stream"}`,
    );

    leader.start();
    await cluster.waitHealthy();
  });

  it("rolls all three servers one at a time through lame-duck mode with no stream failing", async () => {
    const [api] = processes;
    assert.ok(api);
    const client = new ApiClient(api.url);
    const load = steadyLoad(() => client, "roll");
    const order = await rollServers();
    const results = await load.stop();
    assert.ok(results.length >= 8, `${results.length} runs streamed during the roll`);
    for (const result of results) assertWholeStream(result, await finishedRun(client, result.runId));
    const fromStore = results.filter((result) => result.done?.source === "stored").length;
    console.log(
      `      ${order.join(" → ")}; ${results.length} streams, every chunk once; ${fromStore} completed from the stored result`,
    );
  });

  it("rotates the workloads' credentials (nats.credentialGeneration 0 → 1) with no stream failing: the servers roll first, then the processes", async () => {
    // What `pulumi config set nats.credentialGeneration 1` renders: the same servers, whose config now
    // holds generation 0's users and generation 1's; Secret mesh's URLs carry generation 1's.
    const next = await renderStack("prod", ["nats.credentialGeneration=1"]);
    const nextConfig = natsServerConfigText(next.resources);
    assert.ok(nextConfig);
    const nextUrls = workloadNatsUrls(next.resources, cluster);
    const user = (url: string) => decodeURIComponent(new URL(url.split(",")[0] as string).username);
    assert.deepEqual([user(urls.main), user(urls.worker)], ["mesh-main", "mesh-worker"]);
    assert.deepEqual([user(nextUrls.main), user(nextUrls.worker)], ["mesh-main-g1", "mesh-worker-g1"]);

    // Its own generation-0 api and worker (the earlier tests' processes are stopped first).
    await stopAll(processes.splice(0));
    const env = { ...meshEnv, MESH_DEPLOYMENT: names.deployment };
    const oldApi = await startMesh({ role: "api", databaseUrl, natsUrl: urls.main, env });
    const oldWorker = await startMesh({ role: "worker", databaseUrl, natsUrl: urls.worker, env });
    processes.push(oldApi, oldWorker);
    // The Service: runs and reads go to the current api; a reader cut by a stopping api resumes there.
    let current = new ApiClient(oldApi.url);
    const load = steadyLoad(() => current, "rotate");

    // 1. The config Secret changed: the StatefulSet rolls onto the new config.
    await rollServers(nextConfig);
    // Every server now knows both generations; the processes, reconnected after each server's restart,
    // still hold generation 0 — and are let in.
    const probe = await connect(natsConnectOptions(nextUrls.worker));
    await probe.close();
    for (const [process, user] of [
      [oldApi, "mesh-main"],
      [oldWorker, "mesh-worker"],
    ] as const)
      assert.deepEqual(
        await waitFor(`${process.role} reconnected after the roll`, async () => {
          const users = await connectedUsers(process.executorId);
          return users.length > 0 ? users : undefined;
        }),
        [user],
        `the generation-0 ${process.role} is connected as ${user}`,
      );

    // 2. Then Secret mesh changed: the Deployments roll, each new pod up before an old one stops.
    const newWorker = await startMesh({ role: "worker", databaseUrl, natsUrl: nextUrls.worker, env });
    processes.push(newWorker);
    await oldWorker.stop(60_000);
    const newApi = await startMesh({ role: "api", databaseUrl, natsUrl: nextUrls.main, env });
    processes.push(newApi);
    current = new ApiClient(newApi.url);
    await oldApi.stop(60_000);
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const results = await load.stop();
    assert.ok(results.length >= 8, `${results.length} runs streamed during the rotation`);
    for (const result of results) assertWholeStream(result, await finishedRun(current, result.runId));
    for (const old of [oldWorker, oldApi])
      assert.deepEqual(
        await old.waitExit(),
        { code: 0, signal: null },
        `the generation-0 ${old.role} drained and exited cleanly`,
      );
    assert.deepEqual(await connectedUsers(newApi.executorId), ["mesh-main-g1"]);
    assert.deepEqual(await connectedUsers(newWorker.executorId), ["mesh-worker-g1"]);
    // The servers log every refused login: none, old users or new, at any point of the rotation.
    for (const server of cluster.servers)
      assert.deepEqual(
        (await readFile(server.log, "utf8"))
          .split("\n")
          .filter((line) => /authentication error|authorization violation/i.test(line)),
        [],
        `${server.name} refused no login`,
      );
    const fromStore = results.filter((result) => result.done?.source === "stored").length;
    console.log(
      `      ${results.length} streams across the rotation, every chunk once; ${fromStore} completed from the stored result`,
    );
  });

  /**
   * Runs keep arriving, one every 1.5 s, each read over SSE from the start through whichever api `client`
   * gives now; `stop()` ends the arrivals and returns every reading once complete.
   */
  function steadyLoad(client: () => ApiClient, prefix: string) {
    const readings: Promise<StreamReading>[] = [];
    let running = true;
    const arrivals = (async () => {
      for (let index = 0; running; index++) {
        const runId = await client().createRun(`${prefix}-${index}`, `${prefix} question ${index}`);
        readings.push(readRun(client, runId));
        await new Promise((resolve) => setTimeout(resolve, 1_500));
      }
    })();
    return {
      stop: async () => {
        running = false;
        await arrivals;
        return Promise.all(readings);
      },
    };
  }

  /**
   * The StatefulSet's rolling update: highest ordinal first; preStop's lame-duck, then the next pod only
   * once the restarted one passes its startup probe (/healthz: JetStream current). With `newConfig`,
   * each server restarts on it (the config Secret changed). Returns what happened, in order.
   */
  async function rollServers(newConfig?: string): Promise<string[]> {
    const order: string[] = [];
    for (const server of [...cluster.servers].reverse()) {
      await server.lameDuckStop(60_000);
      order.push(`${server.name} stopped`);
      if (newConfig) cluster.reconfigure(server, newConfig);
      server.start();
      await waitFor(`${server.name} /healthz after its restart`, () => server.healthy(), {
        timeoutMs: 60_000,
      });
      order.push(`${server.name} healthy`);
    }
    return order;
  }

  /** The users a client named `name` (mesh names its connection by executor ID) is connected as, on every server. */
  async function connectedUsers(name: string): Promise<string[]> {
    const users: string[] = [];
    for (const server of cluster.servers.filter((entry) => entry.running)) {
      const { connections } = await server.monitor<{
        connections: { name?: string; authorized_user?: string }[];
      }>("/connz?auth=true");
      for (const connection of connections)
        if (connection.name === name) users.push(connection.authorized_user ?? "(none)");
    }
    return users;
  }

  async function streamLeader(): Promise<NatsServer> {
    const name = await withManager(
      async (manager) => (await manager.streams.info(names.stream)).cluster?.leader,
    );
    const leader = cluster.servers.find((server) => server.name === name);
    assert.ok(leader, `stream leader ${name}`);
    return leader;
  }
});

/** Reads a run's SSE stream to `done`, resuming with Last-Event-ID whenever the connection ends early. */
async function readRun(client: ApiClient | (() => ApiClient), runId: string): Promise<StreamReading> {
  const seqs: number[] = [];
  let text = "";
  for (let attempt = 0; attempt < 20; attempt++) {
    const lastEventId = seqs.length > 0 ? String(seqs[seqs.length - 1]) : undefined;
    // A getter: the client of whichever api serves now (a Service's endpoints change as pods roll).
    const part = await (typeof client === "function" ? client() : client).readStream(runId, { lastEventId });
    if (part.status !== 200) return { runId, seqs, text, status: part.status };
    for (const chunk of part.chunks) {
      seqs.push(chunk.seq);
      text += chunk.text;
    }
    if (part.done) return { runId, seqs, text, done: part.done, status: 200 };
  }
  return { runId, seqs, text, status: 200 };
}

/** The run as stored once it is SUCCESS (a reader can see `done` just before the output is committed). */
function finishedRun(client: ApiClient, runId: string): Promise<Json> {
  return waitFor(`${runId} stored as SUCCESS`, async () => {
    const run = await client.getRun(runId);
    return run.status === "SUCCESS" ? run : undefined;
  });
}

function assertWholeStream(result: StreamReading, run: Json): void {
  assert.equal(result.status, 200, `${result.runId} stream answered ${result.status}`);
  assert.ok(result.done, `${result.runId} stream never reached done`);
  assert.equal(result.done.status, "SUCCESS", `${result.runId} done: ${JSON.stringify(result.done)}`);
  assert.deepEqual(
    result.seqs,
    Array.from({ length: TOKENS }, (_, index) => index + 1),
    `${result.runId}: every seq once, in order`,
  );
  assert.equal(result.text, run.output, `${result.runId}: the streamed text is the stored output`);
}
