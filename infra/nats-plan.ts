import type { RunStreamNames, RunStreamSettings } from "../app/stream/run-stream-settings.js";
import { jetStreamFileStoreBytes, type MeshConfig } from "./config.js";
import { durationToSeconds, quantityToBytes } from "./quantity.js";
import { imageVersion, type Resources } from "./topology.js";

// mesh's NATS as plain data: the servers (when mesh runs them) and the run stream's size. The component
// (infra/components/nats.ts) turns it into objects and nats-server-config.ts into the servers' config file.

export const NATS_NAME = "mesh-nats";
export const NATS_PORTS = { client: 4222, cluster: 6222, monitor: 8222 } as const;
/** The user the servers' cluster routes authenticate as (its password is a Pulumi random secret). */
export const NATS_ROUTE_USER = "mesh-route";
/** The account mesh's clients live in: JetStream on, nothing shared with any other account. */
export const NATS_ACCOUNT = "MESH";

/** One NATS user per workload, each with a Pulumi random password (Secret `mesh`). */
export const NATS_USERS = {
  main: "mesh-main",
  api: "mesh-api",
  worker: "mesh-worker",
  migrate: "mesh-migrate",
} as const;
export type NatsUserRole = keyof typeof NATS_USERS;
export const NATS_USER_ROLES = Object.keys(NATS_USERS) as NatsUserRole[];

/**
 * A workload's user in a credential generation (`nats.credentialGeneration`): generation 0 is the
 * plain name, so stacks that never rotated keep their users; later ones carry their number.
 */
export function natsUserName(role: NatsUserRole, generation: number): string {
  return generation === 0 ? NATS_USERS[role] : `${NATS_USERS[role]}-g${generation}`;
}

/**
 * The credential generations the servers accept: the stack's, and the previous one while pods still
 * roll away from it (an update rolls the servers before the pods, so no pod ever holds a user its
 * server lacks).
 */
export function acceptedNatsGenerations(generation: number): number[] {
  return generation === 0 ? [0] : [generation - 1, generation];
}

export interface NatsPermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
}

/**
 * What each workload may do on NATS, and nothing more (JetStream's API is subjects, so permissions are
 * subject lists). No user may delete or purge the stream, or create another one; only the migration may
 * create or update this deployment's stream.
 * - worker: publish its runs' chunks and `done` (the ack of `done` comes back on its inbox);
 * - main (role all, states 1 and 2): read run streams — a live subscription and an ordered consumer — and,
 *   since role all also executes runs, publish chunks;
 * - api (the same main pods in role api, state 3): read run streams only — never publish a chunk. The main
 *   pods hold both URLs in every state and the role picks one, so 2 → 3 stays a change of the role alone;
 * - migrate: create, update and read the stream.
 */
export function natsPermissions(names: RunStreamNames): Record<NatsUserRole, NatsPermissions> {
  const api = (call: string) => `$JS.API.${call}`;
  const stream = names.stream;
  const inbox = "_INBOX.>";
  const common = [api("INFO"), api(`STREAM.INFO.${stream}`)];
  const readRuns = [
    ...common,
    api(`STREAM.MSG.GET.${stream}`),
    api(`DIRECT.GET.${stream}`),
    api(`DIRECT.GET.${stream}.>`),
    api(`CONSUMER.CREATE.${stream}`),
    api(`CONSUMER.CREATE.${stream}.>`),
    api(`CONSUMER.INFO.${stream}.*`),
    api(`CONSUMER.DELETE.${stream}.*`),
    api(`CONSUMER.MSG.NEXT.${stream}.*`),
    `$JS.ACK.${stream}.>`,
    "$JS.FC.>",
  ];
  return {
    worker: { publish: { allow: [names.subjects, ...common] }, subscribe: { allow: [inbox] } },
    main: {
      publish: { allow: [names.subjects, ...readRuns] },
      subscribe: { allow: [names.subjects, inbox] },
    },
    api: { publish: { allow: readRuns }, subscribe: { allow: [names.subjects, inbox] } },
    migrate: {
      publish: { allow: [...common, api(`STREAM.CREATE.${stream}`), api(`STREAM.UPDATE.${stream}`)] },
      subscribe: { allow: [inbox] },
    },
  };
}

