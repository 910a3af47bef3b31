import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { appendFileSync, closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Container,
  type V1Pod,
  type V1Probe,
} from "@kubernetes/client-node";
import { ContainerConfigError, resolveContainerEnv } from "./container-env.js";
import { probeOnce } from "./probes.js";

/** An image as the node holds it: its root folder (its WORKDIR), ENV and CMD. */
export interface ImageFiles {
  root: string;
  env: Record<string, string>;
  cmd: string[];
}

/** What every pod of a node shares: the API, the node's identity, the images it holds and a log folder. */
export interface NodeContext {
  core: CoreV1Api;
  nodeName: string;
  hostIP: string;
  /** The image a container's `image` reference names, if the node holds it (nothing is ever pulled). */
  imageFor(reference: string): ImageFiles | undefined;
  logDir: string;
  pidFile?: string;
}

/** What the drill reads back about a pod after the fact (never its env: that holds secrets). */
export interface PodRecord {
  namespace: string;
  name: string;
  uid: string;
  podIP: string;
  /** MESH_DISPATCH_ROLE as resolved for the container, if it has one. */
  role?: string;
  /** The container's image reference. */
  image: string;
  /** The container's stdout and stderr, every restart appended. */
  logPath: string;
  startedAt: number;
  /** When its process last exited (undefined while it runs). */
  exitedAt?: number;
  exitCodes: number[];
}

const BACKOFF_INITIAL_MS = 10_000;
const BACKOFF_MAX_MS = 300_000;
/** The kubelet's minimum extra grace when preStop ran over the pod's grace period. */
const MINIMUM_GRACE_AFTER_PRESTOP_MS = 2_000;

/**
 * One pod bound to the process node, run as the kubelet would run a one-container pod: env resolved from
 * the API, the container's command started as a process bound to the pod's own loopback address, probes
 * deciding Started and Ready, restarts by restartPolicy with the kubelet's back-off, and graceful deletion
 * (preStop, SIGTERM, the grace period, SIGKILL, then the final delete).
 */
export class PodRuntime {
  readonly record: PodRecord;
  private readonly container: V1Container;
  /** The container's image; undefined while the node does not hold it (the pod waits, ErrImageNeverPull). */
  private image?: ImageFiles;
  private child?: ChildProcess;
  private exited?: Promise<number>;
  /** Bumped at each container start; probe loops of an older process stop. */
  private generation = 0;
  private restartCount = 0;
  private started = false;
  private ready = false;
  private terminating = false;
  private phase: "Pending" | "Running" | "Succeeded" | "Failed" = "Pending";
  private containerState: Record<string, unknown> = { waiting: { reason: "ContainerCreating" } };
  private lastState: Record<string, unknown> = {};
  private readonly startTime = new Date();
  private wakeBackoff?: () => void;
  private statusInFlight?: Promise<void>;
  private statusDirty = false;
  private readonly conditionTimes = new Map<string, { status: string; at: string }>();
  /** Resolves once the pod's process is gone and the pod removed (or left terminal, for Job pods). */
  readonly finished: Promise<void>;

  constructor(
    private readonly node: NodeContext,
    private pod: V1Pod,
    podIP: string,
  ) {
    const containers = pod.spec?.containers ?? [];
    if (containers.length !== 1 || pod.spec?.initContainers?.length)
      throw new Error(`pod ${pod.metadata?.name}: the process node runs pods of exactly one container`);
    this.container = containers[0] as V1Container;
    const name = pod.metadata?.name ?? "";
    const namespace = pod.metadata?.namespace ?? "default";
    this.record = {
      namespace,
      name,
      uid: pod.metadata?.uid ?? "",
      image: this.container.image ?? "",
      podIP,
      logPath: join(node.logDir, `${namespace}_${name}.log`),
      startedAt: Date.now(),
      exitCodes: [],
    };
    this.finished = this.run();
  }

