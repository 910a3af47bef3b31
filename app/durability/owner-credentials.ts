import { readFileSync } from "node:fs";

/**
 * The database owner's credentials as a file: on RDS, the master user's secret that RDS keeps (and rotates)
 * in Secrets Manager, mounted into the migration Job's pod alone by the Secrets Store CSI driver under the
 * Job's own AWS identity. Its JSON is RDS's (`{"username": ..., "password": ...}`, other fields ignored).
 * The password never passes through Pulumi, a Kubernetes Secret or an environment variable.
 */
export function withOwnerCredentials(databaseUrl: string, credentialsFile: string): string {
  let text: string;
  try {
    text = readFileSync(credentialsFile, "utf8");
  } catch (error) {
    throw new Error(
      `${credentialsFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
  let credentials: unknown;
  try {
    credentials = JSON.parse(text);
  } catch {
    // Never the text itself: it is a password file.
    throw new Error(`${credentialsFile} is not JSON (expected {"username": ..., "password": ...})`);
  }
  const { username, password } = (credentials ?? {}) as { username?: unknown; password?: unknown };
  if (typeof username !== "string" || username === "" || typeof password !== "string" || password === "")
    throw new Error(`${credentialsFile} lacks a non-empty "username" and "password"`);
  const url = new URL(databaseUrl);
  url.username = encodeURIComponent(username);
  url.password = encodeURIComponent(password);
  return url.toString();
}
