// The mesh program under the real Pulumi engine against a real kube-apiserver (DESIGN §5, level L6):
// state 1 of the dev stack's shape goes up, is compared with the offline render, its state files are
// searched for secrets, the CLI entry (infra/index.ts) is shown to be the same program, and destroy
// leaves nothing behind.

import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack, UpResult } from "@pulumi/pulumi/automation/index.js";
import { runtimeRoleName } from "../../app/durability/runtime-role.js";
import { DEFAULT_RUN_STREAM_SETTINGS } from "../../app/stream/run-stream-settings.js";
import { migrationJobName } from "../../infra/components/mesh-app.js";
import { SECRET_REVISION_ANNOTATION, secretRevision } from "../../infra/components/secret-revision.js";
import { type KubernetesObject, REDACTED } from "../../infra/render/kubernetes-objects.js";
import { useTestCluster } from "../control-plane/test-cluster.js";
import { waitFor } from "../support/wait.js";
import { applyShape, changes, describeSteps, engineStack, stepRecorder } from "./support/engine-stack.js";
import { liveObjects, renderedFieldsMissingFromLive } from "./support/live-objects.js";
import { renderOffline, SHAPE_SECRETS, stackShape } from "./support/stack-shapes.js";

const STACK = "dev-shape";
const NAMESPACE = "mesh-dev-shape";
/** State 1 of Pulumi.dev.yaml: all-only, two replicas. */
const shape = stackShape("dev");