  /** The pod's deletionTimestamp appeared: run the graceful termination (idempotent). */
  terminate(gracePeriodSeconds: number): void {
    if (this.terminating) return;
    this.terminating = true;
    this.wakeBackoff?.();
    void this.gracefulStop(gracePeriodSeconds * 1000);
  }

  /** The pod vanished from the API (a forced deletion): end its process at once. */
  kill(): void {
    this.terminating = true;
    this.wakeBackoff?.();
    this.signal("SIGKILL");
  }

  private get restartPolicy() {
    return this.pod.spec?.restartPolicy ?? "Always";
  }

  private async run(): Promise<void> {
    await this.pushStatus();
    while (!this.terminating) {
      this.image = this.node.imageFor(this.container.image ?? "");
      if (!this.image) {
        // The kubelet's answer for an image it may not pull and does not have; it retries.
        this.containerState = {
          waiting: {
            reason: "ErrImageNeverPull",
            message: `image ${this.container.image} is not present on node ${this.node.nodeName}`,
          },
        };
        await this.pushStatus();
        await this.interruptibleSleep(2_000);
        continue;
      }
      let env: Record<string, string>;
      try {
        env = await resolveContainerEnv(this.node.core, this.pod, this.container, {
          podIP: this.record.podIP,
          hostIP: this.node.hostIP,
        });
      } catch (error) {
        if (!(error instanceof ContainerConfigError)) throw error;
        this.containerState = { waiting: { reason: "CreateContainerConfigError", message: error.message } };
        await this.pushStatus();
        await this.interruptibleSleep(2_000);
        continue;
      }
      this.record.role = env.MESH_DISPATCH_ROLE;
      const exitCode = await this.runContainer(env);
      if (this.terminating) break;
      const restart =
        this.restartPolicy === "Always" || (this.restartPolicy === "OnFailure" && exitCode !== 0);
      if (!restart) {
        this.phase = exitCode === 0 ? "Succeeded" : "Failed";
        await this.pushStatus();
        return;
      }
      const backoff = Math.min(BACKOFF_INITIAL_MS * 2 ** this.restartCount, BACKOFF_MAX_MS);
      this.restartCount += 1;
      this.containerState = {
        waiting: { reason: "CrashLoopBackOff", message: `back-off ${backoff / 1000}s` },
      };
      await this.pushStatus();
      await this.interruptibleSleep(backoff);
    }
    await this.exited;
  }

  /** Starts the container's process and returns its exit code once it ends (128 + signal when killed). */
  private async runContainer(env: Record<string, string>): Promise<number> {
    const [file, ...args] = this.commandLine();
    const log = openSync(this.record.logPath, "a");
    const child = spawn(file as string, args, {
      cwd: this.container.workingDir ?? this.imageFiles.root,
      // The image's ENV, then the container's; PATH is the host's (the image's node is this machine's);
      // HOSTNAME is the pod's name, as in a container. The one addition: the pod's address to bind.
      env: {
        PATH: process.env.PATH ?? "",
        HOSTNAME: this.record.name,
        ...this.imageFiles.env,
        ...env,
        MESH_LISTEN_ADDRESS: this.record.podIP,
      },
      stdio: ["ignore", log, log],
      detached: true, // its own process group, like a container's PID namespace: signals reach all of it
    });
    closeSync(log);
    if (this.node.pidFile && child.pid) appendFileSync(this.node.pidFile, `${child.pid} ${file}\n`);
    this.child = child;
    this.generation += 1;
    this.started = false;
    this.ready = false;
    this.exited = once(child, "exit").then(([code, signal]) =>
      code !== null ? (code as number) : 128 + signalNumber(signal as NodeJS.Signals),
    );
    this.record.exitedAt = undefined;
    this.phase = "Running";
    this.containerState = { running: { startedAt: new Date().toISOString() } };
    await this.pushStatus();
    void this.probeLoops(this.generation);
    const exitCode = await this.exited;
    this.generation += 1; // stops this process's probe loops
    this.record.exitCodes.push(exitCode);
    this.record.exitedAt = Date.now();
    this.started = false;
    this.ready = false;
    const finishedAt = new Date().toISOString();
    this.lastState = { terminated: { exitCode, reason: exitCode === 0 ? "Completed" : "Error", finishedAt } };
    this.containerState = this.lastState;
    await this.pushStatus();
    return exitCode;
  }

