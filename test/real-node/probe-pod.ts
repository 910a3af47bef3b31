// A pod that is not mesh's, for the network tests: it listens on a TCP port and, through `kubectl exec`,
// opens connections to whatever a test names, so a test sees what a pod of another tenant (or a
// compromised one) can reach, and what can reach it. Any pod with node in its image can dial, mesh's too.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { ControlPlane } from "../control-plane/control-plane.js";
import { waitFor } from "../support/wait.js";
import { createObject } from "./host-helpers.js";

/** What one connection attempt came to: "connected", "timed out", or the socket error's code. */
export type ConnectOutcome = string;

/** How long a dial waits: a NetworkPolicy drop shows as a timeout; a connect here takes milliseconds. */
const CONNECT_TIMEOUT_MS = 3_000;
/** Run by `node -e` inside the pod; argv: host, port, timeout. */
const DIAL = `const [host, port, timeout] = process.argv.slice(1);
const socket = require("node:net").connect({ host, port: Number(port), timeout: Number(timeout) });
const done = (outcome) => { console.log(outcome); socket.destroy(); };
socket.on("connect", () => done("connected"));
socket.on("timeout", () => done("timed out"));
socket.on("error", (error) => done(error.code ?? String(error)));`;

export interface ProbePod {
  namespace: string;
  name: string;
  ip: string;
  port: number;
}

/** Creates namespace `namespace` (when missing) and a pod in it serving TCP on `port`; resolves once it runs. */
export async function startProbePod(
  cluster: ControlPlane,
  options: { namespace: string; name: string; image: string; port: number },
): Promise<ProbePod> {
  const { namespace, name, port } = options;
  await createObject(cluster, "probe pod", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: namespace },
  });
  await createObject(cluster, "probe pod", `/api/v1/namespaces/${namespace}/pods`, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app: name } },
    spec: {
      terminationGracePeriodSeconds: 0,
      automountServiceAccountToken: false,
      containers: [
        {
          name: "probe",
          image: options.image,
          imagePullPolicy: "Never",
          command: [
            "node",
            "-e",
            `require("node:net").createServer((socket) => socket.end()).listen(${port})`,
          ],
          ports: [{ containerPort: port }],
          securityContext: { runAsUser: 1000, runAsNonRoot: true, allowPrivilegeEscalation: false },
        },
      ],
    },
  });
  const ip = await waitFor(
    `probe pod ${namespace}/${name} running`,
    async () => {
      const { body } = await cluster.api<{ status?: { phase?: string; podIP?: string } }>(
        "GET",
        `/api/v1/namespaces/${namespace}/pods/${name}`,
      );
      return body.status?.phase === "Running" ? body.status.podIP : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  return { namespace, name, ip, port };
}

/** One TCP connection from inside pod `namespace/pod` (its first container) to host:port. */
export async function connectFrom(
  cluster: ControlPlane,
  from: { namespace: string; name: string },
  host: string,
  port: number,
): Promise<ConnectOutcome> {
  const { stdout } = await promisify(execFile)(
    "kubectl",
    [
      "--kubeconfig",
      cluster.kubeconfigPath,
      "-n",
      from.namespace,
      "exec",
      from.name,
      "--",
      "node",
      "-e",
      DIAL,
      host,
      String(port),
      String(CONNECT_TIMEOUT_MS),
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
  return stdout.trim();
}
