import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { appendFileSync, closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  NATS_API_URL_KEY,
  NATS_MIGRATE_URL_KEY,
  NATS_WORKER_URL_KEY,
} from "../../infra/components/mesh-app.js";
import { unwrapSecrets } from "../../infra/render/kubernetes-objects.js";
import type { RegisteredResource } from "../../infra/render/run-under-mocks.js";
import { freePort } from "./mesh-process.js";
import { readOptional, reapOrphanedRuns } from "./orphan-reaper.js";
import { waitFor } from "./wait.js";

// Real nats-server processes (the pinned build in .tools/bin, scripts/ensure-tools.sh) started from the
// config file the stack renders, with only its addresses and paths moved to this machine: listeners on
// loopback ports, the routes' stable DNS names remapped to those ports, pid file and store in a temp dir.

const DIR_PREFIX = "mesh-nats-servers-";

/** The nats-server binary, or a failure naming how to get it (never a silent skip); checked once. */
let binaryChecked = false;
export function natsServerBinary(): string {
  if (binaryChecked) return "nats-server";
  const found = spawnSync("nats-server", ["--version"], { encoding: "utf8" });
  if (found.error || found.status !== 0)
    throw new Error(
      "nats-server is not on PATH: run the suite through ./dev test (scripts/ensure-tools.sh builds it)",
    );
  binaryChecked = true;
  return "nats-server";
}

/** `nats-server -t`: the real server's verdict on a config file. */
export function checkNatsConfig(
  text: string,
  env: Record<string, string> = {},
): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), "mesh-nats-check-"));
  try {
    writeFileSync(join(dir, "nats.conf"), text);
    const result = spawnSync(natsServerBinary(), ["-t", "-c", join(dir, "nats.conf")], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    return { ok: result.status === 0, output: `${result.stdout}${result.stderr}`.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ServerPorts {
  client: number;
  cluster: number;
  monitor: number;
}

/** Replaces `pattern` in `text`, failing unless it occurred exactly `count` times (a renamed key must not slip by). */
function replaceExactly(text: string, pattern: RegExp, replacement: string, count: number): string {
  const found = text.match(new RegExp(pattern.source, "g"))?.length ?? 0;
  if (found !== count)
    throw new Error(`expected ${count} match(es) of ${pattern} in the rendered config, found ${found}`);
  return text.replace(new RegExp(pattern.source, "g"), replacement);
}

/** The rendered config of one server, moved onto its loopback ports and a temp dir; route i goes to `peers[i]`. */
export function loopbackConfig(
  rendered: string,
  own: ServerPorts,
  peers: ServerPorts[],
  dir: string,
): string {
  let text = rendered;
  text = replaceExactly(text, /listen: "0\.0\.0\.0:4222"/, `listen: "127.0.0.1:${own.client}"`, 1);
  text = replaceExactly(text, /http: "0\.0\.0\.0:8222"/, `http: "127.0.0.1:${own.monitor}"`, 1);
  text = replaceExactly(text, /pid_file: "[^"]+"/, `pid_file: "${join(dir, "nats.pid")}"`, 1);
  text = replaceExactly(text, /store_dir: "[^"]+"/, `store_dir: "${join(dir, "data")}"`, 1);
  if (peers.length > 1) {
    text = replaceExactly(text, /listen: "0\.0\.0\.0:6222"/, `listen: "127.0.0.1:${own.cluster}"`, 1);
    for (const [index, peer] of peers.entries())
      text = replaceExactly(
        text,
        new RegExp(`@[^@"]*-${index}\\.[^:"]+:6222`),
        `@127.0.0.1:${peer.cluster}`,
        1,
      );
  }
  return text;
}

export class NatsServer {
  child?: ChildProcess;
  exited?: Promise<unknown>;
  readonly log: string;

  constructor(
    readonly name: string,
    readonly ports: ServerPorts,
    readonly dir: string,
    readonly configFile: string,
    private readonly pidsFile: string,
  ) {
    this.log = join(dir, "server.log");
  }

  get clientUrl(): string {
    return `nats://127.0.0.1:${this.ports.client}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    // The log file gets the server's log; a config the server refuses is reported on stderr, kept too.
    const stderr = openSync(join(this.dir, "stderr.log"), "a");
    const child = spawn(natsServerBinary(), ["-c", this.configFile, "-l", this.log], {
      env: { PATH: process.env.PATH ?? "", SERVER_NAME: this.name },
      stdio: ["ignore", "ignore", stderr],
    });
    closeSync(stderr);
    appendFileSync(this.pidsFile, `${child.pid} nats-server\n`);
    this.child = child;
    this.exited = once(child, "exit");
  }

  /** The server's stderr and the end of its log, for failure messages. */
  output(): string {
    const tail = (file: string) => readOptional(file).split("\n").slice(-15).join("\n");
    return `${tail(join(this.dir, "stderr.log"))}\n${tail(this.log)}`.trim();
  }

  /** Healthy, or a failure at once naming why if the server exited (a refused config, a crash). */
  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    await waitFor(
      `${this.name} /healthz`,
      async () => {
        if (!this.running) throw new Error(`${this.name} exited: ${this.output()}`);
        return this.healthy();
      },
      { timeoutMs },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${this.output()}`);
    });
  }

  /** GET /healthz (with a query such as `?js-server-only=true`): the probes the StatefulSet uses. */
  async healthy(query = ""): Promise<boolean> {
    const response = await fetch(`http://127.0.0.1:${this.ports.monitor}/healthz${query}`).catch(
      () => undefined,
    );
    return response?.status === 200;
  }

  async monitor<T>(path: string): Promise<T> {
    const response = await fetch(`http://127.0.0.1:${this.ports.monitor}${path}`);
    return (await response.json()) as T;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child?.kill(signal);
  }

  /** What the preStop hook does: lame-duck mode (SIGUSR2), then wait until the server exits by itself. */
  async lameDuckStop(timeoutMs: number): Promise<void> {
    this.kill("SIGUSR2");
    await waitFor(`${this.name} to leave lame-duck mode and exit`, () => !this.running, { timeoutMs });
  }
}