  /** command (or the image's CMD) + args, the container runtime's rule (the image has no ENTRYPOINT). */
  private commandLine(): string[] {
    const command = this.container.command?.length ? this.container.command : undefined;
    const args = this.container.args ?? [];
    if (command) return [...command, ...args];
    return args.length ? args : this.imageFiles.cmd;
  }

  /** The image the container runs (present: run() waits for it before starting a process). */
  private get imageFiles(): ImageFiles {
    if (!this.image) throw new Error(`pod ${this.record.name}: its image is not on the node`);
    return this.image;
  }

  /** Startup first; then liveness and readiness, each on its own period, until the process changes. */
  private async probeLoops(generation: number): Promise<void> {
    const current = () => generation === this.generation && !this.terminating;
    const { startupProbe, livenessProbe, readinessProbe } = this.container;
    if (startupProbe) {
      const passed = await this.probeUntil(startupProbe, generation, true);
      if (!passed) {
        if (current()) await this.restartContainer("startup probe failed");
        return;
      }
    }
    if (!current()) return;
    this.started = true;
    if (!readinessProbe) this.ready = true;
    await this.pushStatus();
    if (livenessProbe)
      void this.probeUntil(livenessProbe, generation, false).then(async (passed) => {
        if (!passed && current()) await this.restartContainer("liveness probe failed");
      });
    if (readinessProbe) void this.readinessLoop(readinessProbe, generation);
  }

  /**
   * Runs a probe on its period. `untilSuccess`: returns true at the first success (startup). Otherwise
   * returns false once failureThreshold consecutive failures are reached (liveness).
   */
  private async probeUntil(probe: V1Probe, generation: number, untilSuccess: boolean): Promise<boolean> {
    await sleep((probe.initialDelaySeconds ?? 0) * 1000);
    let failures = 0;
    while (generation === this.generation) {
      const ok = await probeOnce(probe, this.container, this.record.podIP);
      if (generation !== this.generation) return false;
      if (ok && untilSuccess) return true;
      failures = ok ? 0 : failures + 1;
      if (failures >= (probe.failureThreshold ?? 3)) return false;
      await sleep((probe.periodSeconds ?? 10) * 1000);
    }
    return false;
  }

  /** Readiness for the process's whole life (also while terminating, as the kubelet keeps probing). */
  private async readinessLoop(probe: V1Probe, generation: number): Promise<void> {
    await sleep((probe.initialDelaySeconds ?? 0) * 1000);
    let successes = 0;
    let failures = 0;
    while (generation === this.generation) {
      const ok = await probeOnce(probe, this.container, this.record.podIP);
      if (generation !== this.generation) return;
      successes = ok ? successes + 1 : 0;
      failures = ok ? 0 : failures + 1;
      const ready = this.ready
        ? failures < (probe.failureThreshold ?? 3)
        : successes >= (probe.successThreshold ?? 1);
      if (ready !== this.ready) {
        this.ready = ready;
        await this.pushStatus();
      }
      await sleep((probe.periodSeconds ?? 10) * 1000);
    }
  }

