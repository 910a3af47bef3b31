// The image a stack runs is the image it ran (#25), under the real engine against the real API server:
// CI's deploy names the image for its `up`; a person's later `pulumi config set` toggle, from a checkout
// whose stack file names none, keeps it in every pod template. A first update without an image, and a
// placeholder image, are refused at preview naming mesh:image.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { useTestCluster } from "../control-plane/test-cluster.js";
import {
  applyShape,
  changes,
  describeSteps,
  engineStack,
  setPathConfig,
  stepRecorder,
} from "./support/engine-stack.js";
import { stackShape } from "./support/stack-shapes.js";

/** What deploy-dev.yml sets: the commit's build, by digest. */
const CI_IMAGE = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/mesh:4b1d2e9@sha256:${"7e".repeat(32)}`;

interface PodTemplateOwner {
  kind?: string;
  metadata: { name: string };
  spec: { template: { spec: { containers: { image: string }[] } } };
}

describe("real engine: an update that names no image keeps the deployed one", () => {
  const cluster = useTestCluster();
  let backendDir: string;
  before(() => {
    backendDir = mkdtempSync(join(tmpdir(), "mesh-engine-image-"));
  });
  after(() => backendDir && rmSync(backendDir, { recursive: true, force: true }));

  /** `<kind>/<name>: <image>` of every container of every Deployment and Job in the namespace. */
  async function liveImages(namespace: string): Promise<string[]> {
    const images: string[] = [];
    for (const [path, kind] of [
      [`/apis/apps/v1/namespaces/${namespace}/deployments`, "Deployment"],
      [`/apis/batch/v1/namespaces/${namespace}/jobs`, "Job"],
    ] as const) {
      const { body } = await cluster.current.api<{ items: PodTemplateOwner[] }>("GET", path);
      for (const item of body.items)
        for (const container of item.spec.template.spec.containers)
          images.push(`${kind}/${item.metadata.name}: ${container.image}`);
    }
    return images.sort();
  }

  it("refuses a stack's first update without an image at preview and up, naming mesh:image; creates nothing", async () => {
    const stack = await engineStack({
      stackName: "image-first",
      backendDir,
      kubeconfigPath: cluster.current.kubeconfigPath,
    });
    const shape = stackShape("dev");
    delete shape.values.image; // the committed file's config, without CI's deploy
    await applyShape(stack, shape);
    for (const operation of ["preview", "up"] as const) {
      const recorder = stepRecorder();
      const failure = await stack[operation]({ onEvent: recorder.onEvent }).then(
        () => assert.fail(`${operation} succeeded without an image`),
        (error: Error) => error,
      );
      assert.match(
        `${failure.message}\n${recorder.diagnostics.join("\n")}`,
        /mesh:image: is required on this stack's first update/,
        operation,
      );
      // The read of the stack's own previous outputs (a StackReference, through the default pulumi
      // provider) is all it did: reading what ran before is how the image is kept.
      const touched = changes(recorder.steps).filter((step) => step.type !== "pulumi:providers:pulumi");
      assert.deepEqual(describeSteps(touched), [], `${operation} changed nothing`);
    }
    const exported = await stack.exportStack();
    const kept = (exported.deployment.resources ?? []).filter(
      (resource: { type: string }) =>
        !["pulumi:pulumi:Stack", "pulumi:pulumi:StackReference", "pulumi:providers:pulumi"].includes(
          resource.type,
        ),
    );
    assert.deepEqual(kept, [], "the state holds no resource");
    assert.equal((await cluster.current.api("GET", "/api/v1/namespaces/mesh-image-first")).status, 404);
  });

  describe("after CI's deploy", () => {
    const namespace = "mesh-image-keep";
    let stack: Stack;

    before(async function () {
      this.timeout(180_000);
      stack = await engineStack({
        stackName: "image-keep",
        backendDir,
        kubeconfigPath: cluster.current.kubeconfigPath,
      });
      await applyShape(stack, stackShape("dev", { image: CI_IMAGE }));
      const deploy = await stack.up();
      assert.equal(deploy.summary.result, "succeeded");
    });
    after(async function () {
      this.timeout(180_000);
      await stack?.destroy().catch(() => undefined);
    });

    it("a config-toggle up from a checkout without mesh:image leaves every pod template's image unchanged", async () => {
      const deployed = await liveImages(namespace);
      assert.ok(deployed.length >= 2, `the main Deployment and the Job: ${deployed.join(", ")}`);
      assert.ok(
        deployed.every((entry) => entry.endsWith(`: ${CI_IMAGE}`)),
        deployed.join("\n"),
      );

      // A person's checkout: the committed stack file (no image), then the documented toggle.
      await stack.removeConfig("mesh:image");
      await setPathConfig(stack, { "worker.enabled": true });
      const preview = stepRecorder();
      await stack.preview({ onEvent: preview.onEvent });
      assert.ok(
        preview.infos.some((info) => info.includes(`keeping the deployed image ${CI_IMAGE}`)),
        `the preview says where the image comes from:\n${preview.infos.join("\n")}`,
      );
      const recorder = stepRecorder();
      const result = await stack.up({ onEvent: recorder.onEvent });
      assert.equal(result.summary.result, "succeeded", recorder.diagnostics.join("\n"));
      const steps = changes(recorder.steps);
      assert.ok(
        steps.every((step) => step.op === "create"),
        `the toggle only creates the worker tier (nothing rolled):\n${describeSteps(steps).join("\n")}`,
      );
      const after = await liveImages(namespace);
      assert.ok(
        after.some((entry) => entry.startsWith("Deployment/mesh-worker:")),
        `the worker tier exists: ${after.join(", ")}`,
      );
      assert.ok(
        after.every((entry) => entry.endsWith(`: ${CI_IMAGE}`)),
        after.join("\n"),
      );
    });

    it("refuses a placeholder image at preview, naming mesh:image, and changes nothing", async () => {
      const before = await liveImages(namespace);
      await setPathConfig(stack, { image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mesh:placeholder" });
      const recorder = stepRecorder();
      const failure = await stack.preview({ onEvent: recorder.onEvent }).then(
        () => assert.fail("preview accepted a placeholder image"),
        (error: Error) => error,
      );
      assert.match(
        `${failure.message}\n${recorder.diagnostics.join("\n")}`,
        /mesh:image: .*has the placeholder tag "placeholder"/,
      );
      assert.deepEqual(await liveImages(namespace), before);
      await stack.removeConfig("mesh:image");
    });
  });
});
