// The process node plays kubelet faithfully enough for the rollout drill to mean something: env resolved
// as the kubelet resolves it, probes deciding Ready, restarts and Job phases by exit code, and graceful
// deletion (preStop, SIGTERM, grace, SIGKILL) — each shown on small pods of plain `node -e` scripts.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type ControlPlane, startControlPlane } from "../control-plane/control-plane.js";
import { type ProcessNode, startProcessNode } from "../process-node/process-node.js";
import { startServiceProxy } from "../process-node/service-proxy.js";
import { waitFor } from "../support/wait.js";

const NAMESPACE = "default";

interface Pod {
  metadata: { name: string; deletionTimestamp?: string };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { restartCount: number; state: Record<string, unknown> }[];
  };
}

/** A pod of one container running `node -e <script>`. */
function scriptPod(name: string, script: string, extra: Record<string, unknown> = {}, containerExtra = {}) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: NAMESPACE },
    spec: {
      terminationGracePeriodSeconds: 5,
      containers: [
        {
          name: "main",
          image: "node-script:1",
          command: ["node", "-e", script],
          ports: [{ name: "http", containerPort: 8080 }],
          ...containerExtra,
        },
      ],
      ...extra,
    },
  };
}

/** Serves 200 on every path from MESH_LISTEN_ADDRESS:8080 (once `readyAfterMs` passed for /ready). */
const server = (readyAfterMs = 0) =>
  `const started = Date.now(); require("node:http").createServer((q, s) => { s.statusCode = q.url === "/ready" && Date.now() - started < ${readyAfterMs} ? 503 : 200; s.end("ok"); }).listen(8080, process.env.MESH_LISTEN_ADDRESS); process.on("SIGTERM", () => { console.log("SIGTERM " + Date.now()); process.exit(0); });`;

