import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DATABASE_CA_CONFIGMAP, DATABASE_CA_DIR, DATABASE_CA_PATH } from "../../infra/database-tls.js";
import { unwrapSecrets } from "../../infra/render/kubernetes-objects.js";
import { MockProgramError } from "../../infra/render/run-under-mocks.js";
import { makeTestCa, readPem, type TestCa } from "../support/test-ca.js";
import { objectOf, type RenderedStack, renderStack, resourceOf } from "./support.js";

const EXTERNAL_SECRETS = {
  apiToken: "test-api-token-5f1c9e",
  databaseUrl: "postgres://app:external-db-password-91@db.example:5432/mesh?sslmode=require",
  natsUrl: "nats://nats-user:external-nats-password-42@nats.example:4222",
};

async function refusal(overrides: string[]): Promise<string> {
  try {
    await renderStack("dev", overrides);
  } catch (error) {
    assert.ok(error instanceof MockProgramError, String(error));
    return error.message;
  }
  assert.fail(`config ${overrides.join(" ")} was accepted`);
}

function fingerprints(pem: string): string[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (block) => new X509Certificate(block).fingerprint256,
  );
}

function secretUrls(stack: RenderedStack): Record<string, string> {
  const data = unwrapSecrets(
    resourceOf(stack.resources, "kubernetes:core/v1:Secret", "mesh-secret").inputs.stringData,
  ) as Record<string, string>;
  return { DATABASE_URL: data.DATABASE_URL ?? "", DATABASE_MIGRATION_URL: data.DATABASE_MIGRATION_URL ?? "" };
}

