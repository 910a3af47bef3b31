import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export interface MockStackConfig {
  stack: string;
  /** Flat Pulumi config for setAllConfig: `mesh:worker` → JSON string. */
  config: Record<string, string>;
  secretKeys: string[];
}

export interface LoadStackOptions {
  /** Repository root holding Pulumi.<stack>.yaml. */
  root: string;
  /** `--set` style overrides: `worker.enabled=true`, `dispatchRole=api`, `aws:region=us-east-1`. */
  overrides?: string[];
  /** Values for secret keys (`apiToken` → value): encrypted stack secrets cannot be decrypted offline. */
  secrets?: Record<string, string>;
  /**
   * Stand in for `apiToken` on an eks stack when neither the file nor `secrets` sets it (default true): it
   * is required there, but usually set with `pulumi config set --secret` by the deployer, not committed.
   */
  standInApiToken?: boolean;
  /**
   * Stand in for `image` when neither the file nor an override sets it (default true): the committed
   * stack files leave it to CI's deploy (infra/deployed-image.ts), so a render shows what CI would deploy.
   */
  standInImage?: boolean;
}

/** The image an offline render deploys when the stack file names none: a build in the mock AWS account. */
export const CI_IMAGE_STAND_IN = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mesh:0.1.0";

/** Placeholder for an encrypted stack secret whose value is not supplied. */
export const SECRET_PLACEHOLDER = "redacted-stack-secret";

function qualified(key: string): string {
  return key.includes(":") ? key : `mesh:${key}`;
}

function parseValue(raw: string): unknown {
  if (raw === "true" || raw === "false") return raw === "true";
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (raw.startsWith("[") || raw.startsWith("{")) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

/** Applies `path=value` to structured config the way `pulumi config set --path` does. */
export function applyOverride(values: Record<string, unknown>, override: string): void {
  const equals = override.indexOf("=");
  if (equals <= 0) throw new Error(`--set ${override}: expected <key.path>=<value>`);
  const path = override.slice(0, equals).split(".");
  const value = parseValue(override.slice(equals + 1));
  const head = qualified(path[0] ?? "");
  if (path.length === 1) {
    values[head] = value;
    return;
  }
  const asObject = (value: unknown) =>
    typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  let node = asObject(values[head]) ?? {};
  values[head] = node;
  for (const segment of path.slice(1, -1)) {
    const next = asObject(node[segment]) ?? {};
    node[segment] = next;
    node = next;
  }
  node[path.at(-1) ?? ""] = value;
}

/** Reads Pulumi.<stack>.yaml into the flat config the mock runtime takes. */
export function loadStackConfig(stack: string, options: LoadStackOptions): MockStackConfig {
  const file = join(options.root, `Pulumi.${stack}.yaml`);
  const document = (parse(readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const values: Record<string, unknown> = structuredClone(document.config ?? {});
  const secretKeys = new Set<string>();
  for (const [key, value] of Object.entries(values)) {
    if (typeof value === "object" && value !== null && "secure" in value) {
      values[key] = SECRET_PLACEHOLDER;
      secretKeys.add(key);
    }
  }
  for (const override of options.overrides ?? []) applyOverride(values, override);
  for (const [key, value] of Object.entries(options.secrets ?? {})) {
    values[qualified(key)] = value;
    secretKeys.add(qualified(key));
  }
  if ((options.standInImage ?? true) && values["mesh:image"] === undefined)
    values["mesh:image"] = CI_IMAGE_STAND_IN;
  const clusterMode = (values["mesh:cluster"] as { mode?: string } | undefined)?.mode ?? "eks";
  if ((options.standInApiToken ?? true) && clusterMode === "eks" && values["mesh:apiToken"] === undefined) {
    values["mesh:apiToken"] = SECRET_PLACEHOLDER;
    secretKeys.add("mesh:apiToken");
  }
  const config = Object.fromEntries(
    Object.entries(values).map(([key, value]) => [
      key,
      typeof value === "string" ? value : JSON.stringify(value),
    ]),
  );
  return { stack, config, secretKeys: [...secretKeys] };
}
