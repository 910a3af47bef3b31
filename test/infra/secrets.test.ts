import assert from "node:assert/strict";
import { WORKFLOW_CODE_VERSION } from "../../app/version.js";
import { isSecretValue, unwrapSecrets } from "../../infra/render/kubernetes-objects.js";
import { MOCK_RDS_PASSWORD } from "../../infra/render/mock-cloud.js";
import { envOf, objectOf, type RenderedStack, renderStack, resourceOf, TEST_SECRETS } from "./support.js";

// Fixture: prod (RDS-managed password) and dev with external Postgres and NATS, each with a test API token.
const EXTERNAL = {
  databaseUrl: "postgres://app:external-db-password-91@db.example:5432/mesh",
  natsUrl: "nats://nats-user:external-nats-password-42@nats.example:4222",
  modelApiKey: "sk-test-model-key-77",
};

describe("secrets (DESIGN §3.2)", () => {
  let prod: RenderedStack;
  let external: RenderedStack;
  before(async () => {
    prod = await renderStack("prod");
    external = await renderStack("dev", ["postgres.mode=external", "nats.mode=external"], {
      secrets: { ...TEST_SECRETS, ...EXTERNAL },
    });
  });

  const plaintexts = [
    TEST_SECRETS.apiToken,
    MOCK_RDS_PASSWORD,
    "external-db-password-91",
    "external-nats-password-42",
    EXTERNAL.modelApiKey,
    // What the mock gives every RandomPassword (NATS's route and user passwords, the database roles').
    "mock-random-password-",
  ];

  it("keeps every secret out of every registered input except the Secrets `mesh`, `mesh-keda` and NATS's config", () => {
    for (const stack of [prod, external]) {
      for (const resource of stack.resources) {
        if (
          resource.type === "kubernetes:core/v1:Secret" &&
          ["mesh", "mesh-keda", "mesh-nats-config"].includes(resource.inputs.metadata.name)
        )
          continue;
        const text = JSON.stringify(unwrapSecrets(resource.inputs));
        for (const secret of plaintexts)
          assert.ok(!text.includes(secret), `${resource.type} ${resource.name} carries a secret`);
      }
    }
  });

  it("puts DATABASE_URL, each workload's NATS URL and MESH_API_TOKEN in the Secret, as Pulumi secrets", () => {
    for (const [stack, ownerPassword] of [
      [prod, undefined],
      [external, "external-db-password-91"],
    ] as const) {
      const secret = resourceOf(stack.resources, "kubernetes:core/v1:Secret", "mesh-secret").inputs;
      assert.ok(isSecretValue(secret.stringData), "stringData is a Pulumi secret");
      const data = unwrapSecrets(secret.stringData) as Record<string, string>;
      assert.deepEqual(Object.keys(data).sort(), [
        "DATABASE_MIGRATION_URL",
        "DATABASE_SCALER_URL",
        "DATABASE_URL",
        "MESH_API_TOKEN",
        "NATS_API_URL",
        "NATS_MIGRATE_URL",
        "NATS_URL",
        "NATS_WORKER_URL",
        ...(stack === external ? ["OPENAI_API_KEY"] : []),
      ]);
      // The owner's password is the migration's alone (with RDS not even that: the Job reads it from
      // Secrets Manager); pods' DATABASE_URL carries the runtime role's.
      if (ownerPassword === undefined)
        assert.equal(new URL(data.DATABASE_MIGRATION_URL ?? "").password, "", "RDS: no owner credentials");
      else assert.ok(data.DATABASE_MIGRATION_URL?.includes(ownerPassword));
      assert.ok(
        !data.DATABASE_URL?.includes(ownerPassword ?? MOCK_RDS_PASSWORD),
        "pods' DATABASE_URL carries the owner's password",
      );
      assert.equal(new URL(data.DATABASE_URL ?? "").username, "mesh_runtime");
      assert.equal(data.MESH_API_TOKEN, TEST_SECRETS.apiToken);
    }
    const data = unwrapSecrets(
      resourceOf(external.resources, "kubernetes:core/v1:Secret").inputs.stringData,
    ) as Record<string, string>;
    assert.equal(data.NATS_URL, EXTERNAL.natsUrl);
    assert.equal(data.DATABASE_MIGRATION_URL, EXTERNAL.databaseUrl);
    // The runtime role on the same server and database, with a password of its own (64 hex digits).
    assert.match(data.DATABASE_URL ?? "", /^postgres:\/\/mesh_runtime:[0-9a-f]{64}@db\.example:5432\/mesh$/);
  });

  it("gives the model key (modelApiKey) to every mesh pod through Secret `mesh`, and rolls them when it changes", async () => {
    const data = unwrapSecrets(
      resourceOf(external.resources, "kubernetes:core/v1:Secret", "mesh-secret").inputs.stringData,
    ) as Record<string, string>;
    assert.equal(data.OPENAI_API_KEY, EXTERNAL.modelApiKey);
    const overrides = ["postgres.mode=external", "nats.mode=external", "worker.enabled=true"];
    const before = await renderStack("dev", overrides, { secrets: { ...TEST_SECRETS, ...EXTERNAL } });
    const after = await renderStack("dev", overrides, {
      secrets: { ...TEST_SECRETS, ...EXTERNAL, modelApiKey: "sk-rotated-key-88" },
    });
    for (const name of ["mesh", "mesh-worker"]) {
      const env = envOf(objectOf(before.objects, "Deployment", name));
      assert.deepEqual(env.OPENAI_API_KEY, {
        secretKeyRef: { name: "mesh", key: "OPENAI_API_KEY", optional: true },
      });
      const revision = (stack: RenderedStack) =>
        objectOf(stack.objects, "Deployment", name).spec.template.metadata.annotations[
          "mesh.dev/secret-revision"
        ];
      assert.notEqual(revision(before), revision(after), `${name} rolls on a new model key`);
    }
  });

  it("RDS: the owner's URL carries no credentials; the runtime and scaler roles have generated passwords", () => {
    const data = unwrapSecrets(
      resourceOf(prod.resources, "kubernetes:core/v1:Secret", "mesh-secret").inputs.stringData,
    ) as Record<string, string>;
    assert.match(
      data.DATABASE_MIGRATION_URL ?? "",
      /^postgresql:\/\/mesh-postgres-db\..*:5432\/mesh\?sslmode=verify-full&sslrootcert=/,
    );
    // The roles' URLs: the same endpoint, database and TLS, each its own user and random password.
    const runtime = new URL(data.DATABASE_URL ?? "");
    const scaler = new URL(data.DATABASE_SCALER_URL ?? "");
    assert.deepEqual(
      [runtime.username, runtime.password],
      ["mesh_runtime", "mock-random-password-mesh-postgres-runtime-password"],
    );
    assert.deepEqual(
      [scaler.username, scaler.password],
      ["mesh_keda_scaler", "mock-random-password-mesh-postgres-scaler-password"],
    );
    for (const url of [runtime, scaler]) {
      assert.equal(url.host, new URL(data.DATABASE_MIGRATION_URL ?? "").host);
      assert.equal(url.search, new URL(data.DATABASE_MIGRATION_URL ?? "").search);
    }
  });

  it("hands pods the secrets only as secretKeyRef env from the Secret `mesh`", () => {
    for (const stack of [prod, external]) {
      for (const name of ["mesh", "mesh-worker"]) {
        const deployment = stack.objects.find(
          (object) => object.kind === "Deployment" && object.metadata.name === name,
        );
        if (!deployment) continue;
        const env = envOf(deployment);
        // Only the API-serving pods get the API token; workers serve health and metrics only.
        const keys =
          name === "mesh" ? ["DATABASE_URL", "NATS_URL", "MESH_API_TOKEN"] : ["DATABASE_URL", "NATS_URL"];
        if (name === "mesh-worker") assert.equal(env.MESH_API_TOKEN, undefined, "workers get no API token");
        assert.equal(env.DATABASE_MIGRATION_URL, undefined, `${name} gets the owner's URL`);
        assert.equal(env.DATABASE_SCALER_URL, undefined, `${name} gets the scaler's URL`);
        for (const key of keys) {
          assert.deepEqual(
            (env[key] as { secretKeyRef: { name: string; key: string } }).secretKeyRef.name,
            "mesh",
            `${name} ${key}`,
          );
          // Each workload reads the NATS URL of its own user.
          const expectedKey = key === "NATS_URL" && name === "mesh-worker" ? "NATS_WORKER_URL" : key;
          assert.equal((env[key] as { secretKeyRef: { key: string } }).secretKeyRef.key, expectedKey);
        }
      }
    }
    const job = prod.objects.find((object) => object.kind === "Job");
    assert.deepEqual(job?.spec.template.spec.containers[0].env, [
      { name: "DATABASE_URL", valueFrom: { secretKeyRef: { name: "mesh", key: "DATABASE_URL" } } },
      {
        name: "DATABASE_MIGRATION_URL",
        valueFrom: { secretKeyRef: { name: "mesh", key: "DATABASE_MIGRATION_URL" } },
      },
      {
        name: "DATABASE_SCALER_URL",
        valueFrom: { secretKeyRef: { name: "mesh", key: "DATABASE_SCALER_URL" } },
      },
      // The owner's credentials: a file the CSI driver mounts from Secrets Manager, never an env value.
      {
        name: "DATABASE_MIGRATION_CREDENTIALS_FILE",
        value: "/var/run/secrets/mesh/database-owner/owner.json",
      },
      { name: "NATS_URL", valueFrom: { secretKeyRef: { name: "mesh", key: "NATS_MIGRATE_URL" } } },
      { name: "MESH_DEPLOYMENT", value: "mesh-prod" },
      { name: "MESH_WORKER_CONCURRENCY", value: "8" },
      { name: "MESH_STREAM_REPLICAS", value: "3" },
      { name: "MESH_STREAM_MAX_AGE_SECONDS", value: "86400" },
      { name: "MESH_STREAM_MAX_BYTES", value: String(20 * 2 ** 30) },
      { name: "MESH_EXPECTED_WORKFLOW_VERSION", value: WORKFLOW_CODE_VERSION },
    ]);
  });

  it("exports database and external NATS URLs only as secret outputs", () => {
    assert.deepEqual(external.secretOutputs.sort(), ["databaseUrl", "natsUrl"]);
    assert.ok(
      !JSON.stringify(objectOf(prod.objects, "Secret", "mesh")).includes(MOCK_RDS_PASSWORD),
      "rendered Secret is redacted",
    );
  });
});
