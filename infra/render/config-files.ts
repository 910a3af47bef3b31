import { NATS_CONFIG_KEY } from "../components/nats.js";
import { REDACTED, unwrapSecrets } from "./kubernetes-objects.js";
import type { RegisteredResource } from "./run-under-mocks.js";

// Config files mesh renders for other programs (nats-server's), as they are mounted — with every
// credential redacted, so a reviewer reads the whole file in the golden and the render's output.

/** Credentials inside a nats-server config: `password: "..."` values and `user:password@` in route URLs. */
export function redactNatsCredentials(text: string): string {
  return text
    .replace(/(\bpassword: )"[^"]*"/g, `$1"${REDACTED}"`)
    .replace(/(nats:\/\/[^:/@\s"]+:)[^@\s"]+@/g, `$1${REDACTED}@`);
}

/** The plaintext nats-server config of a render's NATS Secret (tests run the real server on it). */
export function natsServerConfigText(resources: RegisteredResource[]): string | undefined {
  for (const resource of resources) {
    if (resource.type !== "kubernetes:core/v1:Secret") continue;
    const data = unwrapSecrets(resource.inputs.stringData) as Record<string, string> | undefined;
    if (data?.[NATS_CONFIG_KEY] !== undefined) return data[NATS_CONFIG_KEY];
  }
  return undefined;
}

/** File name → content of every config file the render holds, credentials redacted. */
export function renderedConfigFiles(resources: RegisteredResource[]): Record<string, string> {
  const nats = natsServerConfigText(resources);
  return nats === undefined ? {} : { "nats-server.conf": redactNatsCredentials(nats) };
}