/** A set of servers from one rendered config; `stop()` kills them and removes their folders. */
export class NatsServers {
  /** Servers started beside the set (`startIntruder`), stopped with it. */
  private readonly extras: NatsServer[] = [];

  private constructor(
    readonly servers: NatsServer[],
    private readonly dir: string,
  ) {}

  static async start(rendered: string, count: number): Promise<NatsServers> {
    reapOrphanedRuns(DIR_PREFIX);
    const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
    writeFileSync(join(dir, "owner"), String(process.pid));
    const ports: ServerPorts[] = [];
    for (let index = 0; index < count; index++)
      ports.push({ client: await freePort(), cluster: await freePort(), monitor: await freePort() });
    const servers = ports.map((serverPorts, ordinal) => {
      const serverDir = join(dir, `server-${ordinal}`);
      mkdirSync(serverDir);
      const configFile = join(serverDir, "nats.conf");
      writeFileSync(configFile, loopbackConfig(rendered, serverPorts, ports, serverDir));
      return new NatsServer(`mesh-nats-${ordinal}`, serverPorts, serverDir, configFile, join(dir, "pids"));
    });
    const set = new NatsServers(servers, dir);
    for (const server of servers) server.start();
    process.once("exit", () => set.killAll());
    await set.waitHealthy();
    return set;
  }

  get clientUrls(): string {
    return this.servers.map((server) => server.clientUrl).join(",");
  }

  /** Every running server passes the startup probe's check (`/healthz`: JetStream current). */
  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    for (const server of this.servers) await server.waitHealthy(timeoutMs);
  }

  /** One more server from `rendered` whose routes dial this set's route ports, e.g. with a wrong password. */
  async startIntruder(rendered: string, name: string): Promise<NatsServer> {
    const own = { client: await freePort(), cluster: await freePort(), monitor: await freePort() };
    const serverDir = join(this.dir, name);
    mkdirSync(serverDir);
    const configFile = join(serverDir, "nats.conf");
    const peers = this.servers.map((server) => server.ports);
    writeFileSync(configFile, loopbackConfig(rendered, own, peers, serverDir));
    const server = new NatsServer(name, own, serverDir, configFile, join(this.dir, "pids"));
    this.extras.push(server);
    server.start();
    return server;
  }

  /**
   * Writes a new rendered config for one server of the set (its ports, peers and folder kept), as an
   * update of the config Secret does for a pod; it takes effect at the server's next start.
   */
  reconfigure(server: NatsServer, rendered: string): void {
    const peers = this.servers.map((peer) => peer.ports);
    writeFileSync(server.configFile, loopbackConfig(rendered, server.ports, peers, server.dir));
  }

  killAll(): void {
    for (const server of [...this.servers, ...this.extras]) server.kill("SIGKILL");
  }

  async stop(): Promise<void> {
    this.killAll();
    await Promise.all([...this.servers, ...this.extras].map((server) => server.exited));
    if (!process.env.MESH_KEEP_NATS_SERVERS) rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface WorkloadNatsUrls {
  main: string;
  api: string;
  worker: string;
  migrate: string;
}

/**
 * The NATS URLs Secret `mesh` of a render gives each workload (its user's credentials on the client
 * Service's name), pointed at these loopback servers instead: the credentials on the first, then the rest.
 */
export function workloadNatsUrls(resources: RegisteredResource[], servers: NatsServers): WorkloadNatsUrls {
  const secret = resources.find(
    (resource) => resource.type === "kubernetes:core/v1:Secret" && resource.inputs.metadata?.name === "mesh",
  );
  const data = (unwrapSecrets(secret?.inputs.stringData) ?? {}) as Record<string, string>;
  const local = (key: string) => {
    const url = new URL((data[key] ?? "").split(",")[0] ?? "");
    if (url.username === "") throw new Error(`Secret mesh's ${key} carries no credentials`);
    const [first, ...rest] = servers.clientUrls.split(",");
    return [(first as string).replace("nats://", `nats://${url.username}:${url.password}@`), ...rest].join(
      ",",
    );
  };
  return {
    main: local("NATS_URL"),
    api: local(NATS_API_URL_KEY),
    worker: local(NATS_WORKER_URL_KEY),
    migrate: local(NATS_MIGRATE_URL_KEY),
  };
}