/** Seconds after lame-duck mode starts before the server begins closing client connections. */
export const LAME_DUCK_GRACE_SECONDS = 10;
/** Seconds the kubelet grants beyond lame-duck mode for the server to flush and exit. */
const EXIT_MARGIN_SECONDS = 20;

export interface NatsServersPlan {
  /** StatefulSet and client Service name; the headless Service is `<name>-headless`. */
  name: string;
  headlessServiceName: string;
  replicas: number;
  image: string;
  selectorLabels: Record<string, string>;
  labels: Record<string, string>;
  resources: Resources;
  /** GOMEMLIMIT: 90% of the memory limit, so the Go runtime collects before the kernel kills it. */
  goMemLimit: string;
  storageClassName?: string;
  fileStorageSize: string;
  jetstream: { maxFileStoreBytes: number; maxMemoryStoreBytes: number };
  lameDuckDurationSeconds: number;
  lameDuckGracePeriodSeconds: number;
  /** Long enough for the whole lame-duck period, then a clean exit. */
  terminationGracePeriodSeconds: number;
  /** A cluster of its own (routes between the pods) from 3 servers up; a single server has none. */
  clustered: boolean;
  /** The workloads' credential generation (nats.credentialGeneration). */
  credentialGeneration: number;
}

export interface NatsPlan {
  /** mesh's own servers; undefined when the stack uses an external NATS. */
  servers?: NatsServersPlan;
  /** The run stream the release's migration converges. */
  stream: RunStreamSettings;
}

export function planNats(config: MeshConfig): NatsPlan {
  const nats = config.nats;
  const managed = nats.mode === "managed";
  const stream: RunStreamSettings = {
    replicas: nats.stream.replicas ?? (managed ? Math.min(3, nats.replicas) : 1),
    maxAgeMs: durationToSeconds(nats.stream.maxAge) * 1000,
    maxBytes:
      nats.stream.maxBytes !== undefined
        ? quantityToBytes(nats.stream.maxBytes)
        : managed
          ? Math.floor(quantityToBytes(nats.jetstream.fileStorageSize) / 2)
          : 1024 ** 3,
  };
  if (!managed) return { stream };

  const selectorLabels = {
    "app.kubernetes.io/name": NATS_NAME,
    "app.kubernetes.io/instance": config.namespace,
  };
  const memoryLimit = quantityToBytes(nats.resources.limits?.memory ?? nats.resources.requests.memory);
  return {
    stream,
    servers: {
      name: NATS_NAME,
      headlessServiceName: `${NATS_NAME}-headless`,
      replicas: nats.replicas,
      image: nats.image,
      selectorLabels,
      labels: {
        ...selectorLabels,
        "app.kubernetes.io/component": "nats",
        "app.kubernetes.io/part-of": "mesh",
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/version": imageVersion(nats.image),
      },
      resources: nats.resources,
      goMemLimit: `${Math.floor((memoryLimit * 0.9) / 2 ** 20)}MiB`,
      storageClassName: nats.storageClassName,
      fileStorageSize: nats.jetstream.fileStorageSize,
      jetstream: {
        maxFileStoreBytes: jetStreamFileStoreBytes(nats.jetstream.fileStorageSize),
        maxMemoryStoreBytes: quantityToBytes(nats.jetstream.memoryStorageSize),
      },
      lameDuckDurationSeconds: nats.lameDuckDurationSeconds,
      lameDuckGracePeriodSeconds: Math.min(LAME_DUCK_GRACE_SECONDS, nats.lameDuckDurationSeconds - 1),
      terminationGracePeriodSeconds: nats.lameDuckDurationSeconds + EXIT_MARGIN_SECONDS,
      clustered: nats.replicas >= 3,
      credentialGeneration: nats.credentialGeneration,
    },
  };
}

/** The stable DNS name of server `ordinal` (the headless Service gives each StatefulSet pod one). */
export function natsServerHost(servers: NatsServersPlan, namespace: string, ordinal: number): string {
  return `${servers.name}-${ordinal}.${servers.headlessServiceName}.${namespace}.svc.cluster.local`;
}

/** The URL mesh's pods use: the client Service, which routes to ready servers only. */
export function natsClientUrl(servers: NatsServersPlan, namespace: string): string {
  return `nats://${servers.name}.${namespace}.svc.cluster.local:${NATS_PORTS.client}`;
}