describe("process node: a kubelet whose containers are processes", () => {
  let cluster: ControlPlane;
  let node: ProcessNode;

  before(async function () {
    this.timeout(180_000);
    cluster = await startControlPlane({ fakeNode: false });
    node = await startProcessNode({
      name: "process-node-test",
      kubeconfigPath: cluster.kubeconfigPath,
      subnet: 20,
      zone: "zone-a",
      image: {
        root: process.cwd(),
        env: { IMAGE_ENV: "from-the-image", SHADOWED: "image" },
        cmd: ["node", "-e", "0"],
      },
      logDir: join(cluster.dir, "pods"),
      pidFile: join(cluster.dir, "pids"),
    });
  });
  after(async function () {
    this.timeout(60_000);
    await node?.stop();
    await cluster?.stop();
  });

  const create = async (body: unknown) => {
    const response = await cluster.api("POST", `/api/v1/namespaces/${NAMESPACE}/pods`, body);
    assert.equal(response.status, 201, JSON.stringify(response.body));
  };
  const getPod = async (name: string) =>
    (await cluster.api<Pod>("GET", `/api/v1/namespaces/${NAMESPACE}/pods/${name}`)).body;
  const condition = (pod: Pod, type: string) =>
    pod.status.conditions?.find((entry) => entry.type === type)?.status;
  const logOf = (name: string) =>
    readFileSync(node.pods.find((pod) => pod.name === name)?.logPath ?? "", "utf8");
  /** DELETE (graceful, as kubectl does), then wait until the node's final delete removed the pod; returns when it was deleted. */
  const deleteAndWaitGone = async (name: string) => {
    const deletedAt = Date.now();
    await cluster.api("DELETE", `/api/v1/namespaces/${NAMESPACE}/pods/${name}`);
    await waitFor(
      `${name} gone`,
      async () => (await cluster.api("GET", `/api/v1/namespaces/${NAMESPACE}/pods/${name}`)).status === 404,
      { timeoutMs: 30_000 },
    );
    return deletedAt;
  };
  const phase = (name: string, want: string) =>
    waitFor(`pod ${name} ${want}`, async () => (await getPod(name)).status.phase === want, {
      timeoutMs: 60_000,
    });

  it("resolves env as the kubelet does: value with $(VAR), secretKeyRef, configMapKeyRef, fieldRef; image ENV underneath; binds the pod address", async () => {
    await cluster.api("POST", `/api/v1/namespaces/${NAMESPACE}/secrets`, {
      metadata: { name: "env-secret" },
      stringData: { password: "s3cret-value" },
    });
    await cluster.api("POST", `/api/v1/namespaces/${NAMESPACE}/configmaps`, {
      metadata: { name: "env-config" },
      data: { colour: "green" },
    });
    const keys = [
      "PLAIN",
      "EXPANDED",
      "ESCAPED",
      "SECRET",
      "CONFIG",
      "POD",
      "NS",
      "IP",
      "MISSING_OPTIONAL",
      "IMAGE_ENV",
      "SHADOWED",
      "MESH_LISTEN_ADDRESS",
    ];
    await create(
      scriptPod(
        "env-pod",
        `console.log(JSON.stringify(Object.fromEntries(${JSON.stringify(keys)}.map((k) => [k, process.env[k] ?? null]))))`,
        { restartPolicy: "Never" },
        {
          env: [
            { name: "PLAIN", value: "plain" },
            { name: "EXPANDED", value: "$(PLAIN)-and-$(UNDEFINED_VAR)" },
            { name: "ESCAPED", value: "$$(PLAIN)" },
            { name: "SECRET", valueFrom: { secretKeyRef: { name: "env-secret", key: "password" } } },
            { name: "CONFIG", valueFrom: { configMapKeyRef: { name: "env-config", key: "colour" } } },
            { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
            { name: "NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
            { name: "IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
            {
              name: "MISSING_OPTIONAL",
              valueFrom: { secretKeyRef: { name: "env-secret", key: "absent", optional: true } },
            },
            { name: "SHADOWED", value: "container" },
          ],
        },
      ),
    );
    await phase("env-pod", "Succeeded");
    const pod = await getPod("env-pod");
    assert.match(pod.status.podIP ?? "", /^10\.244\.20\.\d+$/);
    assert.deepEqual(JSON.parse(logOf("env-pod").trim()), {
      PLAIN: "plain",
      EXPANDED: "plain-and-$(UNDEFINED_VAR)",
      ESCAPED: "$(PLAIN)",
      SECRET: "s3cret-value",
      CONFIG: "green",
      POD: "env-pod",
      NS: NAMESPACE,
      IP: pod.status.podIP,
      MISSING_OPTIONAL: null,
      IMAGE_ENV: "from-the-image",
      SHADOWED: "container",
      MESH_LISTEN_ADDRESS: pod.status.podIP,
    });
  });

  it("holds a pod whose Secret is missing in CreateContainerConfigError until the Secret exists", async () => {
    await create(
      scriptPod(
        "late-secret",
        "console.log(process.env.LATE)",
        { restartPolicy: "Never" },
        {
          env: [{ name: "LATE", valueFrom: { secretKeyRef: { name: "late-secret", key: "value" } } }],
        },
      ),
    );
    await waitFor(
      "CreateContainerConfigError",
      async () => {
        const state = (await getPod("late-secret")).status.containerStatuses?.[0]?.state as {
          waiting?: { reason?: string };
        };
        return state?.waiting?.reason === "CreateContainerConfigError";
      },
      { timeoutMs: 30_000 },
    );
    await cluster.api("POST", `/api/v1/namespaces/${NAMESPACE}/secrets`, {
      metadata: { name: "late-secret" },
      stringData: { value: "arrived" },
    });
    await phase("late-secret", "Succeeded");
    assert.equal(logOf("late-secret").trim(), "arrived");
  });

  it("sets Ready from the readiness probe against the pod address, not from the process running", async () => {
    await create(
      scriptPod(
        "probed",
        server(4_000),
        {},
        {
          readinessProbe: {
            httpGet: { path: "/ready", port: "http" },
            periodSeconds: 1,
            failureThreshold: 1,
          },
        },
      ),
    );
    await phase("probed", "Running");
    assert.equal(condition(await getPod("probed"), "Ready"), "False", "not ready while /ready answers 503");
    await waitFor("probed Ready", async () => condition(await getPod("probed"), "Ready") === "True", {
      timeoutMs: 30_000,
    });
  });

  it("publishes Ready pods in the Service's EndpointSlice, and the proxy routes only to them", async () => {
    const answering = `require("node:http").createServer((q, s) => { s.statusCode = q.url === "/ready" && process.env.NEVER_READY ? 503 : 200; s.end(process.env.MESH_LISTEN_ADDRESS); }).listen(8080, process.env.MESH_LISTEN_ADDRESS);`;
    const probe = { readinessProbe: { httpGet: { path: "/ready", port: "http" }, periodSeconds: 1 } };
    const labelled = (name: string, env: { name: string; value: string }[]) => {
      const pod = scriptPod(name, answering, {}, { ...probe, env });
      return { ...pod, metadata: { ...pod.metadata, labels: { app: "web" } } };
    };
    await cluster.api("POST", `/api/v1/namespaces/${NAMESPACE}/services`, {
      metadata: { name: "web" },
      spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http" }] },
    });
    await create(labelled("web-ready", []));
    await create(labelled("web-never-ready", [{ name: "NEVER_READY", value: "1" }]));
    await phase("web-never-ready", "Running");
    const proxy = await startServiceProxy({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: NAMESPACE,
      service: "web",
    });
    try {
      await waitFor("one endpoint", async () => proxy.endpoints().length === 1, { timeoutMs: 30_000 });
      const readyIP = (await getPod("web-ready")).status.podIP;
      assert.deepEqual(proxy.endpoints(), [`${readyIP}:8080`]);
      const answers = new Set<string>();
      for (let index = 0; index < 20; index++) answers.add(await (await fetch(proxy.url)).text());
      assert.deepEqual([...answers], [readyIP]);
    } finally {
      await proxy.stop();
    }
  });

  it("restarts a failed container (restartPolicy Always) and ends Job-style pods by exit code", async () => {
    await create(scriptPod("crashes", "process.exit(1)"));
    await create(scriptPod("succeeds", "process.exit(0)", { restartPolicy: "Never" }));
    await create(scriptPod("fails", "process.exit(3)", { restartPolicy: "Never" }));
    await phase("succeeds", "Succeeded");
    await phase("fails", "Failed");
    await waitFor(
      "crashes restarted",
      async () => ((await getPod("crashes")).status.containerStatuses?.[0]?.restartCount ?? 0) >= 1,
      { timeoutMs: 40_000 },
    );
    assert.equal((await getPod("crashes")).status.phase, "Running");
  });

  it("deletes gracefully: preStop first, then SIGTERM, then the pod is removed", async () => {
    await create(
      scriptPod("graceful", server(), {}, { lifecycle: { preStop: { exec: { command: ["sleep", "2"] } } } }),
    );
    await phase("graceful", "Running");
    const deletedAt = await deleteAndWaitGone("graceful");
    const sigterm = Number(/SIGTERM (\d+)/.exec(logOf("graceful"))?.[1]);
    assert.ok(
      sigterm - deletedAt >= 2_000,
      `SIGTERM came ${sigterm - deletedAt} ms after the delete, after preStop's 2 s`,
    );
  });

  it("kills a container that ignores SIGTERM when the grace period runs out", async () => {
    await create(
      scriptPod(
        "stubborn",
        `process.on("SIGTERM", () => console.log("ignored")); console.log("handler installed"); setInterval(() => {}, 1000);`,
        {
          terminationGracePeriodSeconds: 2,
        },
      ),
    );
    await phase("stubborn", "Running");
    // Running means the process was started, not that node has run the script yet: a SIGTERM before the
    // handler exists ends it with 143 (seen once under CI load), which says nothing about the grace period.
    await waitFor(
      "the SIGTERM handler installed",
      async () => logOf("stubborn").includes("handler installed"),
      {
        timeoutMs: 30_000,
      },
    );
    const deletedAt = await deleteAndWaitGone("stubborn");
    const record = node.pods.find((pod) => pod.name === "stubborn");
    assert.equal(record?.exitCodes.at(-1), 137, "SIGKILLed");
    assert.ok((record?.exitedAt ?? 0) - deletedAt >= 2_000, "not before the grace period ended");
    assert.match(logOf("stubborn"), /ignored/);
  });
});
