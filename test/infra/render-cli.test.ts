import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { REPO_ROOT } from "./support.js";

// The reviewer's offline preview: `npm run render`, run as a command, without credentials.
const CLI = fileURLToPath(new URL("../../infra/render/cli.ts", import.meta.url));

function render(args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", CLI, ...args], {
    encoding: "utf8",
    cwd: REPO_ROOT,
    timeout: 60_000,
  });
}

describe("npm run render", () => {
  let outDir: string;
  before(() => {
    outDir = mkdtempSync(join(tmpdir(), "mesh-render-"));
  });
  after(() => rmSync(outDir, { recursive: true, force: true }));

  for (const stack of ["dev", "prod", "local"]) {
    it(`writes stack ${stack}'s objects and Helm releases exactly as the golden files`, () => {
      const result = render(["--stack", stack, "--out", outDir]);
      assert.equal(result.status, 0, result.stderr);
      for (const file of ["kubernetes.yaml", "helm-charts.yaml", "nats-server.conf"]) {
        assert.equal(
          readFileSync(join(outDir, stack, file), "utf8"),
          readFileSync(join(REPO_ROOT, "test", "golden", stack, file), "utf8"),
          `${stack}/${file}`,
        );
      }
    });
  }

  it("summarises AWS resources with cloud-computed values labelled, and no secret", () => {
    const aws = readFileSync(join(outDir, "prod", "aws.yaml"), "utf8");
    assert.match(aws, /type: aws:rds\/instance:Instance/);
    assert.match(aws, /endpoint: \(known after apply\)/);
    assert.match(aws, /vpcId: \(known after apply\)/);
    assert.doesNotMatch(aws, /mock/i);
    assert.doesNotMatch(
      readFileSync(join(outDir, "prod", "kubernetes.yaml"), "utf8"),
      /mock-rds-managed-password/,
    );
  });

  it("shows rollout step 1 (workers on) as purely additive", () => {
    const result = render(["--stack", "dev", "--diff-set", "worker.enabled=true"]);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(
      // The migration Job's name hashes the release; any name, as long as it is unchanged.
      result.stdout.replace(/Job\/mesh-dev\/mesh-migrate-[0-9a-f]{10}/, "Job/mesh-dev/<migration job>"),
      [
        "added:     Deployment/mesh-dev/mesh-worker",
        "added:     NetworkPolicy/mesh-dev/mesh-worker",
        "added:     NetworkPolicy/mesh-dev/mesh-worker-kubernetes-api",
        "added:     PodDisruptionBudget/mesh-dev/mesh-worker",
        "added:     Role/mesh-dev/mesh-worker",
        "added:     RoleBinding/mesh-dev/mesh-worker",
        "added:     ServiceAccount/mesh-dev/mesh-worker",
        "added:     ValidatingAdmissionPolicy//mesh-worker-own-pod.mesh-dev",
        "added:     ValidatingAdmissionPolicyBinding//mesh-worker-own-pod.mesh-dev",
        "unchanged: ConfigMap/mesh-dev/mesh-database-ca",
        "unchanged: Deployment/mesh-dev/mesh",
        "unchanged: Job/mesh-dev/<migration job>",
        "unchanged: Namespace//mesh-dev",
        "unchanged: NetworkPolicy/mesh-dev/default-deny",
        "unchanged: NetworkPolicy/mesh-dev/mesh-api",
        "unchanged: NetworkPolicy/mesh-dev/mesh-egress",
        "unchanged: NetworkPolicy/mesh-dev/mesh-nats",
        "unchanged: PodDisruptionBudget/mesh-dev/mesh",
        "unchanged: PodDisruptionBudget/mesh-dev/mesh-nats",
        "unchanged: Secret/mesh-dev/mesh",
        "unchanged: Secret/mesh-dev/mesh-nats-config",
        "unchanged: SecretProviderClass/mesh-dev/mesh-database-owner",
        "unchanged: Service/mesh-dev/mesh",
        "unchanged: Service/mesh-dev/mesh-nats",
        "unchanged: Service/mesh-dev/mesh-nats-headless",
        "unchanged: ServiceAccount/mesh-dev/mesh-migrate",
        "unchanged: ServiceAccount/mesh-dev/mesh-nats",
        "unchanged: StatefulSet/mesh-dev/mesh-nats",
        "",
      ].join("\n"),
    );
  });

  it("shows rollout step 2 (dispatchRole=api) as a one-line env change of the main Deployment", () => {
    const result = render([
      "--stack",
      "dev",
      "--set",
      "worker.enabled=true",
      "--diff-set",
      "dispatchRole=api",
    ]);
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trim().split("\n");
    assert.deepEqual(lines.slice(0, 2), [
      "changed:   Deployment/mesh-dev/mesh",
      "             spec.template.spec.containers[mesh].env[MESH_DISPATCH_ROLE].value: all -> api",
    ]);
    assert.ok(
      lines.slice(2).every((line) => line.startsWith("unchanged: ")),
      result.stdout,
    );
  });

  it("diffs two stacks", () => {
    const result = render(["--stack", "dev", "--diff-stack", "prod"]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^added: {5}Deployment\/mesh-prod\/mesh-worker$/m);
    assert.match(result.stdout, /^removed: {3}Deployment\/mesh-dev\/mesh$/m);
  });

  it("refuses an invalid config with the key named, and writes nothing", () => {
    const result = render(["--stack", "dev", "--set", "dispatchRole=api", "--out", join(outDir, "invalid")]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /mesh:dispatchRole: dispatchRole=api requires worker\.enabled=true/);
    assert.throws(() => readFileSync(join(outDir, "invalid", "dev", "kubernetes.yaml")));
  });
});
