import assert from "node:assert/strict";
import { WORKFLOW_CODE_VERSION } from "../../app/version.js";
import type { KubernetesObject } from "../../infra/render/kubernetes-objects.js";
import { MockProgramError } from "../../infra/render/run-under-mocks.js";
import { renderStack } from "./support.js";

// Fixture: what CI deployed last (the stack's release ledger), and an `up` from a checkout whose stack
// file names no image — a person's `pulumi config set` toggle. The offline render's stand-in for CI's
// image is switched off (standInImage: false), as it is off in a real `up`.

const DEPLOYED = {
  version: "mesh-wf-7",
  image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/mesh:9f2c1e0@sha256:${"c4".repeat(32)}`,
};

/** Every container image of every pod template (Deployments, the Job, NATS's StatefulSet excluded). */
function meshImages(objects: KubernetesObject[]): string[] {
  return objects
    .filter((object) => ["Deployment", "Job"].includes(object.kind))
    .flatMap((object) =>
      object.spec.template.spec.containers.map((container: { image: string }) => container.image),
    );
}

async function refusal(...args: Parameters<typeof renderStack>): Promise<MockProgramError> {
  try {
    await renderStack(...args);
  } catch (error) {
    assert.ok(error instanceof MockProgramError, String(error));
    return error;
  }
  assert.fail("the render was accepted");
}

describe("the image a stack runs is the image it ran", () => {
  it("keeps the deployed image and its workflow version when the update names no image", async () => {
    const toggled = await renderStack("prod", ["worker.replicas=6"], {
      standInImage: false,
      previousReleases: { current: DEPLOYED, draining: [] },
    });
    const images = meshImages(toggled.objects);
    assert.ok(images.length >= 3, `main, worker and the Job: ${images.length}`);
    assert.deepEqual([...new Set(images)], [DEPLOYED.image]);
    const job = toggled.objects.find((object) => object.kind === "Job");
    const env = Object.fromEntries(
      job?.spec.template.spec.containers[0].env.map((entry: { name: string; value?: string }) => [
        entry.name,
        entry.value,
      ]),
    );
    // The Job checks the image against the version the ledger recorded, not this checkout's.
    assert.equal(env.MESH_EXPECTED_WORKFLOW_VERSION, DEPLOYED.version);
    assert.deepEqual(toggled.outputs.workflowReleases, { current: DEPLOYED, draining: [] });
  });

  it("deploys the image the update names, over the deployed one", async () => {
    const named = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mesh:2.0.0";
    const deploy = await renderStack("prod", [`image=${named}`], {
      standInImage: false,
      previousReleases: { current: DEPLOYED, draining: [] },
    });
    assert.deepEqual(
      [...new Set(meshImages(deploy.objects).filter((image) => image !== DEPLOYED.image))],
      [named],
    );
    assert.deepEqual(deploy.outputs.workflowReleases, {
      current: { version: WORKFLOW_CODE_VERSION, image: named },
      draining: WORKFLOW_CODE_VERSION === DEPLOYED.version ? [] : [DEPLOYED],
    });
  });

  it("refuses a stack's first update without an image, naming mesh:image, and registers nothing", async () => {
    const error = await refusal("prod", [], { standInImage: false });
    assert.match(error.message, /mesh:image: is required on this stack's first update/);
    assert.deepEqual(error.resources, []);
  });

  it("refuses a workflow.version that the kept image does not carry", async () => {
    const error = await refusal("prod", ["workflow.version=mesh-wf-8"], {
      standInImage: false,
      previousReleases: { current: DEPLOYED, draining: [] },
    });
    assert.match(
      error.message,
      /mesh:workflow\.version: is mesh-wf-8, but mesh:image is unset, so this update keeps the deployed image .*carries mesh-wf-7/,
    );
    assert.deepEqual(error.resources, []);
  });
});