// Fixture: a throwaway CA (openssl) named as postgres.caBundleFile of the dev stack, in modes external
// and rds, and KEDA installed from the prod stack.
describe("the database CA bundle (postgres.caBundleFile, verify-full)", () => {
  let ca: TestCa;
  let otherCa: TestCa;
  before(() => {
    ca = makeTestCa("mesh infra test CA", ["db.example"]);
    otherCa = makeTestCa("mesh infra other CA", ["db.example"]);
  });
  after(() => {
    ca.remove();
    otherCa.remove();
  });

  it("refuses a bundle file that is missing, holds no certificate, or a mode without TLS", async () => {
    assert.match(
      await refusal([`postgres.caBundleFile=${join(ca.dir, "missing.pem")}`]),
      /mesh:postgres\.caBundleFile: cannot read .*missing\.pem: ENOENT/,
    );
    const garbage = join(ca.dir, "garbage.pem");
    writeFileSync(garbage, "not a certificate\n");
    assert.match(
      await refusal([`postgres.caBundleFile=${garbage}`]),
      /mesh:postgres\.caBundleFile: .*garbage\.pem holds no PEM certificate/,
    );
    const broken = join(ca.dir, "broken.pem");
    writeFileSync(broken, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    assert.match(
      await refusal([`postgres.caBundleFile=${broken}`]),
      /mesh:postgres\.caBundleFile: .*broken\.pem: certificate 1 does not parse/,
    );
    assert.match(
      await refusal(["postgres.mode=inCluster", `postgres.caBundleFile=${ca.caFile}`]),
      /mesh:postgres\.caBundleFile: applies to postgres\.mode rds and external/,
    );
  });

  it("mode external: the bundle switches the given URL to verify-full, mounted where the URL names it", async () => {
    const stack = await renderStack(
      "dev",
      ["postgres.mode=external", "nats.mode=external", `postgres.caBundleFile=${ca.caFile}`],
      { secrets: EXTERNAL_SECRETS },
    );
    for (const [key, url] of Object.entries(secretUrls(stack))) {
      const parsed = new URL(url);
      assert.equal(parsed.hostname, "db.example", key);
      assert.equal(parsed.searchParams.get("sslmode"), "verify-full", key);
      assert.equal(parsed.searchParams.get("sslrootcert"), DATABASE_CA_PATH, key);
    }
    const bundle = objectOf(stack.objects, "ConfigMap", DATABASE_CA_CONFIGMAP);
    assert.deepEqual(fingerprints(bundle.data["ca.pem"]), fingerprints(readPem(ca.caFile)));
    const main = objectOf(stack.objects, "Deployment", "mesh").spec.template.spec;
    assert.ok(
      main.containers[0].volumeMounts.some(
        (mount: { mountPath: string; readOnly?: boolean }) =>
          mount.mountPath === DATABASE_CA_DIR && mount.readOnly,
      ),
    );
  });

  it("mode external without a bundle keeps the URL as given and mounts nothing", async () => {
    const stack = await renderStack("dev", ["postgres.mode=external", "nats.mode=external"], {
      secrets: EXTERNAL_SECRETS,
    });
    assert.equal(
      new URL(secretUrls(stack).DATABASE_MIGRATION_URL ?? "").searchParams.get("sslmode"),
      "require",
    );
    assert.equal(
      stack.objects.filter(
        (object) => object.kind === "ConfigMap" && object.metadata.name === DATABASE_CA_CONFIGMAP,
      ).length,
      0,
    );
  });

  it("mode rds: a named bundle replaces RDS's, and a new bundle rolls the pods and reruns the migration", async () => {
    const first = await renderStack("dev", [`postgres.caBundleFile=${ca.caFile}`]);
    const second = await renderStack("dev", [`postgres.caBundleFile=${otherCa.caFile}`]);
    assert.deepEqual(
      fingerprints(objectOf(first.objects, "ConfigMap", DATABASE_CA_CONFIGMAP).data["ca.pem"]),
      fingerprints(readPem(ca.caFile)),
    );
    const annotation = (stack: RenderedStack) =>
      objectOf(stack.objects, "Deployment", "mesh").spec.template.metadata.annotations[
        "mesh.dev/database-ca-revision"
      ];
    assert.match(annotation(first), /^[0-9a-f]{16}$/);
    assert.notEqual(annotation(first), annotation(second), "the pods roll onto the new bundle");
    const jobName = (stack: RenderedStack) =>
      stack.objects.find((object) => object.kind === "Job")?.metadata.name;
    assert.notEqual(jobName(first), jobName(second), "a new migration Job connects with the new bundle");
    // The URLs (and so the roles' passwords) do not change with the bundle.
    assert.deepEqual(secretUrls(first), secretUrls(second));
  });

  it("KEDA installed by the stack mounts the bundle in its operator, where the scaler's URL names it", async () => {
    const prod = await renderStack("prod", ["worker.autoscaling.mode=queueDepth", "keda.install=true"]);
    const chart = prod.resources.find((resource) => resource.name === "keda-chart");
    const values = chart?.inputs.values;
    const [mount] = values.volumes.keda.extraVolumeMounts;
    const [volume] = values.volumes.keda.extraVolumes;
    assert.equal(mount.mountPath, DATABASE_CA_DIR);
    assert.equal(mount.name, volume.name);
    assert.equal(volume.configMap.name, DATABASE_CA_CONFIGMAP);
    const inKedaNamespace = prod.objects.find(
      (object) =>
        object.kind === "ConfigMap" &&
        object.metadata.name === DATABASE_CA_CONFIGMAP &&
        object.metadata.namespace === "keda",
    );
    const inMeshNamespace = prod.objects.find(
      (object) =>
        object.kind === "ConfigMap" &&
        object.metadata.name === DATABASE_CA_CONFIGMAP &&
        object.metadata.namespace !== "keda",
    );
    assert.ok(inKedaNamespace && inMeshNamespace);
    assert.deepEqual(
      fingerprints(inKedaNamespace.data["ca.pem"]),
      fingerprints(inMeshNamespace.data["ca.pem"]),
    );
    const scaler = unwrapSecrets(
      prod.resources.find((resource) => resource.name === "mesh-worker-keda-secret")?.inputs.stringData,
    ) as Record<string, string>;
    assert.equal(new URL(scaler.KEDA_DATABASE_URL ?? "").searchParams.get("sslrootcert"), DATABASE_CA_PATH);
  });
});
