import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ApiClient } from "./support/api-client.js";
import { freePort } from "./support/mesh-process.js";
import { buildRuntimeImage, type RuntimeImage } from "./support/runtime-image.js";
import { createTestDatabase, dropTestDatabase, NATS_URL } from "./support/services.js";
import { waitFor } from "./support/wait.js";

// Fixture: what the Dockerfile's runtime stage holds, rebuilt in an empty folder — package.json and the
// lock, `npm ci --omit=dev --ignore-scripts`, and the compiled dist/ — with NODE_ENV=production. Nothing at
// run time may need a dev dependency (tsx, Pulumi, mocha, ...): migrate and every role run from it.
const _ROOT = fileURLToPath(new URL("..", import.meta.url));

describe("the image's runtime stage runs migrate and every role without dev dependencies", () => {
  let runtimeImage: RuntimeImage;
  let image: string;
  let databaseUrl: string;
  const children: ChildProcess[] = [];

  before(async function () {
    this.timeout(600_000);
    runtimeImage = buildRuntimeImage();
    image = runtimeImage.root;
    databaseUrl = await createTestDatabase("runtime_stage");
  });
  after(async () => {
    for (const child of children) child.kill("SIGKILL");
    await dropTestDatabase(databaseUrl);
    runtimeImage?.remove();
  });

  const runtimeEnv = (extra: Record<string, string>) => ({
    PATH: process.env.PATH ?? "",
    ...runtimeImage.env,
    DATABASE_URL: databaseUrl,
    ...extra,
  });

  it("holds no dev dependency, and starts with the stage's ENV", () => {
    assert.deepEqual(runtimeImage.env, { NODE_ENV: "production", MESH_AUTO_MIGRATE: "false", PORT: "8080" });
    assert.deepEqual(runtimeImage.cmd, ["node", "dist/app/main.js"]);
    const installed = execFileSync("npm", ["ls", "--omit=dev", "--depth=0", "--json"], {
      cwd: image,
      encoding: "utf8",
    });
    const names = Object.keys(JSON.parse(installed).dependencies ?? {});
    for (const dev of ["tsx", "@pulumi/pulumi", "mocha", "typescript"])
      assert.ok(!names.includes(dev), `${dev} installed`);
  });

  it("carries DBOS with the queue wake-up patch applied (the build stage's postinstall)", () => {
    const lookup = execFileSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        "const m = await import('./dist/app/queue-wake/dispatcher-wake.js'); const r = m.findDispatcherWake(); console.log(r.available ? 'available' : r.reason)",
      ],
      { cwd: image, encoding: "utf8" },
    );
    assert.equal(lookup.trim(), "available");
  });

  it("migrates with `node dist/app/main.js migrate`", () => {
    const result = spawnSync(process.execPath, ["dist/app/main.js", "migrate"], {
      cwd: image,
      env: runtimeEnv({}),
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(result.status, 0, result.stderr || result.stdout);
    assert.match(result.stdout, /migrations complete/);
  });

  it("serves and completes a run with an api and a worker, and starts as all", async () => {
    const start = async (role: string) => {
      const port = await freePort();
      const child = spawn(process.execPath, ["dist/app/main.js"], {
        cwd: image,
        env: runtimeEnv({
          MESH_DISPATCH_ROLE: role,
          PORT: String(port),
          NATS_URL,
          POD_NAME: `runtime-${role}-${port}`,
        }),
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(child);
      let output = "";
      child.stdout?.on("data", (data) => {
        output += data;
      });
      child.stderr?.on("data", (data) => {
        output += data;
      });
      await waitFor(`${role} ready`, async () => {
        if (child.exitCode !== null) throw new Error(`${role} exited: ${output}`);
        return (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200;
      });
      return `http://127.0.0.1:${port}`;
    };
    const api = await start("api");
    await start("worker");
    const client = new ApiClient(api);
    const runId = await client.createRun("runtime", "from the runtime stage");
    const stream = await client.readStream(runId);
    assert.equal(stream.done?.status, "SUCCESS");
    assert.ok(stream.chunks.length > 0);
    await start("all");
  });
});
