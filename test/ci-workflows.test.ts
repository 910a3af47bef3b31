import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

// The GitHub workflows cannot run here; actionlint (installed by scripts/ensure-tools.sh) checks them.
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LOCAL_ACTIONLINT = join(ROOT, ".tools", "bin", "actionlint");
const ACTIONLINT = existsSync(LOCAL_ACTIONLINT) ? LOCAL_ACTIONLINT : "actionlint";

function actionlint(cwd: string, files: string[] = []) {
  const result = spawnSync(ACTIONLINT, ["-no-color", ...files], { cwd, encoding: "utf8" });
  if (result.error)
    throw new Error(`actionlint is not installed (run scripts/ensure-tools.sh): ${result.error.message}`);
  return result;
}

describe("CI workflows for users of this repo", () => {
  it("has tests on PRs, previews with the policy pack, dev on merge and prod behind approval", () => {
    const workflows = readdirSync(join(ROOT, ".github", "workflows")).sort();
    assert.deepEqual(workflows, ["deploy-dev.yml", "deploy-prod.yml", "preview.yml", "test.yml"]);
  });

  it("deploys what was built: dev pushes this commit's image and deploys its digest; prod promotes a digest", () => {
    const workflow = (name: string) =>
      parse(readFileSync(join(ROOT, ".github", "workflows", name), "utf8")) as {
        on: { workflow_dispatch?: { inputs: Record<string, unknown> } };
        jobs: { up: { steps: Array<{ id?: string; uses?: string; with?: Record<string, string> }> } };
      };
    const devSteps = workflow("deploy-dev.yml").jobs.up.steps;
    const build = devSteps.find((step) => step.uses?.startsWith("docker/build-push-action"));
    assert.equal(build?.with?.push, true);
    const devUp = devSteps.find(
      (step) => step.uses?.startsWith("pulumi/actions") && step.with?.command === "up",
    );
    assert.match(
      devUp?.with?.["config-map"] ?? "",
      /"mesh:image".*@\$\{\{ steps\.build\.outputs\.digest \}\}/,
    );
    assert.ok(
      devSteps.indexOf(build as object) < devSteps.indexOf(devUp as object),
      "the image is built before it is deployed",
    );
    const prod = workflow("deploy-prod.yml");
    assert.ok(prod.on.workflow_dispatch?.inputs.image, "prod takes the image to promote");
    const prodUp = prod.jobs.up.steps.find((step) => step.uses?.startsWith("pulumi/actions"));
    assert.match(prodUp?.with?.["config-map"] ?? "", /"mesh:image".*\$\{\{ inputs\.image \}\}/);
  });

  it("gives previews read-only credentials, and no prod credential before a reviewer approves", () => {
    const text = readFileSync(join(ROOT, ".github", "workflows", "preview.yml"), "utf8");
    const preview = parse(text) as {
      on: Record<string, unknown>;
      jobs: Record<
        string,
        {
          environment?: string;
          strategy?: { matrix?: { include?: Array<{ stack: string; environment: string }> } };
          steps: Array<{ uses?: string; with?: Record<string, unknown> }>;
        }
      >;
    };
    // Only pull_request: pull_request_target would run a fork's code with the repository's secrets.
    assert.deepEqual(Object.keys(preview.on), ["pull_request"]);
    const job = preview.jobs.preview;
    assert.ok(job, "the preview job");
    assert.match(
      job.environment ?? "",
      /^\$\{\{ matrix\.environment \}\}$/,
      "each stack's preview runs in an environment",
    );
    assert.deepEqual(job.strategy?.matrix?.include, [
      { stack: "dev", environment: "preview-dev" },
      { stack: "prod", environment: "preview-prod" },
    ]);
    const pulumi = job.steps.filter((step) => step.uses?.startsWith("pulumi/actions"));
    assert.deepEqual(
      pulumi.map((step) => step.with?.command),
      ["preview"],
      "preview is the only Pulumi command",
    );
    const aws = job.steps.find((step) => step.uses?.startsWith("aws-actions/configure-aws-credentials"));
    assert.match(String(aws?.with?.["role-to-assume"]), /^\$\{\{ vars\.AWS_PREVIEW_ROLE_ARN \}\}$/);
    assert.deepEqual(
      [...new Set(text.match(/secrets\.[A-Z_]+/g))],
      ["secrets.PULUMI_ACCESS_TOKEN"],
      "the Pulumi token is the only secret a preview gets",
    );
    assert.doesNotMatch(text, /AWS_DEPLOY_ROLE_ARN/, "never the deploy role");
    for (const name of ["deploy-dev.yml", "deploy-prod.yml"]) {
      const deploy = parse(readFileSync(join(ROOT, ".github", "workflows", name), "utf8")) as {
        jobs: { up: { environment?: string } };
      };
      assert.ok(deploy.jobs.up.environment, `${name} deploys from a protected environment`);
    }
  });

  it("passes actionlint", () => {
    const files = readdirSync(join(ROOT, ".github", "workflows")).map((file) =>
      join(".github", "workflows", file),
    );
    const result = actionlint(ROOT, files);
    assert.equal(result.status, 0, result.stdout + result.stderr);
  });

  it("has a linter that catches a broken workflow", () => {
    const dir = mkdtempSync(join(tmpdir(), "mesh-actionlint-"));
    try {
      mkdirSync(join(dir, ".github", "workflows"), { recursive: true });
      const broken = join(dir, ".github", "workflows", "broken.yml");
      const expression = ["$", "{{ github.nope }}"].join("");
      writeFileSync(
        broken,
        `on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${expression}\n`,
      );
      const result = actionlint(dir, [broken]);
      assert.notEqual(result.status, 0);
      assert.match(result.stdout, /nope/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
