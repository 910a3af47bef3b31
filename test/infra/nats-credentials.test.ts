import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { connect } from "@nats-io/transport-node";
import { natsServerConfigText } from "../../infra/render/config-files.js";
import { NatsServers, workloadNatsUrls } from "../support/nats-servers.js";
import { renderStack } from "./support.js";

// Fixture: the dev stack (one managed server) rendered at credential generations 0, 1 and 2 under
// Pulumi's mocks; generation 2's config runs on the real nats-server. The rotation under load, on prod's
// three servers, is in test/nats-cluster.test.ts.

const usersOf = (config: string) => [...config.matchAll(/user: "([^"]+)"/g)].map((match) => match[1]).sort();
const passwordResources = (resources: { type: string; name: string }[]) =>
  resources
    .filter((resource) => resource.type === "random:index/randomPassword:RandomPassword")
    .map((resource) => resource.name)
    .filter((name) => name.startsWith("mesh-nats-") && !name.includes("route"))
    .sort();

/** Generations 0, 1 and 2, one after another (the mock runtime is one per process). */
async function renderGenerations() {
  const renders = [];
  for (const generation of [0, 1, 2])
    renders.push(await renderStack("dev", [`nats.credentialGeneration=${generation}`]));
  return renders;
}

describe("NATS credential rotation (nats.credentialGeneration)", () => {
  it("accepts generation N-1's users and N's, hands the pods N's, and drops older generations", async () => {
    const renders = await renderGenerations();
    const [zero, one, two] = renders.map((render) => natsServerConfigText(render.resources) as string);
    const roles = ["mesh-api", "mesh-main", "mesh-migrate", "mesh-worker"];
    assert.deepEqual(usersOf(zero as string), roles);
    assert.deepEqual(usersOf(one as string), [...roles, ...roles.map((role) => `${role}-g1`)].sort());
    assert.deepEqual(usersOf(two as string), roles.flatMap((role) => [`${role}-g1`, `${role}-g2`]).sort());
    // Generation 0's passwords keep their resource names (stacks from before rotation keep their users),
    // and generation 1's resources stay while 2 is current, so their values do not change under the pods.
    assert.deepEqual(passwordResources(renders[0]?.resources ?? []), [
      "mesh-nats-api-password",
      "mesh-nats-main-password",
      "mesh-nats-migrate-password",
      "mesh-nats-worker-password",
    ]);
    assert.deepEqual(
      passwordResources(renders[2]?.resources ?? []),
      ["api", "main", "migrate", "worker"].flatMap((role) => [
        `mesh-nats-${role}-password-g1`,
        `mesh-nats-${role}-password-g2`,
      ]),
    );
  });

  it("updates Secret mesh and the migration Job only after the NATS servers (their roll accepts the new users first)", async () => {
    const [, one] = await renderGenerations();
    for (const [type, name] of [
      ["kubernetes:core/v1:Secret", "mesh-secret"],
      ["kubernetes:batch/v1:Job", undefined],
    ] as const) {
      const resource = one?.resources.find(
        (entry) => entry.type === type && (name === undefined || entry.name === name),
      );
      assert.ok(resource, `${type} ${name ?? ""}`);
      assert.ok(
        resource.engine.dependsOn.includes("mesh:infra:Nats::mesh-nats"),
        `${type} waits for the NATS component (and so its StatefulSet's roll): ${resource.engine.dependsOn.join(", ")}`,
      );
    }
  });

  it("refuses an external NATS's rotation by generation, naming the key", async () => {
    await assert.rejects(
      renderStack("dev", ["nats.mode=external", "nats.credentialGeneration=1"], {
        secrets: { apiToken: "t", natsUrl: "nats://u:p@nats.example:4222" },
      }),
      /nats\.credentialGeneration: rotates the users of mesh's own NATS/,
    );
  });

  describe("generation 2's config on the real nats-server", () => {
    let server: NatsServers;
    let urls: Record<number, ReturnType<typeof workloadNatsUrls>>;
    before(async () => {
      const renders = await renderGenerations();
      server = await NatsServers.start(natsServerConfigText(renders[2]?.resources ?? []) as string, 1);
      urls = Object.fromEntries(
        renders.map((render, generation) => [generation, workloadNatsUrls(render.resources, server)]),
      );
    });
    after(async () => {
      await server?.stop();
    });

    it("lets generations 1 and 2 in and keeps generation 0 out", async () => {
      const [first] = server.servers;
      assert.ok(first);
      const tryConnect = async (url: string) => {
        const parsed = new URL(url.split(",")[0] as string);
        const connection = await connect({
          servers: first.clientUrl,
          user: decodeURIComponent(parsed.username),
          pass: decodeURIComponent(parsed.password),
          timeout: 5_000,
        });
        await connection.close();
      };
      for (const generation of [1, 2])
        for (const role of ["main", "api", "worker", "migrate"] as const)
          await tryConnect(urls[generation]?.[role] as string);
      for (const role of ["main", "api", "worker", "migrate"] as const)
        await assert.rejects(tryConnect(urls[0]?.[role] as string), /Authorization Violation/i, role);
      // The server logs each refused login (what the rotation test under load looks for, and finds none).
      const refused = (await readFile(first.log, "utf8"))
        .split("\n")
        .filter((line) => /authentication error/i.test(line));
      assert.equal(refused.length, 4, refused.join("\n"));
      assert.ok(
        refused.every((line) => /mesh-(main|api|worker|migrate)"/.test(line)),
        refused.join("\n"),
      );
    });
  });
});