describe("real engine: the dev stack's shape from up to destroy", () => {
  const cluster = useTestCluster();
  let backendDir: string;
  let stack: Stack;
  let firstUp: UpResult;

  before(async function () {
    this.timeout(120_000);
    backendDir = mkdtempSync(join(tmpdir(), "mesh-engine-lifecycle-"));
    stack = await engineStack({
      stackName: STACK,
      backendDir,
      kubeconfigPath: cluster.current.kubeconfigPath,
    });
    await applyShape(stack, shape);
  });
  after(() => backendDir && rmSync(backendDir, { recursive: true, force: true }));

  it("creates every resource of state 1, awaits the migration Job and leaves the Deployment Available", async () => {
    const recorder = stepRecorder();
    firstUp = await stack.up({ onEvent: recorder.onEvent });
    assert.equal(firstUp.summary.result, "succeeded");
    const created = changes(recorder.steps);
    assert.ok(
      created.every((step) => step.op === "create"),
      `state 1 on an empty stack only creates:\n${describeSteps(created).join("\n")}`,
    );
    const kinds = created.map((step) => step.type).sort();
    for (const type of [
      "kubernetes:core/v1:Namespace",
      "kubernetes:core/v1:Secret",
      "kubernetes:batch/v1:Job",
      "kubernetes:apps/v1:Deployment",
      "kubernetes:core/v1:Service",
      "kubernetes:policy/v1:PodDisruptionBudget",
    ])
      assert.ok(kinds.includes(type), `${type} created (got ${kinds.join(", ")})`);
    assert.ok(!created.some((step) => step.name.includes("worker")), "state 1 has no worker objects");

    const live = liveObjects(cluster.current);
    const jobs = (
      await cluster.current.api<{ items: { status?: { succeeded?: number } }[] }>(
        "GET",
        `/apis/batch/v1/namespaces/${NAMESPACE}/jobs`,
      )
    ).body.items;
    assert.equal(jobs.length, 1, "one migration Job");
    assert.equal(jobs[0]?.status?.succeeded, 1, "the engine waited for the migration Job to succeed");
    const deployment = await live.read("apps/v1", "Deployment", "mesh", NAMESPACE);
    assert.equal(deployment.status.readyReplicas, 2);
    assert.ok(
      deployment.status.conditions.some(
        (c: { type: string; status: string }) => c.type === "Available" && c.status === "True",
      ),
      "Deployment mesh is Available",
    );
    assert.equal(firstUp.outputs.namespace?.value, NAMESPACE);
    assert.equal(firstUp.outputs.databaseUrl?.secret, true, "databaseUrl is a secret output");
  });

  it("holds live objects equal to the offline render of the same config", async () => {
    const rendered = renderOffline(STACK, shape);
    assert.ok(rendered.length >= 6, `rendered ${rendered.length} objects`);
    const live = liveObjects(cluster.current);
    // The one rendered value keyed by what the API server assigns: the secret revision (the render keys it
    // with a stand-in uid); live, it is the HMAC of the live Secret's data keyed by its uid.
    const revision = liveSecretRevision(await live.read("v1", "Secret", "mesh", NAMESPACE));
    for (const object of rendered) {
      const { apiVersion, kind, metadata } = object;
      if (kind === "Job") {
        // Its name hashes the release, the Secret's revision included: computed from the live Secret.
        assert.match(metadata.name, /^mesh-migrate-[0-9a-f]{10}$/);
        metadata.name = migrationJobName(
          shape.values.image as string,
          { workerConcurrency: 8, wake: true },
          DEFAULT_RUN_STREAM_SETTINGS, // an external NATS: the defaults
          revision,
        );
      }
      const actual = await live.read(apiVersion, kind, metadata.name, metadata.namespace);
      const annotations = object.spec?.template?.metadata?.annotations;
      if (annotations?.[SECRET_REVISION_ANNOTATION]) {
        assert.match(annotations[SECRET_REVISION_ANNOTATION], /^[0-9a-f]{16}$/);
        annotations[SECRET_REVISION_ANNOTATION] = revision;
      }
      if (kind === "Secret") {
        // The render shows key names only; the live Secret holds the same keys (values: next test).
        assert.deepEqual(Object.keys(actual.data ?? {}).sort(), Object.keys(object.stringData ?? {}).sort());
        assert.ok(Object.values(object.stringData).every((value) => value === REDACTED));
        const { stringData: _, ...rest } = object;
        assert.deepEqual(renderedFieldsMissingFromLive(rest, actual), [], `${kind}/${metadata.name}`);
        continue;
      }
      assert.deepEqual(renderedFieldsMissingFromLive(object, actual), [], `${kind}/${metadata.name}`);
    }
  });

  it("keeps every secret out of the state files, in plaintext and in base64, while the live Secret has them", async () => {
    const files = filesUnder(join(backendDir, "state"));
    assert.ok(
      files.some((file) => file.endsWith(`${STACK}.json`)),
      `the stack's state file is among ${files.length}`,
    );
    for (const [name, secret] of Object.entries(SHAPE_SECRETS)) {
      for (const file of files) {
        const text = readFileSync(file, "utf8");
        for (const form of secretForms(secret))
          assert.ok(
            !text.includes(form),
            `${name} appears in ${file} as ${form === secret ? "plaintext" : "base64"}`,
          );
      }
    }
    const secret = await liveObjects(cluster.current).read("v1", "Secret", "mesh", NAMESPACE);
    const decoded = (key: string) => Buffer.from(secret.data[key], "base64").toString("utf8");
    assert.equal(decoded("MESH_API_TOKEN"), SHAPE_SECRETS.apiToken);
    // The stack's URL is the owner's, for the migration Job; pods get the runtime role's (same database).
    assert.equal(decoded("DATABASE_MIGRATION_URL"), SHAPE_SECRETS.databaseUrl);
    const runtimeUrl = new URL(decoded("DATABASE_URL"));
    assert.equal(runtimeUrl.username, runtimeRoleName(SHAPE_SECRETS.databaseUrl));
    assert.equal(runtimeUrl.host, new URL(SHAPE_SECRETS.databaseUrl).host);
    assert.equal(decoded("NATS_URL"), SHAPE_SECRETS.natsUrl);
  });

  it("runs the same program through infra/index.ts (the CLI's entry): no change, same outputs", async () => {
    // The CLI runs Pulumi.yaml's `main` with nodeargs --import=tsx; no Node language host is available
    // here, so the inline program imports that very module (a fresh instance) and returns its exports.
    const recorder = stepRecorder();
    const viaIndex = await engineStack({
      stackName: STACK,
      backendDir,
      kubeconfigPath: cluster.current.kubeconfigPath,
      program: async () => ({ ...(await import(`../../infra/index.ts?engine-test=${Date.now()}`)) }),
    });
    const result = await viaIndex.up({ onEvent: recorder.onEvent });
    assert.deepEqual(describeSteps(changes(recorder.steps)), [], "infra/index.ts changes nothing");
    assert.deepEqual(Object.keys(result.outputs).sort(), Object.keys(firstUp.outputs).sort());
    for (const [key, output] of Object.entries(firstUp.outputs))
      assert.deepEqual(result.outputs[key], output, `output ${key}`);
  });

  it("rolls the pods when a secret changes: `pulumi config set --secret apiToken` then up", async () => {
    const live = liveObjects(cluster.current);
    const before = await live.read("apps/v1", "Deployment", "mesh", NAMESPACE);
    await stack.setConfig("mesh:apiToken", { value: "engine-test-token-rotated-77aa", secret: true });
    const preview = stepRecorder();
    await stack.preview({ onEvent: preview.onEvent });
    const recorder = stepRecorder();
    await stack.up({ onEvent: recorder.onEvent });
    // The Secret changes in place, the Deployment rolls (its pod template's revision only), and the release's
    // migration Job is created anew before the old one goes (the database URL may have changed). Nothing
    // is deleted first: no replacement cascades to the Deployment.
    const described = describeSteps(changes(recorder.steps));
    assert.deepEqual(described.filter((step) => !step.includes(":batch/v1:Job ")).sort(), [
      `update kubernetes:apps/v1:Deployment mesh-deployment [spec.template.metadata.annotations["${SECRET_REVISION_ANNOTATION}"]]`,
      "update kubernetes:core/v1:Secret mesh-secret [data.MESH_API_TOKEN]",
    ]);
    const jobSteps = changes(recorder.steps)
      .filter((step) => step.type === "kubernetes:batch/v1:Job")
      .map((step) => step.op);
    assert.ok(
      jobSteps.indexOf("create-replacement") < jobSteps.indexOf("delete-replaced"),
      `the new Job before the old one is deleted: ${jobSteps.join(", ")}`,
    );
    assert.deepEqual(
      changes(preview.steps)
        .filter((step) => step.type !== "kubernetes:batch/v1:Job")
        .map((step) => `${step.op} ${step.name}`)
        .sort(),
      ["update mesh-deployment", "update mesh-secret"],
      "the preview already shows the roll",
    );
    const secret = await live.read("v1", "Secret", "mesh", NAMESPACE);
    const after = await live.read("apps/v1", "Deployment", "mesh", NAMESPACE);
    assert.equal(
      after.spec.template.metadata.annotations[SECRET_REVISION_ANNOTATION],
      liveSecretRevision(secret),
    );
    assert.notEqual(
      after.spec.template.metadata.annotations[SECRET_REVISION_ANNOTATION],
      before.spec.template.metadata.annotations[SECRET_REVISION_ANNOTATION],
    );
    assert.ok(after.metadata.generation > before.metadata.generation, "a new pod template: the pods roll");
    assert.equal(
      Buffer.from(secret.data.MESH_API_TOKEN, "base64").toString(),
      "engine-test-token-rotated-77aa",
    );
  });

  it("destroys everything: no resource left in the state, the namespace is gone", async () => {
    const result = await stack.destroy();
    assert.equal(result.summary.result, "succeeded");
    const exported = await stack.exportStack();
    assert.deepEqual(exported.deployment.resources ?? [], [], "no resource left in the stack state");
    await waitFor(
      `namespace ${NAMESPACE} gone`,
      async () => (await cluster.current.api("GET", `/api/v1/namespaces/${NAMESPACE}`)).status === 404,
      { timeoutMs: 60_000, intervalMs: 500 },
    );
  });
});

/** What the program computes for a Secret, from the live object: HMAC of its data keyed with its uid. */
function liveSecretRevision(secret: KubernetesObject): string {
  const data = Object.fromEntries(
    Object.entries(secret.data as Record<string, string>).map(([key, value]) => [
      key,
      Buffer.from(value, "base64").toString("utf8"),
    ]),
  );
  return secretRevision(secret.metadata.uid, data);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** The secret itself and the base64 forms in which it shows up inside any longer base64 text. */
function secretForms(secret: string): string[] {
  const forms = [secret];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.from(`${"\0".repeat(offset)}${secret}`).toString("base64");
    // Drop the characters that mix in the neighbouring bytes; what remains appears in any embedding.
    const lead = offset === 0 ? 0 : offset + 1;
    forms.push(encoded.slice(lead, encoded.length - 4));
  }
  return forms;
}
