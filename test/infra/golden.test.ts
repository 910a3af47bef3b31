import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderedConfigFiles } from "../../infra/render/config-files.js";
import { helmCharts, toStableYaml } from "../../infra/render/kubernetes-objects.js";
import { validateAgainstOpenApi } from "../../infra/render/kubernetes-schema.js";
import { objectOf, REPO_ROOT, type RenderedStack, renderStack } from "./support.js";

// Golden files: what each committed stack file renders, in stable sorted YAML with secrets redacted.
// To change them on purpose: `npm run golden:update`, then review the diff like any other code.
const GOLDEN_DIR = join(REPO_ROOT, "test", "golden");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

function compareWithGolden(file: string, actual: string): void {
  const path = join(GOLDEN_DIR, file);
  if (UPDATE) {
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  assert.ok(existsSync(path), `${file} is missing: run npm run golden:update`);
  assert.equal(
    actual,
    readFileSync(path, "utf8"),
    `${file} differs from the render: review it, then npm run golden:update`,
  );
}

for (const stack of ["dev", "prod", "local"]) {
  describe(`golden render of stack ${stack}`, () => {
    let rendered: RenderedStack;
    before(async () => {
      // Exactly the committed stack file: no injected test secrets (like `npm run render`).
      rendered = await renderStack(stack, [], { secrets: {} });
    });

    it("matches the committed Kubernetes objects", () => {
      compareWithGolden(`${stack}/kubernetes.yaml`, toStableYaml(rendered.objects));
    });

    it("matches the committed nats-server config (credentials redacted)", () => {
      compareWithGolden(
        `${stack}/nats-server.conf`,
        renderedConfigFiles(rendered.resources)["nats-server.conf"] ?? "(no managed NATS)\n",
      );
    });

    it("matches the committed Helm chart releases", () => {
      compareWithGolden(`${stack}/helm-charts.yaml`, toStableYaml(helmCharts(rendered.resources)));
    });

    it("renders only objects valid against the Kubernetes OpenAPI schema of their kind", async () => {
      const { problems, skipped } = await validateAgainstOpenApi(rendered.objects);
      assert.deepEqual(problems, []);
      assert.deepEqual(skipped, [], "every kind has a schema");
    });
  });
}

describe("OpenAPI validation of rendered objects", () => {
  it("rejects a misspelt field name and a wrongly typed value", async () => {
    const { objects } = await renderStack("dev");
    const deployment = structuredClone(objectOf(objects, "Deployment", "mesh"));
    deployment.spec.template.spec.containers[0].imagePullPolcy = "Always";
    const service = structuredClone(objectOf(objects, "Service", "mesh"));
    service.spec.ports[0].port = "eighty";
    const { problems } = await validateAgainstOpenApi([deployment, service]);
    assert.ok(
      problems.some(
        (problem) => problem.object === "Deployment/mesh" && problem.message.includes("imagePullPolcy"),
      ),
    );
    assert.ok(
      problems.some((problem) => problem.object === "Service/mesh" && /integer|number/.test(problem.message)),
    );
  });

  it("checks KEDA's objects against KEDA's schema: a misspelt field and a wrongly typed value fail", async () => {
    const { objects } = await renderStack("prod");
    const scaledObject = structuredClone(objectOf(objects, "ScaledObject", "mesh-worker"));
    assert.deepEqual((await validateAgainstOpenApi([scaledObject])).problems, []);
    scaledObject.spec.maxReplicaCont = 3;
    const auth = structuredClone(objectOf(objects, "TriggerAuthentication", "mesh-worker-postgres"));
    auth.spec.secretTargetRef[0].key = 42;
    const { problems, skipped } = await validateAgainstOpenApi([scaledObject, auth]);
    assert.deepEqual(skipped, []);
    assert.ok(
      problems.some(
        (problem) =>
          problem.object === "ScaledObject/mesh-worker" && problem.message.includes("maxReplicaCont"),
      ),
      JSON.stringify(problems),
    );
    assert.ok(
      problems.some((problem) => problem.object === "TriggerAuthentication/mesh-worker-postgres"),
      JSON.stringify(problems),
    );
  });
});