  /** A failed startup or liveness probe: the kubelet stops the container gracefully and restarts it. */
  private async restartContainer(reason: string): Promise<void> {
    const grace = (this.pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
    console.error(`process-node: pod ${this.record.name}: ${reason}, restarting its container`);
    this.signal("SIGTERM");
    const stopped = await Promise.race([this.exited?.then(() => true), sleep(grace).then(() => false)]);
    if (!stopped) this.signal("SIGKILL");
  }

  private async gracefulStop(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      const preStop = this.container.lifecycle?.preStop?.exec?.command;
      if (preStop?.length) {
        const [file, ...args] = preStop;
        const hook = spawn(file as string, args, { cwd: this.imageFiles.root, stdio: "ignore" });
        await Promise.race([once(hook, "exit"), sleep(Math.max(0, deadline - Date.now()))]);
        hook.kill("SIGKILL");
      }
      this.signal("SIGTERM");
      const remaining = Math.max(deadline - Date.now(), MINIMUM_GRACE_AFTER_PRESTOP_MS);
      const stopped = await Promise.race([this.exited?.then(() => true), sleep(remaining).then(() => false)]);
      if (!stopped) this.signal("SIGKILL");
    }
    await this.finished.catch(() => undefined);
    // Terminal phase first (the kubelet reports it before the final delete), then the delete itself.
    if (this.phase === "Running" || this.phase === "Pending")
      this.phase = this.record.exitCodes.at(-1) === 0 ? "Succeeded" : "Failed";
    await this.pushStatus();
    await this.node.core
      .deleteNamespacedPod({
        name: this.record.name,
        namespace: this.record.namespace,
        gracePeriodSeconds: 0,
        // In the body too: the typed client's query parameter alone did not reach the API server as 0.
        body: { gracePeriodSeconds: 0, preconditions: { uid: this.record.uid } },
      })
      .catch((error: { code?: number }) => {
        if (error.code !== 404 && error.code !== 409)
          console.error(`process-node: delete ${this.record.name}: ${String(error)}`);
      });
  }

  private signal(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (!pid || this.child?.exitCode !== null || this.child?.signalCode !== null) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  }

  private async interruptibleSleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeBackoff = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeBackoff = undefined;
  }

  /** Sends the pod's status; patches are serialised and coalesced, the latest state always wins. */
  private pushStatus(): Promise<void> {
    this.statusDirty = true;
    if (!this.statusInFlight) {
      this.statusInFlight = (async () => {
        while (this.statusDirty) {
          this.statusDirty = false;
          await this.node.core
            .patchNamespacedPodStatus(
              { name: this.record.name, namespace: this.record.namespace, body: { status: this.status() } },
              setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
            )
            .catch((error: { code?: number }) => {
              if (error.code !== 404)
                console.error(`process-node: status of ${this.record.name}: ${String(error)}`);
            });
        }
        this.statusInFlight = undefined;
      })();
    }
    return this.statusInFlight;
  }

  private status() {
    const condition = (type: string, value: boolean) => {
      const status = value ? "True" : "False";
      const previous = this.conditionTimes.get(type);
      if (previous?.status !== status)
        this.conditionTimes.set(type, { status, at: new Date().toISOString() });
      return { type, status, lastTransitionTime: this.conditionTimes.get(type)?.at };
    };
    const running = this.phase === "Running";
    return {
      phase: this.phase,
      hostIP: this.node.hostIP,
      hostIPs: [{ ip: this.node.hostIP }],
      podIP: this.record.podIP,
      podIPs: [{ ip: this.record.podIP }],
      startTime: this.startTime.toISOString(),
      conditions: [
        condition("PodReadyToStartContainers", true),
        condition("Initialized", true),
        condition("ContainersReady", running && this.ready),
        condition("Ready", running && this.ready),
        condition("PodScheduled", true),
      ],
      containerStatuses: [
        {
          name: this.container.name,
          image: this.container.image,
          imageID: `process-node://${this.container.image}`,
          containerID: this.child?.pid ? `process://${this.child.pid}` : undefined,
          started: this.started,
          ready: running && this.ready,
          restartCount: this.restartCount,
          state: this.containerState,
          lastState: this.lastState,
        },
      ],
    };
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return (
    ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0
  );
}
