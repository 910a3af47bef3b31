import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { natsConnectOptions } from "../app/stream/nats-servers.js";
import { runStreamNames } from "../app/stream/run-stream-settings.js";
import { natsServerConfigText } from "../infra/render/config-files.js";
import { renderStack } from "./infra/support.js";
import { ApiClient } from "./support/api-client.js";
import { type MeshProcess, runMigrateCommand, startMesh, stopAll } from "./support/mesh-process.js";
import {
  type NatsServer,
  NatsServers,
  type WorkloadNatsUrls,
  workloadNatsUrls,
} from "./support/nats-servers.js";
import { expectedOutput } from "./support/run-checks.js";
import { createTestDatabase, dropTestDatabase } from "./support/services.js";
import { waitFor } from "./support/wait.js";

// Fixture: one real nats-server (the pinned build) from the dev stack's rendered config — its account
// MESH with a user per workload — plus a second account, as another tenant of the same server would
// have. mesh connects with the URLs of Secret `mesh` (hosts moved to the loopback server).
const OTHER_ACCOUNT = `
  OTHER: {
    jetstream: "enabled"
    users: [ { user: "other", password: "other-password" } ]
  }
`;
const TOKENS = 30;

describe("mesh's NATS: accounts, a user per workload, least privilege", () => {
  let server: NatsServers;
  let urls: WorkloadNatsUrls;
  let databaseUrl: string;
  const names = runStreamNames("mesh-dev");
  const processes: MeshProcess[] = [];
  const connections: NatsConnection[] = [];
  const as = async (url: string) => {
    const connection = await connect({ ...natsConnectOptions(url), timeout: 5_000 });
    connections.push(connection);
    return connection;
  };

  before(async () => {
    const dev = await renderStack("dev");
    const config = natsServerConfigText(dev.resources);
    assert.ok(config);
    server = await NatsServers.start(config.replace(/accounts: \{\n/, `accounts: {\n${OTHER_ACCOUNT}`), 1);
    urls = workloadNatsUrls(dev.resources, server);
    databaseUrl = await createTestDatabase("nats-auth");
  });

  after(async () => {
    await Promise.all(connections.map((connection) => connection.close().catch(() => undefined)));
    await stopAll(processes);
    await server?.stop();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
  });

  it("hands each workload a URL with a user of its own", () => {
    const user = (url: string) => new URL(url.split(",")[0] as string).username;
    assert.deepEqual(
      [user(urls.main), user(urls.api), user(urls.worker), user(urls.migrate)],
      ["mesh-main", "mesh-api", "mesh-worker", "mesh-migrate"],
    );
  });

  it("refuses a client without credentials, and one with a wrong password", async () => {
    await assert.rejects(connect({ servers: server.clientUrls, timeout: 5_000 }), /Authorization Violation/i);
    await assert.rejects(
      connect({ servers: server.clientUrls, user: "mesh-main", pass: "wrong", timeout: 5_000 }),
      /Authorization Violation/i,
    );
  });

  it("lets the migration create the stream, and no other workload", async () => {
    const manager = await jetstreamManager(await as(urls.worker));
    await assert.rejects(
      manager.streams.add({ name: names.stream, subjects: [names.subjects] }),
      /timeout|permission/i,
    );
    const migrate = runMigrateCommand(
      {
        DATABASE_URL: databaseUrl,
        NATS_URL: urls.migrate,
        MESH_DEPLOYMENT: "mesh-dev",
      },
      90_000,
    );
    assert.equal(migrate.status, 0, migrate.stderr + migrate.stdout);
    assert.match(migrate.stdout, /run stream created/);
  });

  it("streams a run end to end as the api and worker users (role api picks the api user's URL)", async () => {
    const env = {
      MESH_DEPLOYMENT: "mesh-dev",
      MESH_AUTO_MIGRATE: "false",
      MESH_BUILTIN_TOKENS: String(TOKENS),
    };
    // As the main Deployment has them in every state: the main user's URL and the api user's.
    const api = await startMesh({
      role: "api",
      databaseUrl,
      natsUrl: urls.main,
      env: { ...env, NATS_API_URL: urls.api },
    });
    const worker = await startMesh({ role: "worker", databaseUrl, natsUrl: urls.worker, env });
    processes.push(api, worker);
    const client = new ApiClient(api.url);
    const runId = await client.createRun("auth-thread", "who may read this?");
    const reading = await client.readStream(runId);
    assert.equal(
      reading.chunks.map((chunk) => chunk.text).join(""),
      expectedOutput("who may read this?", TOKENS),
    );
    assert.equal(reading.done?.source, undefined, "streamed from NATS, not the stored result");
    // The server logs every refused publish or subscription with the client's name (the executor ID).
    const log = await readFile((server.servers[0] as NatsServer).log, "utf8");
    const refused = log
      .split("\n")
      .filter(
        (line) =>
          /Violation/.test(line) && (line.includes(api.executorId) || line.includes(worker.executorId)),
      );
    assert.deepEqual(refused, [], "no workload was refused anything it needs");
    const { connections: clients } = await (server.servers[0] as NatsServer).monitor<{
      connections: Array<{ name?: string; authorized_user?: string }>;
    }>("/connz?auth=true");
    assert.deepEqual(
      clients.filter((client) => client.name === api.executorId).map((client) => client.authorized_user),
      ["mesh-api"],
      "the api process connected as mesh-api",
    );
  });

  it("keeps the api user from publishing a chunk into a run a user is watching", async () => {
    const api = await as(urls.api);
    const refused = new Promise<string>((resolve) => {
      void (async () => {
        for await (const status of api.status())
          if (status.type === "error")
            resolve(String((status as { error?: Error }).error?.message ?? status.type));
      })();
    });
    api.publish(names.subject("run-forged"), JSON.stringify({ type: "chunk", seq: 1, text: "forged" }));
    await api.flush();
    assert.match(await refused, /permissions violation for publish/i);
    const main = await as(urls.main);
    const subscription = main.subscribe(names.subject("run-forged"), { max: 1, timeout: 1_000 });
    api.publish(names.subject("run-forged"), "forged again");
    await api.flush().catch(() => undefined);
    const received = await (async () => {
      for await (const _ of subscription) return true;
      return false;
    })().catch(() => false);
    assert.equal(received, false, "nothing the api user publishes reaches a reader");
  });

  it("keeps the worker from reading run streams", async () => {
    const worker = await as(urls.worker);
    const subscription = worker.subscribe(names.subjects);
    const refused = (async () => {
      for await (const _ of subscription) return "received";
      return "closed";
    })().catch((error: Error) => error.message);
    assert.match(String(await refused), /permissions violation/i);
  });

  it("keeps every workload from deleting or purging the stream", async () => {
    for (const url of [urls.main, urls.api, urls.worker, urls.migrate]) {
      const manager = await jetstreamManager(await as(url));
      await assert.rejects(manager.streams.delete(names.stream), /timeout|permission/i);
      await assert.rejects(manager.streams.purge(names.stream), /timeout|permission/i);
    }
  });

  it("shows another account nothing of mesh's runs", async () => {
    const other = await as(server.clientUrls.replace("nats://", "nats://other:other-password@"));
    let seen = 0;
    other.subscribe(">", {
      callback: () => {
        seen++;
      },
    });
    await other.flush();
    const client = new ApiClient((processes[0] as MeshProcess).url);
    const runId = await client.createRun("auth-thread-2", "a second run");
    await waitFor("the run to finish", async () => (await client.getRun(runId)).status === "SUCCESS");
    await other.flush();
    assert.equal(seen, 0, "the other account received no message");
    const manager = await jetstreamManager(other);
    await assert.rejects(manager.streams.info(names.stream), /not found/i);
  });
});
