import { chmod, chown, copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalPostgres } from "../../scripts/embedded-postgres.js";
import { freePort } from "./mesh-process.js";
import type { TestCa } from "./test-ca.js";

export interface TlsPostgres {
  /** The owner's URL on `localhost` (the name the server certificate carries), without TLS parameters. */
  ownerUrl: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * A real Postgres (embedded-postgres's binaries, its own data directory and port) that serves TLS with a
 * certificate from `ca` and refuses every connection to database `mesh` that is not TLS (`hostnossl`
 * reject), as RDS with rds.force_ssl does. Its certificate names only the hosts `ca` was made for.
 */
export async function startTlsPostgres(ca: TestCa): Promise<TlsPostgres> {
  const root = await mkdtemp(join(tmpdir(), "mesh-tls-postgres-"));
  await chmod(root, 0o755);
  const port = await freePort();
  const server = await startLocalPostgres(root, port, {
    persistent: false,
    postgresFlags: ["-c", "ssl=on", "-c", "ssl_cert_file=server.pem", "-c", "ssl_key_file=server.key"],
    afterInitialise: async (databaseDir, owner) => {
      // Postgres reads the key only if its owner alone can (0600, owned by the server's user).
      for (const [from, to] of [
        [ca.serverCertFile, "server.pem"],
        [ca.serverKeyFile, "server.key"],
      ] as const) {
        const target = join(databaseDir, to);
        await copyFile(from, target);
        await chmod(target, 0o600);
        if (owner) await chown(target, owner.uid, owner.gid);
      }
      const hba = join(databaseDir, "pg_hba.conf");
      // Database `mesh` only: embedded-postgres creates it over a plain connection to `postgres`.
      await writeFile(hba, `hostnossl mesh all all reject\n${await readFile(hba, "utf8")}`);
    },
  });
  const url = new URL(server.databaseUrl);
  url.hostname = "localhost";
  return {
    ownerUrl: url.toString(),
    port,
    stop: async () => {
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
