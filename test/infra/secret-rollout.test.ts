import assert from "node:assert/strict";
import { SECRET_REVISION_ANNOTATION } from "../../infra/components/mesh-app.js";
import { unwrapSecrets } from "../../infra/render/kubernetes-objects.js";
import { type RenderedStack, renderStack, resourceOf } from "./support.js";

// Fixture: the dev stack with workers (state 2), rendered with two different API tokens. Changing a
// secret must roll the pods that read Secret `mesh`, without any secret (or a hash of one) in the pods.
const STATE_2 = ["worker.enabled=true"];
const TOKEN_A = "token-a-0b8e41d7c3";
const TOKEN_B = "token-b-5f27ac90e1";

const podTemplate = (stack: RenderedStack, deployment: string) =>
  unwrapSecrets(
    resourceOf(stack.resources, "kubernetes:apps/v1:Deployment", deployment).inputs.spec.template,
  ) as {
    metadata: { annotations: Record<string, string> };
  };

describe("a changed secret rolls the pods that read it", () => {
  let withA: RenderedStack;
  let withB: RenderedStack;
  before(async () => {
    withA = await renderStack("dev", STATE_2, { secrets: { apiToken: TOKEN_A } });
    withB = await renderStack("dev", STATE_2, { secrets: { apiToken: TOKEN_B } });
  });

  for (const deployment of ["mesh-deployment", "mesh-worker-deployment"]) {
    it(`changes the pod template of ${deployment} when the API token changes`, () => {
      const before = podTemplate(withA, deployment);
      const after = podTemplate(withB, deployment);
      assert.notDeepEqual(after, before);
      const revision = (template: typeof before) => template.metadata.annotations[SECRET_REVISION_ANNOTATION];
      assert.ok(revision(before), "the pod template carries the Secret's revision");
      assert.notEqual(revision(after), revision(before));
    });
  }

  it("keeps every secret, and every hash of one, out of the pod templates", () => {
    for (const stack of [withA, withB])
      for (const deployment of ["mesh-deployment", "mesh-worker-deployment"]) {
        const text = JSON.stringify(podTemplate(stack, deployment));
        for (const token of [TOKEN_A, TOKEN_B])
          assert.ok(!text.includes(token), `${deployment} holds the token`);
      }
  });

  it("leaves the pod templates alone when no secret changes", async () => {
    const again = await renderStack("dev", STATE_2, { secrets: { apiToken: TOKEN_A } });
    for (const deployment of ["mesh-deployment", "mesh-worker-deployment"])
      assert.deepEqual(podTemplate(again, deployment), podTemplate(withA, deployment));
  });
});
