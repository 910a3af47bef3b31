import assert from "node:assert/strict";
import { MeshConfigError, parseMeshConfig } from "../../infra/config.js";
import { MockProgramError } from "../../infra/render/run-under-mocks.js";
import { renderStack } from "./support.js";

// Fixture: the committed dev stack, broken one way at a time with `--set`-style overrides.
async function refusal(
  stack: string,
  overrides: string[],
  secrets?: Record<string, string>,
): Promise<MockProgramError> {
  try {
    await renderStack(stack, overrides, secrets ? { secrets } : {});
  } catch (error) {
    assert.ok(error instanceof MockProgramError, String(error));
    return error;
  }
  assert.fail(`config ${overrides.join(" ")} was accepted`);
}

/** Like refusal, with exactly these secrets and no stand-in apiToken. */
async function refusalWithout(stack: string, secrets: Record<string, string>): Promise<MockProgramError> {
  try {
    await renderStack(stack, [], { secrets, standInApiToken: false });
  } catch (error) {
    assert.ok(error instanceof MockProgramError, String(error));
    return error;
  }
  assert.fail(`stack ${stack} without apiToken was accepted`);
}

describe("stack config validation", () => {
  const cases: Array<[string, string[], RegExp]> = [
    [
      "dispatchRole=api without workers",
      ["dispatchRole=api", "worker.enabled=false"],
      /mesh:dispatchRole: dispatchRole=api requires worker\.enabled=true: .*no pod would dequeue the run queues; runs would never dispatch/,
    ],
    [
      "dispatchRole=api with zero worker replicas",
      ["dispatchRole=api", "worker.enabled=true", "worker.replicas=0"],
      /mesh:worker\.replicas: dispatchRole=api requires at least one worker replica/,
    ],
    [
      "dispatchRole=api with an autoscaler that may reach zero",
      [
        "dispatchRole=api",
        "worker.enabled=true",
        "worker.autoscaling.enabled=true",
        "worker.autoscaling.mode=queueDepth",
        "worker.autoscaling.minReplicas=0",
      ],
      /mesh:worker\.autoscaling\.minReplicas: dispatchRole=api requires at least one worker replica/,
    ],
    [
      "a queue polling interval below 10 ms",
      ["queues.pollMs=5"],
      /mesh:queues\.pollMs: Too small: expected number to be >=10/,
    ],
    ["a misspelt queues key", ["queues.wakeup=false"], /mesh:queues: unknown key wakeup/],
    [
      "api min > max replicas",
      ["api.autoscaling.enabled=true", "api.autoscaling.minReplicas=5", "api.autoscaling.maxReplicas=2"],
      /mesh:api\.autoscaling\.minReplicas: must not exceed api\.autoscaling\.maxReplicas \(5 > 2\)/,
    ],
    [
      "worker min > max replicas",
      ["worker.enabled=true", "worker.autoscaling.minReplicas=8", "worker.autoscaling.maxReplicas=4"],
      /mesh:worker\.autoscaling\.minReplicas: must not exceed worker\.autoscaling\.maxReplicas/,
    ],
    [
      "an unknown postgres mode",
      ["postgres.mode=aurora"],
      /mesh:postgres\.mode: .*"rds"\|"inCluster"\|"external"/,
    ],
    ["an unknown nats mode", ["nats.mode=cloud"], /mesh:nats\.mode: .*"managed"\|"external"/],
    ["an unknown cluster mode", ["cluster.mode=gke"], /mesh:cluster\.mode: /],
    ["an unknown autoscaling mode", ["worker.autoscaling.mode=memory"], /mesh:worker\.autoscaling\.mode: /],
    [
      "a scale-down period beyond the HPA's limit",
      ["worker.autoscaling.scaleDown.periodSeconds=3600"],
      /mesh:worker\.autoscaling\.scaleDown\.periodSeconds: must be at most 1800 \(the HPA's limit\)/,
    ],
    [
      "a misspelt scale-down key",
      ["worker.autoscaling.scaleDown.window=60"],
      /mesh:worker\.autoscaling\.scaleDown: unknown key window/,
    ],
    [
      "an api scale-down window beyond an hour",
      ["api.autoscaling.scaleDown.stabilizationWindowSeconds=7200"],
      /mesh:api\.autoscaling\.scaleDown\.stabilizationWindowSeconds: must be at most 3600 \(1 h\)/,
    ],
    [
      "postgres.mode=rds without cluster.mode=eks",
      ["cluster.mode=kubeconfig", "postgres.mode=rds"],
      /mesh:postgres\.mode: postgres\.mode=rds requires cluster\.mode=eks/,
    ],
    [
      "external Postgres without its URL",
      ["postgres.mode=external"],
      /mesh:databaseUrl: postgres\.mode=external requires the secret databaseUrl/,
    ],
    [
      "external NATS without its URL",
      ["nats.mode=external"],
      /mesh:natsUrl: nats\.mode=external requires natsUrl/,
    ],
    [
      "JetStream NATS with 2 replicas",
      ["nats.replicas=2"],
      /mesh:nats\.replicas: JetStream needs 1 or at least 3 replicas/,
    ],
    [
      "more stream copies than NATS servers",
      ["nats.stream.replicas=3"],
      /mesh:nats\.stream\.replicas: must not exceed nats\.replicas \(3 > 1\)/,
    ],
    [
      "a stream larger than the JetStream volume allows",
      ["nats.stream.maxBytes=5Gi"],
      /mesh:nats\.stream\.maxBytes: must fit the JetStream volume: at most 90% of nats\.jetstream\.fileStorageSize \(5Gi\)/,
    ],
    [
      "a stream age that is no duration",
      ["nats.stream.maxAge=1 day"],
      /mesh:nats\.stream\.maxAge: must be a duration/,
    ],
    [
      "a NATS memory store as large as its memory limit",
      ["nats.jetstream.memoryStorageSize=1Gi"],
      /mesh:nats\.jetstream\.memoryStorageSize: must be below nats\.resources\.limits\.memory \(1Gi\)/,
    ],
    [
      "NATS without a memory limit (GOMEMLIMIT comes from it)",
      ['nats.resources={"requests":{"cpu":"100m","memory":"256Mi"}}'],
      /mesh:nats\.resources\.limits\.memory: is required/,
    ],
    [
      "a NATS image tagged latest",
      ["nats.image=nats:latest"],
      /mesh:nats\.image: "nats:latest" must name one release/,
    ],
    [
      "a lame-duck duration nats-server refuses",
      ["nats.lameDuckDurationSeconds=5"],
      /mesh:nats\.lameDuckDurationSeconds: must be at least 30/,
    ],
    ["a misspelt structured key", ["worker.enabeld=true"], /mesh:worker: unknown key enabeld/],
    ["a misspelt top-level key", ["dispatchrole=api"], /mesh:dispatchrole: unknown key/],
    ["a wrong type", ["api.replicas=two"], /mesh:api\.replicas: /],
    ["a bad namespace", ["namespace=Mesh_Prod"], /mesh:namespace: must be a DNS-1123 label/],
    ["an image tagged latest", ["image=registry.acme.internal/mesh:latest"], /mesh:image: .* uses :latest/],
    ["an untagged image", ["image=registry.acme.internal/mesh"], /mesh:image: .* has no tag/],
    [
      "an untagged image with a registry port",
      ["image=registry.acme.internal:5000/mesh"],
      /mesh:image: .* has no tag/,
    ],
    [
      "a malformed digest",
      ["image=registry.acme.internal/mesh@sha256:abc"],
      /mesh:image: has a malformed digest/,
    ],
    [
      "a placeholder tag",
      ["image=123456789012.dkr.ecr.eu-west-1.amazonaws.com/mesh:placeholder"],
      /mesh:image: .* has the placeholder tag "placeholder", not a build: set the image to deploy/,
    ],
    [
      "an image on an example registry",
      ["image=registry.example.com/mesh:1.4.2"],
      /mesh:image: .* is on an example registry \(registry\.example\.com\)/,
    ],
    [
      "an unexpanded template",
      ["image=<account>.dkr.ecr.eu-west-1.amazonaws.com/mesh:1.4.2"],
      /mesh:image: .* is an unexpanded template/,
    ],
    [
      "a source security group that is no security group ID",
      ['postgres.allowedSecurityGroupIds=["karpenter-nodes"]'],
      /mesh:postgres\.allowedSecurityGroupIds\.0: must be a security group ID/,
    ],
    ["zero api replicas", ["api.replicas=0"], /mesh:api\.replicas: must be at least 1/],
    [
      "an extraEnv entry overriding a managed variable",
      ["extraEnv.DATABASE_URL=postgres://elsewhere/db"],
      /mesh:extraEnv\.DATABASE_URL: is set by mesh itself/,
    ],
    [
      "an extraEnv entry handing pods the owner's database URL",
      ["extraEnv.DATABASE_MIGRATION_URL=postgres://owner@db/mesh"],
      /mesh:extraEnv\.DATABASE_MIGRATION_URL: is set by mesh itself/,
    ],
    [
      "an extraEnv entry that looks like a secret",
      ["extraEnv.OPENAI_API_KEY=sk-123"],
      /mesh:extraEnv\.OPENAI_API_KEY: looks like a secret/,
    ],
    ["an extraEnv name that is no env var name", ["extraEnv.LOG-LEVEL=debug"], /mesh:extraEnv\.LOG-LEVEL: /],
    [
      "a workflow version that cannot name a Deployment",
      ["workflow.version=Mesh_WF_2"],
      /mesh:workflow\.version: must be a workflow version like mesh-wf-2/,
    ],
    [
      "a retired entry that is no workflow version",
      ['workflow.retired=["wf 1"]'],
      /mesh:workflow\.retired\.0: /,
    ],
    [
      "zero draining replicas",
      ["workflow.drainingReplicas=0"],
      /mesh:workflow\.drainingReplicas: must be at least 1/,
    ],
  ];

  for (const [label, overrides, message] of cases) {
    it(`refuses ${label}, naming the key, before registering any resource`, async () => {
      const error = await refusal("dev", overrides);
      assert.ok(error.cause instanceof MeshConfigError);
      assert.match(error.message, message);
      assert.deepEqual(error.resources, []);
    });
  }

  it("reads the obsolete nats.mode=helm as managed, with a warning that names the move", async () => {
    const helm = await renderStack("dev", ["nats.mode=helm", "nats.chartVersion=1.3.7"]);
    const managed = await renderStack("dev");
    assert.deepEqual(helm.objects, managed.objects);
    const config = parseMeshConfig({
      stack: "dev",
      values: {
        image: "mesh:1.0.0",
        cluster: { mode: "kubeconfig" },
        postgres: { mode: "inCluster" },
        nats: { mode: "helm", chartVersion: "1.3.7" },
      },
      secrets: {},
      keys: ["image", "cluster", "postgres", "nats"],
    });
    assert.equal(config.nats.mode, "managed");
    assert.match(config.warnings.join("\n"), /mesh:nats\.mode: helm is obsolete.*Moving from the NATS chart/);
    assert.match(config.warnings.join("\n"), /mesh:nats\.chartVersion: ignored/);
  });

  it("refuses an eks stack without apiToken (an open API), naming mesh:apiToken", async () => {
    const error = await refusalWithout("dev", {});
    assert.match(error.message, /mesh:apiToken: is required when cluster\.mode=eks/);
    assert.deepEqual(error.resources, []);
  });

  it("refuses a set-but-blank secret, naming it", async () => {
    for (const blank of ["", "   "]) {
      const error = await refusalWithout("dev", { apiToken: blank });
      assert.match(error.message, /mesh:apiToken: is set but blank/);
    }
  });

  it("runs a kubeconfig (local) stack without apiToken", async () => {
    const stack = await renderStack("local", [], { secrets: {}, standInApiToken: false });
    assert.ok(stack.resources.length > 0);
  });

  it("refuses a missing image", async () => {
    const error = await refusal("dev", ["image="]);
    assert.match(error.message, /mesh:image: /);
    assert.deepEqual(error.resources, []);
  });

  for (const image of [
    "registry.acme.internal/mesh:1.4.2",
    `registry.acme.internal:5000/team/mesh@sha256:${"ab".repeat(32)}`,
    `registry.acme.internal/mesh:1.4.2@sha256:${"0f".repeat(32)}`,
  ]) {
    it(`accepts the pinned image ${image.slice(0, 48)}…, keying the Job and the version label on it`, async () => {
      const { objects } = await renderStack("dev", [`image=${image}`]);
      const deployment = objects.find((object) => object.kind === "Deployment");
      const job = objects.find((object) => object.kind === "Job");
      assert.equal(deployment?.spec.template.spec.containers[0].image, image);
      assert.equal(job?.spec.template.spec.containers[0].image, image);
      const version = deployment?.metadata.labels["app.kubernetes.io/version"];
      assert.equal(version, image.includes("@") ? image.split("@sha256:")[1]?.slice(0, 12) : "1.4.2");
      const other = await renderStack("dev", [
        `image=${image.replace(/.$/, image.endsWith("0") ? "1" : "0")}`,
      ]);
      assert.notEqual(
        other.objects.find((object) => object.kind === "Job")?.metadata.name,
        job?.metadata.name,
        "another build gets another migration Job",
      );
    });
  }

  it("reports every problem at once", async () => {
    const error = await refusal("dev", [
      "dispatchRole=api",
      "nats.replicas=2",
      "postgres.mode=external",
      "api.replicas=-1",
    ]);
    assert.ok(error.cause instanceof MeshConfigError);
    const problems = error.cause.problems.join("\n");
    for (const key of ["mesh:dispatchRole", "mesh:nats.replicas", "mesh:databaseUrl", "mesh:api.replicas"]) {
      assert.ok(problems.includes(key), `${key} missing from:\n${problems}`);
    }
    assert.equal(error.cause.problems.length, 4);
  });

  it("accepts external Postgres and NATS when their secret URLs are set", async () => {
    const stack = await renderStack("dev", ["postgres.mode=external", "nats.mode=external"], {
      secrets: { databaseUrl: "postgres://u:p@db.example:5432/mesh", natsUrl: "nats://nats.example:4222" },
    });
    assert.ok(stack.resources.length > 0);
    assert.equal(stack.resources.filter((resource) => resource.type.startsWith("aws:rds")).length, 0);
    assert.equal(
      stack.resources.filter((resource) => resource.type.startsWith("kubernetes:helm.sh")).length,
      0,
    );
  });
});
