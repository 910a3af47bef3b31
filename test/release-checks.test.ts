// The release's migration Job (`main migrate`) refuses a release before it changes anything: an image
// whose workflow code is not the version the stack deploys it as, or an update that retires a version
// some run still needs (a run with completed steps must finish on its own version's code). Exit code 3,
// which the Job's podFailurePolicy turns into an immediate failure of the update.
import assert from "node:assert/strict";
import { RELEASE_REFUSED_EXIT_CODE } from "../app/durability/release-checks.js";
import { ApiClient } from "./support/api-client.js";
import { type MeshProcess, runMigrateCommand, startMesh, stopAll } from "./support/mesh-process.js";
import { createTestDatabase, dropTestDatabase, NATS_URL, query } from "./support/services.js";
import { waitFor } from "./support/wait.js";

const OLD = "mesh-wf-0";
const env = {
  MESH_EXECUTOR_TIMEOUT_MS: "3000",
  MESH_BUILTIN_TOKENS: "40",
  MESH_BUILTIN_TOKEN_DELAY_MS: "200",
  MESH_CHECKPOINT_EVERY: "2",
  MESH_AUTO_MIGRATE: "false",
};

describe("the migration Job refuses a bad release", () => {
  let databaseUrl: string;
  const processes: MeshProcess[] = [];
  const migrate = (extra: Record<string, string>) =>
    runMigrateCommand({ ...env, DATABASE_URL: databaseUrl, NATS_URL, ...extra });

  before(async () => {
    databaseUrl = await createTestDatabase("release_checks");
    const first = migrate({ MESH_WORKFLOW_VERSION: OLD });
    assert.equal(first.status, 0, first.stderr);
  });
  after(async () => {
    await stopAll(processes);
    await dropTestDatabase(databaseUrl);
  });

  it("refuses an image that carries another workflow version than the stack says", () => {
    const result = migrate({
      MESH_WORKFLOW_VERSION: "mesh-wf-2",
      MESH_EXPECTED_WORKFLOW_VERSION: "mesh-wf-3",
    });
    assert.equal(result.status, RELEASE_REFUSED_EXIT_CODE, result.stderr);
    assert.match(
      result.stderr,
      /release refused: the image carries workflow version mesh-wf-2 but the stack deploys it as mesh-wf-3 \(mesh:workflow\.version\)/,
    );
    const recorded = migrate({
      MESH_WORKFLOW_VERSION: "mesh-wf-3",
      MESH_EXPECTED_WORKFLOW_VERSION: "mesh-wf-3",
    });
    assert.equal(recorded.status, 0, recorded.stderr);
  });

  it("refuses to retire a version while a run with completed steps needs it, naming the run", async () => {
    // A run mid-way on the old version's worker, which then dies: PENDING with steps, version mesh-wf-0.
    const api = await startMesh({
      role: "api",
      databaseUrl,
      natsUrl: NATS_URL,
      env: { ...env, MESH_WORKFLOW_VERSION: OLD },
    });
    const worker = await startMesh({
      role: "worker",
      databaseUrl,
      natsUrl: NATS_URL,
      env: { ...env, MESH_WORKFLOW_VERSION: OLD },
    });
    processes.push(api, worker);
    const runId = await new ApiClient(api.url).createRun("retire-1", "a long answer");
    await waitFor("the run's first checkpoint", async () => {
      const rows = await query(databaseUrl, "SELECT 1 FROM dbos.operation_outputs WHERE workflow_uuid = $1", [
        runId,
      ]);
      return rows.length > 0;
    });
    worker.signal("SIGKILL");

    const refused = migrate({ MESH_RETIRING_WORKFLOW_VERSIONS: OLD });
    assert.equal(refused.status, RELEASE_REFUSED_EXIT_CODE, refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(`cannot retire ${OLD}: .*1 run with completed steps \\(${runId}\\)`),
    );
    assert.match(refused.stderr, /GET \/v1\/queues/);
    // Nothing was changed: the release was refused before the migration.
    const [row] = await query<{ status: string; application_version: string }>(
      databaseUrl,
      "SELECT status, application_version FROM dbos.workflow_status WHERE workflow_uuid = $1",
      [runId],
    );
    assert.equal(row?.application_version, OLD);

    // A version with no such run retires.
    const fine = migrate({ MESH_RETIRING_WORKFLOW_VERSIONS: "mesh-wf-9" });
    assert.equal(fine.status, 0, fine.stderr);
  });

  it("names the variable when the retiring list is malformed", () => {
    const result = migrate({ MESH_RETIRING_WORKFLOW_VERSIONS: "mesh wf 1" });
    assert.equal(result.status, 2);
    assert.match(
      result.stderr,
      /MESH_RETIRING_WORKFLOW_VERSIONS must be workflow versions separated by commas/,
    );
  });
});
