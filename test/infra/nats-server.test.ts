import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { natsServerConfigText, redactNatsCredentials } from "../../infra/render/config-files.js";
import { unwrapSecrets } from "../../infra/render/kubernetes-objects.js";
import { checkNatsConfig, NatsServers } from "../support/nats-servers.js";
import { waitFor } from "../support/wait.js";
import { objectOf, renderStack } from "./support.js";

// Fixture: the nats-server config files the dev (one server) and prod (three) stacks render, fed to the
// real server at the pinned version (.tools/bin/nats-server): its own checker, then a real cluster.

interface Routez {
  num_routes: number;
  routes: { remote_name: string }[];
}

describe("mesh's NATS config under the real nats-server", () => {
  const configs: Record<string, string> = {};
  before(async () => {
    for (const stack of ["dev", "prod"]) {
      const config = natsServerConfigText((await renderStack(stack)).resources);
      assert.ok(config, `${stack} renders a nats-server config`);
      configs[stack] = config;
    }
  });

  for (const stack of ["dev", "prod"]) {
    it(`accepts the ${stack} stack's rendered config (nats-server -t)`, () => {
      const result = checkNatsConfig(configs[stack] as string, { SERVER_NAME: "mesh-nats-0" });
      assert.ok(result.ok, result.output);
    });
  }

  it("refuses a config the program did not mean to write (the check can fail)", () => {
    const broken = (configs.prod as string).replace("max_file_store", "max_file_stor");
    const result = checkNatsConfig(broken, { SERVER_NAME: "mesh-nats-0" });
    assert.equal(result.ok, false);
    assert.match(result.output, /max_file_stor/);
  });

  it("gives the route password only through the config Secret, and the same text as the golden", async () => {
    const prod = await renderStack("prod");
    const secret = objectOf(prod.objects, "Secret", "mesh-nats-config");
    assert.deepEqual(secret.stringData, { "nats.conf": "<redacted>" });
    const text = configs.prod as string;
    assert.match(text, /password: "(?!<redacted>)[^"]+"/, "the mounted file carries the real password");
    assert.doesNotMatch(redactNatsCredentials(text), /mock-random-password/);
    const statefulSet = objectOf(prod.objects, "StatefulSet", "mesh-nats");
    assert.doesNotMatch(JSON.stringify(unwrapSecrets(statefulSet)), /mock-random-password/);
  });

  describe("three servers from the prod config", () => {
    let cluster: NatsServers;
    before(async () => {
      cluster = await NatsServers.start(configs.prod as string, 3);
    });
    after(async () => {
      await cluster?.stop();
    });

    it("form one cluster over authenticated routes", async () => {
      for (const server of cluster.servers) {
        const routez = await waitFor(
          `${server.name} routed to both peers`,
          async () => {
            const routes = await server.monitor<Routez>("/routez");
            const peers = new Set(routes.routes.map((route) => route.remote_name));
            return peers.size === 2 ? peers : undefined;
          },
          { timeoutMs: 30_000 },
        );
        assert.deepEqual(
          [...routez].sort(),
          cluster.servers.filter((peer) => peer !== server).map((peer) => peer.name),
        );
      }
    });

    it("keeps out a server that reaches the route port without the route password", async () => {
      const wrongPassword = (configs.prod as string)
        .replace(/password: "[^"]+"/, 'password: "not-the-route-password"')
        .replace(/nats:\/\/mesh-route:[^@]+@/g, "nats://mesh-route:not-the-route-password@");
      const intruder = await cluster.startIntruder(wrongPassword, "intruder");
      await waitFor("the intruder to dial the cluster and be refused", async () =>
        (await readFile(intruder.log, "utf8").catch(() => "")).includes("Authorization Violation"),
      );
      for (const server of cluster.servers) {
        const routes = await server.monitor<Routez>("/routez");
        assert.deepEqual(
          routes.routes.filter((route) => route.remote_name === "intruder"),
          [],
          `${server.name} accepted the intruder's route`,
        );
      }
    });
  });
});
