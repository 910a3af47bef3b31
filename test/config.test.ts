import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ConfigError, loadConfig } from "../app/config.js";

const base = { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test" };
const MAIN = fileURLToPath(new URL("../app/main.ts", import.meta.url));

describe("environment configuration", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig({ ...base, POD_NAME: "pod-a" });
    assert.equal(config.role, "all");
    assert.equal(config.port, 8080);
    assert.equal(config.executorId, "pod-a");
    assert.equal(config.workflowVersion, "mesh-wf-1");
    assert.equal(config.workerConcurrency, 8);
    assert.equal(config.shutdownGraceMs, 25_000);
    assert.equal(config.executorTimeoutMs, 30_000);
    assert.equal(config.autoMigrate, true);
    assert.equal(config.queueWake, true);
    assert.equal(config.queuePollMs, 1_000, "with the wake-up, polling is only the safety net");
    assert.deepEqual(config.model, { kind: "builtin" });
    assert.equal(config.natsUrl, undefined);
    assert.equal(config.listenAddress, undefined, "every interface unless told");
  });

  it("polls fast by default when the queue wake-up is off, and at MESH_QUEUE_POLL_MS whenever it is set", () => {
    assert.equal(loadConfig({ ...base, MESH_QUEUE_WAKE: "false" }).queuePollMs, 50);
    assert.equal(
      loadConfig({ ...base, MESH_QUEUE_WAKE: "false", MESH_QUEUE_POLL_MS: "200" }).queuePollMs,
      200,
    );
    assert.equal(loadConfig({ ...base, MESH_QUEUE_POLL_MS: "5000" }).queuePollMs, 5_000);
  });

  it("streams in the deployment's own subject space: MESH_DEPLOYMENT, or the database's name", () => {
    const named = loadConfig({ ...base, MESH_DEPLOYMENT: "mesh-prod" }).streamNames;
    assert.deepEqual(
      [named.stream, named.subjects, named.subject("run-1")],
      ["MESH_RUNS_MESH_PROD", "mesh.mesh-prod.runs.>", "mesh.mesh-prod.runs.run-1"],
    );
    const local = loadConfig({ DATABASE_URL: "postgres://u@h:5432/Mesh_Test.42" }).streamNames;
    assert.deepEqual([local.stream, local.subjects], ["MESH_RUNS_MESH_TEST_42", "mesh.mesh-test-42.runs.>"]);
  });

  it("binds the address MESH_LISTEN_ADDRESS names (a pod's own IP)", () => {
    assert.equal(loadConfig({ ...base, MESH_LISTEN_ADDRESS: "127.0.1.7" }).listenAddress, "127.0.1.7");
    assert.equal(loadConfig({ ...base, MESH_LISTEN_ADDRESS: "::1" }).listenAddress, "::1");
  });

  it("writes the pod-deletion-cost only when asked, to the pod the downward API names", () => {
    assert.equal(loadConfig(base).podDeletionCost, undefined);
    const inPod = {
      ...base,
      MESH_POD_DELETION_COST: "true",
      POD_NAME: "mesh-worker-7c9d",
      POD_NAMESPACE: "mesh-prod",
      KUBERNETES_SERVICE_HOST: "10.96.0.1",
      KUBERNETES_SERVICE_PORT: "443",
    };
    assert.deepEqual(loadConfig(inPod).podDeletionCost, {
      namespace: "mesh-prod",
      podName: "mesh-worker-7c9d",
      apiHost: "10.96.0.1",
      apiPort: 443,
    });
  });

  it("falls back to <hostname>-<pid> without POD_NAME and honours MESH_WORKFLOW_VERSION", () => {
    const config = loadConfig({ ...base, MESH_WORKFLOW_VERSION: "v7" });
    assert.match(config.executorId, new RegExp(`-${process.pid}$`));
    assert.equal(config.workflowVersion, "v7");
  });

  const refused: Array<[string, Record<string, string>, RegExp]> = [
    ["missing DATABASE_URL", {}, /^DATABASE_URL is required/],
    ["malformed DATABASE_URL", { DATABASE_URL: "not a url" }, /^DATABASE_URL must be a postgres/],
    ["http DATABASE_URL", { DATABASE_URL: "http://x/y" }, /^DATABASE_URL must be a postgres/],
    [
      "negative concurrency",
      { ...base, MESH_WORKER_CONCURRENCY: "-1" },
      /^MESH_WORKER_CONCURRENCY must be at least 1/,
    ],
    ["non-numeric port", { ...base, PORT: "80a" }, /^PORT must be a whole number/],
    ["port out of range", { ...base, PORT: "70000" }, /^PORT must be at most 65535/],
    [
      "negative grace",
      { ...base, MESH_SHUTDOWN_GRACE_MS: "-5" },
      /^MESH_SHUTDOWN_GRACE_MS must be at least 0/,
    ],
    ["unknown model", { ...base, MESH_MODEL: "gpt" }, /^MESH_MODEL must be "builtin" or "openai:<model>"/],
    [
      "bad auto-migrate flag",
      { ...base, MESH_AUTO_MIGRATE: "maybe" },
      /^MESH_AUTO_MIGRATE must be true or false/,
    ],
    [
      "bad queue wake-up flag",
      { ...base, MESH_QUEUE_WAKE: "sometimes" },
      /^MESH_QUEUE_WAKE must be true or false/,
    ],
    ["api without NATS", { ...base, MESH_DISPATCH_ROLE: "api" }, /^NATS_URL is required for role "api"/],
    [
      "worker with bad NATS",
      { ...base, MESH_DISPATCH_ROLE: "worker", NATS_URL: "localhost" },
      /^NATS_URL must be/,
    ],
    [
      "a host name as listen address",
      { ...base, MESH_LISTEN_ADDRESS: "localhost" },
      /^MESH_LISTEN_ADDRESS must be an IPv4 or IPv6 address/,
    ],
    ["an unknown log level", { ...base, LOG_LEVEL: "verbose" }, /^LOG_LEVEL /],
    [
      "a deployment name with dots",
      { ...base, MESH_DEPLOYMENT: "mesh.prod" },
      /^MESH_DEPLOYMENT must be a DNS label/,
    ],
    ["the deployment name runs", { ...base, MESH_DEPLOYMENT: "runs" }, /^MESH_DEPLOYMENT must not be "runs"/],
    [
      "a stream age under a minute",
      { ...base, MESH_STREAM_MAX_AGE_SECONDS: "5" },
      /^MESH_STREAM_MAX_AGE_SECONDS must be at least 60/,
    ],
    ["six stream copies", { ...base, MESH_STREAM_REPLICAS: "6" }, /^MESH_STREAM_REPLICAS must be at most 5/],
    ["an empty MESH_API_TOKEN", { ...base, MESH_API_TOKEN: "" }, /^MESH_API_TOKEN is set but blank/],
    ["a whitespace MESH_API_TOKEN", { ...base, MESH_API_TOKEN: "  \t " }, /^MESH_API_TOKEN is set but blank/],
    [
      "pod-deletion-cost outside a pod",
      { ...base, MESH_POD_DELETION_COST: "true", POD_NAME: "mesh-worker-1" },
      /^MESH_POD_DELETION_COST=true needs POD_NAMESPACE, KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT:/,
    ],
    [
      "a bad Kubernetes API port",
      {
        ...base,
        MESH_POD_DELETION_COST: "true",
        POD_NAME: "p",
        POD_NAMESPACE: "n",
        KUBERNETES_SERVICE_HOST: "10.96.0.1",
        KUBERNETES_SERVICE_PORT: "https",
      },
      /^KUBERNETES_SERVICE_PORT must be a whole number/,
    ],
  ];
  for (const [label, env, message] of refused) {
    it(`refuses ${label} with a message naming the variable`, () => {
      assert.throws(
        () => loadConfig(env),
        (error: unknown) => error instanceof ConfigError && message.test(error.message),
      );
    });
  }

  it("never echoes a password from a bad URL", () => {
    assert.throws(
      () => loadConfig({ DATABASE_URL: "mysql://admin:hunter2@db/x" }),
      (error: Error) => !error.message.includes("hunter2") && error.message.includes("***"),
    );
  });

  // Passwords that break URL parsing (an unescaped "/", "#", "@", a space): the error path is exactly where
  // the value does not parse, so redaction must not depend on parsing.
  const awkwardPasswords = ["p4ss/w0rd", "p4ss#w0rd", "p4ss@w0rd", "p4ss w0rd", "a/b#c@d e"];
  for (const password of awkwardPasswords) {
    for (const [name, value] of [
      ["DATABASE_URL", `postgres://app:${password}@/mesh`],
      ["DATABASE_URL", `mysql://app:${password}@db.internal/mesh`],
      ["NATS_URL", `nats://mesh:${password}@nats-0:4222,http://mesh:${password}@nats-1:4222`],
      ["NATS_URL", `nats://mesh:${password}@`],
    ] as const) {
      it(`never echoes the password ${JSON.stringify(password)} of a refused ${name}`, () => {
        const env = { ...base, [name]: value };
        let message = "";
        try {
          loadConfig(env);
        } catch (error) {
          message = (error as Error).message;
        }
        if (message === "") return assert.fail(`${name}=${value} was accepted`);
        assert.match(message, new RegExp(`^${name} `), "the error names the variable");
        for (const piece of password.split(/[/#@ ]/).filter((part) => part.length >= 3))
          assert.ok(!message.includes(piece), `${JSON.stringify(piece)} of the password in: ${message}`);
      });
    }
  }

  it("reports a bad LOG_LEVEL as a configuration error, not a crash inside the logger", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", MAIN], {
      env: { PATH: process.env.PATH ?? "", ...base, LOG_LEVEL: "verbose" },
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr.trim(), /^mesh: configuration error: LOG_LEVEL .*"verbose"/);
  });

  it("makes the real process exit non-zero with one line naming the variable", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", MAIN], {
      env: { PATH: process.env.PATH ?? "", ...base, MESH_WORKER_CONCURRENCY: "lots" },
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(result.status, 2);
    const lines = result.stderr.trim().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    assert.match(
      lines[0] ?? "",
      /^mesh: configuration error: MESH_WORKER_CONCURRENCY must be a whole number/,
    );
    assert.doesNotMatch(result.stderr, /\bat .*\.ts:\d+/, "no stack trace");
  });
});
