// What the process node could not see (#19 item 4), on a real node: mesh's image under the rendered
// securityContext, cluster DNS (and its outage), `kubectl logs` and `kubectl exec`, and the network's
// safety (the pod and service ranges end on this machine), and the NetworkPolicies enforced (#17 item 4).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { InClusterApi, POD_DELETION_COST_ANNOTATION } from "../../app/scale-in/in-cluster-api.js";
import { HTTP_PORT } from "../../infra/components/mesh-app.js";
import { WORKER_SERVICE_ACCOUNT } from "../../infra/components/worker-deletion-cost.js";
import { NATS_NAME, NATS_PORTS } from "../../infra/nats-plan.js";
import type { ControlPlane } from "../control-plane/control-plane.js";
import { scaleClusterDns } from "../real-node/cluster-dns.js";
import { createObject } from "../real-node/host-helpers.js";
import { NATS_HOST, POSTGRES_HOST } from "../real-node/host-services.js";
import { type ConnectOutcome, connectFrom, startProbePod } from "../real-node/probe-pod.js";
import { ApiClient } from "../support/api-client.js";
import { expectedOutput } from "../support/run-checks.js";
import { query } from "../support/services.js";
import { waitFor } from "../support/wait.js";
import { waitForDeploymentsAvailable } from "./drill/cluster-operations.js";
import {
  type RealDrillEnvironment,
  realNodeResources,
  startRealDrillEnvironment,
} from "./drill/real-drill-environment.js";
import { setPathConfig, stepRecorder } from "./support/engine-stack.js";
import { renderOffline, stackShape } from "./support/stack-shapes.js";

const STACK = "real-node";
const NAMESPACE = `mesh-${STACK}`;
const TOKENS = 32;
const WORKER_CONCURRENCY = 4;

interface PodList {
  items: {
    metadata: {
      name: string;
      uid: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
      deletionTimestamp?: string;
    };
    status?: {
      phase?: string;
      podIP?: string;
      conditions?: { type: string; status: string }[];
      containerStatuses?: { restartCount: number; ready: boolean }[];
    };
  }[];
}

