import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ApiClient } from "./support/api-client.js";
import { freePort } from "./support/mesh-process.js";
import { NATS_URL } from "./support/services.js";
import { waitFor } from "./support/wait.js";

// Fixture: the quick start's `npm start` (scripts/local.ts) on its own embedded Postgres in a temp dir.
const LOCAL = fileURLToPath(new URL("../scripts/local.ts", import.meta.url));

async function runLocal(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", LOCAL, ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  child.stdout.on("data", (data: Buffer) => output.push(data.toString()));
  child.stderr.on("data", (data: Buffer) => output.push(data.toString()));
  return { child, output };
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  child.kill("SIGTERM");
  const [code] = await once(child, "exit");
  return code as number | null;
}

describe("npm start (local runner on embedded Postgres)", () => {
  let dataRoot: string;

  before(async () => {
    dataRoot = await mkdtemp(join(tmpdir(), "mesh-local-"));
    await chmod(dataRoot, 0o755); // embedded Postgres runs as the postgres user when we are root
  });

  after(async () => {
    await rm(dataRoot, { recursive: true, force: true });
  });

  it("runs topology all on an embedded Postgres, prints the URL and a curl example, and completes a run", async () => {
    const port = await freePort();
    const { child, output } = await runLocal(["--port", String(port)], { MESH_LOCAL_DIR: dataRoot });
    try {
      await waitFor("the ready banner", () => output.join("").includes("mesh is running"), {
        timeoutMs: 90_000,
      });
      const banner = output.join("");
      assert.match(banner, new RegExp(`at http://127\\.0\\.0\\.1:${port}`));
      assert.match(banner, /curl -s -X POST http:\/\/127\.0\.0\.1:\d+\/v1\/threads\/demo\/runs/);
      const client = new ApiClient(`http://127.0.0.1:${port}`);
      const runId = await client.createRun("demo", "hello");
      const stream = await client.readStream(runId);
      assert.equal(stream.done?.status, "SUCCESS");
      assert.ok(stream.chunks.length > 0);
    } finally {
      assert.equal(await stop(child), 0);
    }
  });

  it("runs the split topology with one api and N workers when NATS answers", async () => {
    const port = await freePort();
    const { child, output } = await runLocal(
      ["--topology", "split", "--workers", "2", "--port", String(port)],
      {
        MESH_LOCAL_DIR: dataRoot,
        NATS_URL,
      },
    );
    try {
      await waitFor("the ready banner", () => output.join("").includes("mesh is running"), {
        timeoutMs: 90_000,
      });
      assert.match(output.join(""), /topology split: 1 api \+ 2 workers/);
      const client = new ApiClient(`http://127.0.0.1:${port}`);
      await waitFor("both workers to be listening", async () => {
        const { body } = await client.request("GET", "/v1/queues");
        return body.queues[0].listeners === 2;
      });
      const runId = await client.createRun("demo", "split hello");
      const run = await waitFor("the run to succeed", async () => {
        const view = await client.getRun(runId);
        return view.status === "SUCCESS" ? view : undefined;
      });
      assert.match(run.executorId, /^local-worker-[12]$/);
    } finally {
      assert.equal(await stop(child), 0);
    }
  });

  it("refuses bad options with a usage message", async () => {
    const { child, output } = await runLocal(["--topology", "mesh"], { MESH_LOCAL_DIR: dataRoot });
    const [code] = await once(child, "exit");
    assert.equal(code, 2);
    assert.match(output.join(""), /--topology must be "all" or "split"/);
  });
});
