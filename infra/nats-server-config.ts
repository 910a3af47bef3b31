import { runStreamNames } from "../app/stream/run-stream-settings.js";
import {
  NATS_ACCOUNT,
  NATS_PORTS,
  NATS_ROUTE_USER,
  NATS_USER_ROLES,
  type NatsServersPlan,
  type NatsUserRole,
  natsPermissions,
  natsServerHost,
  natsUserName,
} from "./nats-plan.js";

// The nats-server configuration file of mesh's NATS, as a pure rendering of the plan: the component
// mounts exactly this text, the golden shows it (credentials redacted), and the suite feeds it to the
// real server (`nats-server -t`, and a three-server cluster).

/** Paths inside the server's container. */
export const NATS_PATHS = {
  configDir: "/etc/nats",
  configFile: "/etc/nats/nats.conf",
  pidDir: "/var/run/nats",
  pidFile: "/var/run/nats/nats.pid",
  dataDir: "/data",
} as const;

export interface NatsCredentials {
  /** Password of the cluster-route user: a server that lacks it cannot join the cluster. */
  routePassword: string;
  /** Each accepted credential generation's password per workload, for the users of account MESH. */
  generations: { generation: number; userPasswords: Record<NatsUserRole, string> }[];
}

/** One config value: strings quoted, numbers bare, `$NAME` an environment reference, blocks nested. */
type ConfigValue =
  | string
  | number
  | boolean
  | { env: string }
  | ConfigValue[]
  | { [key: string]: ConfigValue };

export function renderNatsServerConfig(
  servers: NatsServersPlan,
  namespace: string,
  credentials: NatsCredentials,
): string {
  const permissions = natsPermissions(runStreamNames(namespace));
  const config: Record<string, ConfigValue> = {
    // The pod's name (downward API): stable across restarts, so JetStream keeps its RAFT identity.
    server_name: { env: "SERVER_NAME" },
    listen: `0.0.0.0:${NATS_PORTS.client}`,
    http: `0.0.0.0:${NATS_PORTS.monitor}`,
    pid_file: NATS_PATHS.pidFile,
    lame_duck_duration: `${servers.lameDuckDurationSeconds}s`,
    lame_duck_grace_period: `${servers.lameDuckGracePeriodSeconds}s`,
    jetstream: {
      store_dir: NATS_PATHS.dataDir,
      max_file_store: servers.jetstream.maxFileStoreBytes,
      max_memory_store: servers.jetstream.maxMemoryStoreBytes,
    },
    // Every client authenticates (no anonymous user) into mesh's account, with its workload's permissions.
    accounts: {
      [NATS_ACCOUNT]: {
        jetstream: "enabled",
        // Every accepted generation's users, with the same permissions per workload.
        users: credentials.generations.flatMap(({ generation, userPasswords }) =>
          NATS_USER_ROLES.map((role) => ({
            user: natsUserName(role, generation),
            password: userPasswords[role],
            permissions: permissions[role] as unknown as ConfigValue,
          })),
        ),
      },
    },
  };
  if (servers.clustered) {
    const routeCredentials = `${NATS_ROUTE_USER}:${encodeURIComponent(credentials.routePassword)}`;
    config.cluster = {
      name: servers.name,
      listen: `0.0.0.0:${NATS_PORTS.cluster}`,
      authorization: { user: NATS_ROUTE_USER, password: credentials.routePassword, timeout: 2 },
      // Every server's stable name, its own included (a server recognises and skips itself).
      routes: Array.from(
        { length: servers.replicas },
        (_, ordinal) =>
          `nats://${routeCredentials}@${natsServerHost(servers, namespace, ordinal)}:${NATS_PORTS.cluster}`,
      ),
      // Clients reach the servers through the client Service, never by pod addresses gossiped to them.
      no_advertise: true,
      // At first start the peers' names resolve only once their pods exist: keep dialling.
      connect_retries: 120,
    };
  }
  return `# nats-server configuration rendered by mesh (infra/nats-server-config.ts); do not edit by hand.
# A change rolls the servers one at a time (StatefulSet rolling update, each through lame-duck mode).
${renderBlock(config, "")}`;
}

function renderBlock(block: Record<string, ConfigValue>, indent: string): string {
  return Object.entries(block)
    .map(([key, value]) => `${indent}${key}: ${renderValue(value, indent)}\n`)
    .join("");
}

function renderValue(value: ConfigValue, indent: string): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value))
    return `[\n${value.map((item) => `${indent}  ${renderValue(item, `${indent}  `)}\n`).join("")}${indent}]`;
  if ("env" in value && typeof value.env === "string") return `$${value.env}`;
  return `{\n${renderBlock(value as Record<string, ConfigValue>, `${indent}  `)}${indent}}`;
}