describe("real node: mesh's image on a kubelet, containerd, CNI, kube-proxy and CoreDNS", () => {
  let drill: RealDrillEnvironment;
  let cluster: ControlPlane;
  const apiToken = randomBytes(16).toString("hex");
  const shape = stackShape("dev", {
    "worker.enabled": true,
    "worker.replicas": 1,
    "worker.concurrency": WORKER_CONCURRENCY,
    "api.replicas": 1,
    // One node on this machine's 2 cores; the `all` pod's limit leaves room for the runs it takes over.
    "api.resources": realNodeResources("1Gi"),
    "worker.resources": realNodeResources("512Mi"),
    "extraEnv.MESH_BUILTIN_TOKENS": String(TOKENS),
    "extraEnv.MESH_BUILTIN_TOKEN_DELAY_MS": "50",
  });
  const kubectl = async (...args: string[]) =>
    (
      await promisify(execFile)(
        "kubectl",
        ["--kubeconfig", cluster.kubeconfigPath, "-n", NAMESPACE, ...args],
        {
          encoding: "utf8",
        },
      )
    ).stdout;
  const pods = async (role?: string) =>
    (await cluster.api<PodList>("GET", `/api/v1/namespaces/${NAMESPACE}/pods`)).body.items.filter(
      (pod) =>
        !pod.metadata.deletionTimestamp &&
        pod.status?.phase === "Running" &&
        pod.metadata.labels?.["app.kubernetes.io/component"] !== "migration" &&
        (role === undefined || pod.metadata.name.includes(role)),
    );

  const deletionCostOf = async (pod: string) =>
    (await cluster.api<PodList["items"][number]>("GET", `/api/v1/namespaces/${NAMESPACE}/pods/${pod}`)).body
      .metadata.annotations?.[POD_DELETION_COST_ANNOTATION];
  /** The Kubernetes API as the worker pod's own token sees it (a TokenRequest bound to that pod, as the kubelet's). */
  const workerApi = async (pod: string, uid: string) => {
    const { body } = await cluster.api<{ status: { token: string } }>(
      "POST",
      `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${WORKER_SERVICE_ACCOUNT}/token`,
      {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: { expirationSeconds: 600, boundObjectRef: { apiVersion: "v1", kind: "Pod", name: pod, uid } },
      },
    );
    const dir = mkdtempSync(join(tmpdir(), "mesh-worker-token-"));
    writeFileSync(join(dir, "token"), body.status.token);
    copyFileSync(cluster.certificates.caCert, join(dir, "ca.crt"));
    const server = new URL(cluster.server);
    return new InClusterApi({ host: server.hostname, port: Number(server.port), serviceAccountDir: dir });
  };
  const upWith = async (values: Record<string, string | number>) => {
    await setPathConfig(drill.stack, values);
    const recorder = stepRecorder();
    const up = await drill.stack.up({ onEvent: recorder.onEvent });
    assert.equal(up.summary.result, "succeeded", recorder.diagnostics.join("\n"));
    // The update is applied; the rollout it started is the controllers' (the old pods go, the new ones ready).
    await waitFor("every Deployment to observe its update", async () =>
      (
        await cluster.api<{
          items: { metadata: { generation: number }; status: { observedGeneration?: number } }[];
        }>("GET", `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`)
      ).body.items.every(
        (deployment) => deployment.status.observedGeneration === deployment.metadata.generation,
      ),
    );
    await waitForDeploymentsAvailable(cluster, NAMESPACE);
    // A replaced pod of role all keeps dequeuing through its preStop sleep, until its SIGTERM: gone first.
    await waitFor(
      "the replaced pods to be gone",
      async () =>
        (await cluster.api<PodList>("GET", `/api/v1/namespaces/${NAMESPACE}/pods`)).body.items.every(
          (pod) => !pod.metadata.deletionTimestamp,
        ),
      { timeoutMs: 180_000, intervalMs: 500 },
    );
  };
  const submit = (client: ApiClient, thread: string, count: number) =>
    Promise.all(
      Array.from({ length: count }, (_, index) =>
        client.createRun(`${thread}-${index}`, `${thread} ${index}`),
      ),
    );
  /** How many of `runIds` each executor (pod) holds PENDING right now. */
  const runsHeldBy = async (runIds: string[]) => {
    const rows = await query<{ executor_id: string; held: number }>(
      drill.databaseUrl,
      `SELECT executor_id, count(*)::int AS held FROM dbos.workflow_status
        WHERE workflow_uuid = ANY($1) AND status = 'PENDING' GROUP BY executor_id`,
      [runIds],
    );
    return new Map(rows.map((row) => [row.executor_id, row.held]));
  };

  /**
   * Dials until every outcome is the expected one: the policy controller applies a change (a new pod's
   * address, a new policy) within seconds of seeing it. Fails with the last outcomes after a minute.
   */
  const assertReachability = async (
    measure: () => Promise<Record<string, ConnectOutcome>>,
    expected: Record<string, ConnectOutcome>,
  ) => {
    let outcomes: Record<string, ConnectOutcome> = {};
    const deadline = Date.now() + 60_000;
    do {
      outcomes = await measure();
      if (JSON.stringify(outcomes) === JSON.stringify(expected)) return;
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    } while (Date.now() < deadline);
    assert.deepEqual(outcomes, expected, "reachability a minute after the change");
  };

  before(async function () {
    this.timeout(1_200_000);
    drill = await startRealDrillEnvironment({
      stackName: STACK,
      nodes: [{ name: "node-a", zone: "zone-a" }],
      meshImage: String(shape.values.image),
      shape,
      apiToken,
    });
    cluster = drill.cluster;
  });

  after(async function () {
    this.timeout(300_000);
    await drill?.stop();
  });

  it("lets a worker write its own pod-deletion-cost and nothing else: another pod or another annotation is refused", async () => {
    const [worker] = await pods("worker");
    const main = (await pods()).find((pod) => !pod.metadata.name.includes("worker"));
    assert.ok(worker && main, "a worker and a main pod run");
    // The worker keeps its cost current from start-up (0: idle).
    await waitFor("the worker's pod-deletion-cost", async () => deletionCostOf(worker.metadata.name), {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    // The token the kubelet gives this pod: the worker's ServiceAccount, bound to the worker's pod.
    const asWorker = await workerApi(worker.metadata.name, worker.metadata.uid);
    await asWorker.patchPodAnnotations(NAMESPACE, worker.metadata.name, {
      [POD_DELETION_COST_ANNOTATION]: "7",
    });
    assert.equal(await deletionCostOf(worker.metadata.name), "7");
    await assert.rejects(
      asWorker.patchPodAnnotations(NAMESPACE, main.metadata.name, { [POD_DELETION_COST_ANNOTATION]: "0" }),
      /403 .*may write only its own pod/,
    );
    await assert.rejects(
      asWorker.patchPodAnnotations(NAMESPACE, worker.metadata.name, { "mesh.example/other": "x" }),
      /403 .*may change only its pod's controller\.kubernetes\.io\/pod-deletion-cost annotation/,
    );
    await assert.rejects(
      asWorker.patchPodAnnotations("default", worker.metadata.name, { [POD_DELETION_COST_ANNOTATION]: "0" }),
      /403 .*forbidden/i,
      "RBAC: no permission outside the namespace",
    );
  });

  // First in the file, after the start-up: it reconfigures the stack and puts the fixture back at the end.
  it("scales in the idle worker, not the newer one in the middle of runs (pod-deletion-cost)", async function () {
    this.timeout(900_000);
    const started = Date.now();
    const timeline: string[] = [];
    const mark = (what: string) => timeline.push(`${((Date.now() - started) / 1000).toFixed(1)} s ${what}`);
    const wait = <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 180_000) =>
      waitFor(what, check, { timeoutMs, intervalMs: 1_000 }).then(
        (value) => {
          mark(what);
          return value;
        },
        async (error: Error) => {
          const runs = await query<{ workflow_uuid: string; status: string; executor_id: string }>(
            drill.databaseUrl,
            "SELECT workflow_uuid, status, executor_id FROM dbos.workflow_status ORDER BY created_at DESC LIMIT 12",
          ).catch((failure: Error) => failure.message);
          const workers = (await pods()).map(
            (pod) => `${pod.metadata.name} ${JSON.stringify(pod.metadata.annotations ?? {})}`,
          );
          assert.fail(
            `${error.message}\ntimeline:\n${timeline.join("\n")}\nlatest runs: ${JSON.stringify(runs)}\npods: ${workers.join("; ")}`,
          );
        },
      );
    // Runs of 32 tokens at 2.5 s: 80 s each, room for a Pulumi update and a new pod on a loaded machine. A
    // worker holds 4 (worker.concurrency); the main pods take none (dispatchRole=api), so where a run goes
    // is up to the workers' free slots alone.
    await upWith({
      "worker.replicas": 1,
      dispatchRole: "api",
      "extraEnv.MESH_BUILTIN_TOKEN_DELAY_MS": "2500",
    });
    mark("one worker, dispatchRole=api, 80-s runs");
    const client = new ApiClient(drill.serviceUrl, apiToken);
    const [older] = await pods("worker");
    assert.ok(older, "one worker runs");
    // The older worker full: every slot holds a run.
    const first = await submit(client, "scale-in-a", WORKER_CONCURRENCY);
    await wait("the older worker holding 4 runs", async () =>
      (await runsHeldBy(first)).get(older.metadata.name) === WORKER_CONCURRENCY ? true : undefined,
    );
    // A newer worker: the runs submitted now can go nowhere else.
    await upWith({ "worker.replicas": 2 });
    const newer = await wait("a second, ready worker", async () =>
      (await pods("worker")).find(
        (pod) =>
          pod.metadata.name !== older.metadata.name &&
          pod.status?.conditions?.some(
            (condition) => condition.type === "Ready" && condition.status === "True",
          ),
      ),
    );
    assert.equal(
      (await runsHeldBy(first)).get(older.metadata.name),
      WORKER_CONCURRENCY,
      `the older worker still full when the newer is ready\n${timeline.join("\n")}`,
    );
    const second = await submit(client, "scale-in-b", 2);
    await wait("the newer worker holding the 2 new runs", async () =>
      (await runsHeldBy(second)).get(newer.metadata.name) === 2 ? true : undefined,
    );
    // The older worker's runs end first: it is idle while the newer one still works.
    await wait("the older worker's runs to finish", async () =>
      (await runsHeldBy(first)).size === 0 ? true : undefined,
    );
    const costs = await wait("both workers' costs current", async () => {
      const [olderCost, newerCost] = [
        await deletionCostOf(older.metadata.name),
        await deletionCostOf(newer.metadata.name),
      ];
      return olderCost === "0" && newerCost === "2" ? { olderCost, newerCost } : undefined;
    });
    assert.equal(
      (await runsHeldBy(second)).get(newer.metadata.name),
      2,
      `the newer worker still holds its runs at scale-in\n${timeline.join("\n")}`,
    );
    await upWith({ "worker.replicas": 1 });
    mark("worker.replicas=1 applied");
    // The one that is gone or going (a deleted idle worker may have exited already).
    const removed = await wait("a worker deleted", async () => {
      const kept = (await cluster.api<PodList>("GET", `/api/v1/namespaces/${NAMESPACE}/pods`)).body.items
        .filter((pod) => pod.metadata.name.includes("worker") && !pod.metadata.deletionTimestamp)
        .map((pod) => pod.metadata.name);
      return kept.length === 1
        ? [older.metadata.name, newer.metadata.name].find((name) => !kept.includes(name))
        : undefined;
    });
    assert.equal(
      removed,
      older.metadata.name,
      `scale-in removed ${removed === newer.metadata.name ? "the newer worker, holding 2 runs" : removed} (costs: older ${costs.olderCost}, newer ${costs.newerCost})\n${timeline.join("\n")}`,
    );
    // Its runs were never interrupted: they finish where they started, none handed back.
    const rows = await wait("the newer worker's runs to finish", async () => {
      const found = await query<{ status: string; executor_id: string }>(
        drill.databaseUrl,
        "SELECT status, executor_id FROM dbos.workflow_status WHERE workflow_uuid = ANY($1)",
        [second],
      );
      return found.every((row) => row.status === "SUCCESS") ? found : undefined;
    });
    assert.deepEqual(
      rows.map((row) => row.executor_id),
      [newer.metadata.name, newer.metadata.name],
    );
    // Back to the file's fixture for the tests after this one: role all, the usual speed.
    await upWith({ dispatchRole: "all", "extraEnv.MESH_BUILTIN_TOKEN_DELAY_MS": "50" });
    console.log(`      scale-in timeline:\n${timeline.map((line) => `        ${line}`).join("\n")}`);
  });

  it("enforces the NetworkPolicies it renders: another namespace's pod reaches no mesh pod, mesh's pods reach nothing of it but Postgres and NATS, monitoring reaches the metrics port", async function () {
    this.timeout(300_000);
    const image = String(shape.values.image);
    // Two pods that are not mesh's: one in a namespace of its own, one in the monitoring namespace.
    const outsider = await startProbePod(cluster, {
      namespace: "outsider",
      name: "outsider",
      image,
      port: 9090,
    });
    const monitoring = await startProbePod(cluster, {
      namespace: "monitoring",
      name: "scraper",
      image,
      port: 9090,
    });
    const [api] = await pods().then((all) => all.filter((pod) => !pod.metadata.name.includes("worker")));
    const [worker] = await pods("worker");
    const [apiIp, workerIp] = [api?.status?.podIP, worker?.status?.podIP];
    assert.ok(api && worker && apiIp && workerIp, "an api and a worker pod with addresses");
    const service = (
      await cluster.api<{ spec: { clusterIP: string; ports: { port: number }[] } }>(
        "GET",
        `/api/v1/namespaces/${NAMESPACE}/services/mesh`,
      )
    ).body.spec;
    const from = (pod: { metadata: { name: string } }) => ({
      namespace: NAMESPACE,
      name: pod.metadata.name,
    });
    await assertReachability(
      async () => ({
        // The control: pods outside mesh's namespace reach each other (no policy selects them).
        "outsider → monitoring pod": await connectFrom(cluster, outsider, monitoring.ip, monitoring.port),
        "outsider → api pod": await connectFrom(cluster, outsider, apiIp, HTTP_PORT),
        "outsider → mesh Service": await connectFrom(
          cluster,
          outsider,
          service.clusterIP,
          service.ports[0]?.port ?? 80,
        ),
        "outsider → worker pod": await connectFrom(cluster, outsider, workerIp, HTTP_PORT),
        "monitoring → api pod": await connectFrom(cluster, monitoring, apiIp, HTTP_PORT),
        "monitoring → worker pod": await connectFrom(cluster, monitoring, workerIp, HTTP_PORT),
        "api pod → outsider": await connectFrom(cluster, from(api), outsider.ip, outsider.port),
        "worker pod → outsider": await connectFrom(cluster, from(worker), outsider.ip, outsider.port),
        // What mesh's egress admits, by cluster DNS name (DNS is admitted too).
        "worker pod → Postgres": await connectFrom(cluster, from(worker), POSTGRES_HOST, 5432),
        "worker pod → NATS": await connectFrom(cluster, from(worker), NATS_HOST, 4222),
      }),
      {
        "outsider → monitoring pod": "connected",
        "outsider → api pod": "ECONNREFUSED",
        "outsider → mesh Service": "ECONNREFUSED",
        "outsider → worker pod": "ECONNREFUSED",
        "monitoring → api pod": "connected",
        "monitoring → worker pod": "connected",
        "api pod → outsider": "ECONNREFUSED",
        "worker pod → outsider": "ECONNREFUSED",
        "worker pod → Postgres": "connected",
        "worker pod → NATS": "connected",
      },
    );
  });

  // mesh's own NATS (nats.mode=managed) cannot be deployed by the real engine here: its passwords are
  // @pulumi/random resources, and the random provider's plugin is not on the Go module proxy (the drills
  // use the machine's NATS). Its policy and its servers' labels come from the offline render of that
  // shape; the server is the real nats-server, in a pod with those labels.
  it("enforces its NATS servers' policy: clients only from mesh's pods, the monitor port only from monitoring, the cluster port from neither", async function () {
    this.timeout(300_000);
    const managed = structuredClone(shape);
    managed.values.nats = { mode: "managed", replicas: 1 };
    delete managed.secrets.natsUrl;
    const rendered = renderOffline(STACK, managed);
    const policy = rendered.find(
      (object) => object.kind === "NetworkPolicy" && object.metadata.name === NATS_NAME,
    );
    const servers = rendered.find(
      (object) => object.kind === "StatefulSet" && object.metadata.name === NATS_NAME,
    );
    assert.ok(policy && servers, "the managed shape renders NATS's StatefulSet and NetworkPolicy");
    await createObject(
      cluster,
      "NATS policy",
      `/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies`,
      {
        apiVersion: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: { name: policy.metadata.name, labels: policy.metadata.labels },
        spec: policy.spec,
      },
    );
    const natsPod = `${NATS_NAME}-0`;
    await createObject(cluster, "NATS server", `/api/v1/namespaces/${NAMESPACE}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: natsPod, labels: servers.spec.template.metadata.labels },
      spec: {
        terminationGracePeriodSeconds: 0,
        automountServiceAccountToken: false,
        containers: [
          {
            name: "nats",
            image: drill.realCluster.images.nats,
            imagePullPolicy: "Never",
            command: [
              "nats-server",
              "--port",
              String(NATS_PORTS.client),
              "--http_port",
              String(NATS_PORTS.monitor),
            ].concat(["--cluster_name", "mesh", "--cluster", `nats://0.0.0.0:${NATS_PORTS.cluster}`]),
            securityContext: { runAsUser: 1000, runAsNonRoot: true, allowPrivilegeEscalation: false },
          },
        ],
      },
    });
    const monitoring = await startProbePod(cluster, {
      namespace: "monitoring",
      name: "scraper",
      image: String(shape.values.image),
      port: 9090,
    });
    const outsider = await startProbePod(cluster, {
      namespace: "outsider",
      name: "outsider",
      image: String(shape.values.image),
      port: 9090,
    });
    try {
      const natsIp = await waitFor(
        "the NATS server's pod running",
        async () =>
          (
            await cluster.api<PodList["items"][number]>(
              "GET",
              `/api/v1/namespaces/${NAMESPACE}/pods/${natsPod}`,
            )
          ).body.status?.podIP,
        { timeoutMs: 120_000, intervalMs: 500 },
      );
      const [worker] = await pods("worker");
      assert.ok(worker, "a worker pod runs");
      const fromWorker = { namespace: NAMESPACE, name: worker.metadata.name };
      await assertReachability(
        async () => ({
          "worker pod → client port": await connectFrom(cluster, fromWorker, natsIp, NATS_PORTS.client),
          "outsider → client port": await connectFrom(cluster, outsider, natsIp, NATS_PORTS.client),
          "monitoring → client port": await connectFrom(cluster, monitoring, natsIp, NATS_PORTS.client),
          "monitoring → monitor port": await connectFrom(cluster, monitoring, natsIp, NATS_PORTS.monitor),
          "outsider → monitor port": await connectFrom(cluster, outsider, natsIp, NATS_PORTS.monitor),
          "worker pod → cluster port": await connectFrom(cluster, fromWorker, natsIp, NATS_PORTS.cluster),
          "outsider → cluster port": await connectFrom(cluster, outsider, natsIp, NATS_PORTS.cluster),
        }),
        {
          "worker pod → client port": "connected",
          "outsider → client port": "ECONNREFUSED",
          "monitoring → client port": "ECONNREFUSED",
          "monitoring → monitor port": "connected",
          "outsider → monitor port": "ECONNREFUSED",
          "worker pod → cluster port": "ECONNREFUSED",
          "outsider → cluster port": "ECONNREFUSED",
        },
      );
    } finally {
      await cluster.api("DELETE", `/api/v1/namespaces/${NAMESPACE}/pods/${natsPod}`);
      await cluster.api(
        "DELETE",
        `/apis/networking.k8s.io/v1/namespaces/${NAMESPACE}/networkpolicies/${NATS_NAME}`,
      );
    }
  });

  it("keeps the pod and service ranges on this machine: an unused address of either fails here, at once", async () => {
    for (const address of ["10.96.255.254", "10.244.9.9", "10.243.200.1"]) {
      const started = Date.now();
      const outcome = await new Promise<string>((resolve) => {
        const socket = net.connect({ port: 80, host: address, timeout: 5_000 });
        socket.on("connect", () => resolve("connected"));
        socket.on("timeout", () => resolve("timed out (a packet left to find it)"));
        socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
      });
      assert.equal(outcome, "EHOSTUNREACH", `${address}: refused by the local unreachable route`);
      assert.ok(Date.now() - started < 1_000, `${address} failed at once (${Date.now() - started} ms)`);
    }
  });

  it("runs mesh's image as the rendered securityContext says: uid 1000, read-only root, no capabilities, seccomp", async () => {
    const [pod] = await pods();
    assert.ok(pod, "a mesh pod runs");
    const exec = (script: string) => kubectl("exec", pod.metadata.name, "--", "sh", "-c", script);
    assert.equal((await exec("id -u; id -g")).trim(), "1000\n1000");
    const status = await exec("cat /proc/1/status");
    assert.match(status, /^CapEff:\s+0+$/m, "no effective capability");
    assert.match(status, /^CapBnd:\s+0+$/m, "no capability in the bounding set");
    assert.match(status, /^Seccomp:\s+2$/m, "seccomp filter mode (RuntimeDefault)");
    assert.match(status, /^NoNewPrivs:\s+1$/m, "allowPrivilegeEscalation: false");
    await assert.rejects(
      exec("touch /app/written-by-test"),
      /Read-only file system/,
      "the root filesystem is read-only",
    );
    assert.equal(
      (await exec("touch /tmp/written-by-test && echo ok")).trim(),
      "ok",
      "/tmp (an emptyDir) is writable",
    );
  });

  it("reaches Postgres and NATS by their cluster DNS names, and serves and streams a run through its ClusterIP", async () => {
    const [pod] = await pods();
    const resolved = await kubectl(
      "exec",
      pod?.metadata.name ?? "",
      "--",
      "getent",
      "hosts",
      POSTGRES_HOST,
      NATS_HOST,
    );
    assert.match(
      resolved,
      new RegExp(`^10\\.96\\.\\d+\\.\\d+\\s+${POSTGRES_HOST.replace(/\./g, "\\.")}`, "m"),
    );
    assert.match(resolved, new RegExp(`^10\\.96\\.\\d+\\.\\d+\\s+${NATS_HOST.replace(/\./g, "\\.")}`, "m"));
    const client = new ApiClient(drill.serviceUrl, apiToken);
    const runId = await client.createRun("real-node", "hello from a real kubelet");
    const stream = await client.readStream(runId);
    assert.equal(stream.done?.status, "SUCCESS");
    assert.ok(stream.chunks.length > 0, "chunks streamed through NATS");
  });

  it("answers `kubectl logs` and `kubectl exec` through the kubelet's API", async () => {
    const [worker] = await pods("worker");
    assert.ok(worker, "a worker pod runs");
    const logs = await kubectl("logs", worker.metadata.name);
    assert.match(logs, /"msg":"mesh ready"/);
    assert.match(logs, /"role":"worker"/);
    assert.equal(
      (await kubectl("exec", worker.metadata.name, "--", "node", "-e", "console.log(process.version)"))
        .trim()
        .slice(0, 4),
      "v22.",
    );
  });

  it("fails a new pod's readiness while cluster DNS is down, naming the host it could not resolve, and recovers when DNS returns", async function () {
    this.timeout(600_000);
    const [worker] = await pods("worker");
    await scaleClusterDns(cluster, 0);
    try {
      await waitFor(
        "CoreDNS gone",
        async () => {
          const list = await cluster.api<PodList>(
            "GET",
            "/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-dns",
          );
          return list.body.items.length === 0;
        },
        { timeoutMs: 60_000 },
      );
      await kubectl("delete", "pod", worker?.metadata.name ?? "", "--wait=false");
      const replacement = await waitFor(
        "the replacement worker to log that it cannot resolve a host",
        async () => {
          const fresh = (await pods("worker")).find((pod) => pod.metadata.name !== worker?.metadata.name);
          if (!fresh) return undefined;
          const text = await kubectl("logs", fresh.metadata.name).catch(() => "");
          const previous = await kubectl("logs", "--previous", fresh.metadata.name).catch(() => "");
          return /(ENOTFOUND|EAI_AGAIN)[^\n]*(postgres|nats)\.data\.svc\.cluster\.local/.test(text + previous)
            ? fresh
            : undefined;
        },
        { timeoutMs: 180_000, intervalMs: 1_000 },
      );
      const notReady = (await pods("worker")).find((pod) => pod.metadata.name === replacement.metadata.name);
      assert.notEqual(
        notReady?.status?.conditions?.find((c) => c.type === "Ready")?.status,
        "True",
        "not Ready without DNS",
      );
    } finally {
      await scaleClusterDns(cluster, 1);
    }
    await waitFor(
      "a Ready worker once DNS is back",
      async () =>
        (await pods("worker")).some((pod) =>
          pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        ),
      { timeoutMs: 300_000, intervalMs: 2_000 },
    );
  });

  it("OOM-kills a worker whose memory limit is too small for its work; its runs are finished, none lost", async function () {
    this.timeout(900_000);
    // Each segment holds 96 MiB: the worker's 256 MiB cannot hold mesh and two at once, the `all` pod's
    // 1 GiB holds its four.
    await setPathConfig(drill.stack, {
      "worker.resources.limits.memory": "256Mi",
      "extraEnv.MESH_BUILTIN_SEGMENT_MEMORY_MB": "96",
    });
    const recorder = stepRecorder();
    const up = await drill.stack.up({ onEvent: recorder.onEvent });
    assert.equal(up.summary.result, "succeeded", recorder.diagnostics.join("\n"));
    const client = new ApiClient(drill.serviceUrl, apiToken);
    const inputs = Array.from({ length: 12 }, (_, index) => `oom ${index} ${randomBytes(4).toString("hex")}`);
    const runIds = await Promise.all(inputs.map((input, index) => client.createRun(`oom-${index}`, input)));
    const killed = await waitFor(
      "the worker's container OOMKilled",
      async () => {
        const [worker] = await pods("worker");
        const status = worker?.status?.containerStatuses?.[0] as
          | { restartCount: number; lastState?: { terminated?: { reason?: string; exitCode?: number } } }
          | undefined;
        return status?.lastState?.terminated?.reason === "OOMKilled" ? { worker, status } : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 1_000 },
    );
    assert.ok(killed.status.restartCount >= 1, "the kubelet restarted it");
    assert.equal(killed.status.lastState?.terminated?.exitCode, 137);
    const rows = await waitFor(
      "every run to finish",
      async () => {
        const found = await query<{ workflow_uuid: string; status: string }>(
          drill.databaseUrl,
          "SELECT workflow_uuid, status FROM dbos.workflow_status WHERE workflow_uuid = ANY($1)",
          [runIds],
        );
        return found.length === runIds.length &&
          found.every((row) => row.status !== "PENDING" && row.status !== "ENQUEUED")
          ? found
          : undefined;
      },
      { timeoutMs: 480_000, intervalMs: 2_000 },
    );
    assert.deepEqual(
      rows.filter((row) => row.status !== "SUCCESS"),
      [],
      "every run SUCCESS",
    );
    for (const [index, runId] of runIds.entries()) {
      const { body } = await client.request("GET", `/v1/runs/${runId}`);
      assert.equal(body.output, expectedOutput(inputs[index] ?? "", TOKENS), `run ${runId}'s output`);
    }
  });
});
