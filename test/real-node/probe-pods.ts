// The probe's pods on the real kubelet: the pause image, then mesh's image with the rendered pods'
// hardening, reaching the machine's Postgres and NATS through the node's address; one run to `done`.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";

const NODE_IP = "10.244.0.1";
const work = process.argv[2] ?? "";
const { kubeconfig } = JSON.parse(readFileSync(join(work, "cluster.json"), "utf8")) as { kubeconfig: string };
const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(kubeconfig);
const core = kubeConfig.makeApiClient(CoreV1Api);

async function until<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`probe: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

const readyPod = (name: string) =>
  until(`pod ${name} Ready`, async () => {
    const pod = await core.readNamespacedPod({ name, namespace: "default" });
    const ready = pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
    return ready ? pod : undefined;
  });

// The machine's Postgres and NATS listen on loopback only; pods reach them at the node's address.
const forwarders = [5432, 4222].map((port) =>
  net
    .createServer((socket) => {
      const upstream = net.connect(port, "127.0.0.1");
      socket.pipe(upstream).pipe(socket);
      socket.on("error", () => upstream.destroy());
      upstream.on("error", () => socket.destroy());
    })
    .listen(port, NODE_IP),
);

const pods: V1Pod[] = [
  {
    metadata: { name: "probe-pause" },
    spec: { containers: [{ name: "pause", image: "mesh.local/pause:3.10", imagePullPolicy: "Never" }] },
  },
  {
    metadata: { name: "probe-mesh", labels: { app: "probe-mesh" } },
    spec: {
      automountServiceAccountToken: false,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 1000,
        runAsGroup: 1000,
        fsGroup: 1000,
        seccompProfile: { type: "RuntimeDefault" },
      },
      containers: [
        {
          name: "mesh",
          image: "mesh.local/mesh:probe",
          imagePullPolicy: "Never",
          env: [
            { name: "MESH_DISPATCH_ROLE", value: "all" },
            { name: "DATABASE_URL", value: `postgres://postgres@${NODE_IP}:5432/mesh_probe` },
            { name: "NATS_URL", value: `nats://${NODE_IP}:4222` },
            { name: "MESH_AUTO_MIGRATE", value: "true" },
            { name: "MESH_DEPLOYMENT", value: "probe" },
          ],
          ports: [{ containerPort: 8080 }],
          readinessProbe: { httpGet: { path: "/readyz", port: 8080 }, periodSeconds: 2 },
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
          },
          resources: { limits: { memory: "512Mi" } },
          volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
        },
      ],
      volumes: [{ name: "tmp", emptyDir: {} }],
    },
  },
];

try {
  await until("node Ready", async () => {
    const nodes = await core.listNode();
    return nodes.items.find((node) =>
      node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    );
  });
  for (const pod of pods) await core.createNamespacedPod({ namespace: "default", body: pod });
  await readyPod("probe-pause");
  const mesh = await readyPod("probe-mesh");
  const service = await core.createNamespacedService({
    namespace: "default",
    body: {
      metadata: { name: "probe-mesh" },
      spec: { selector: { app: "probe-mesh" }, ports: [{ port: 80, targetPort: 8080 }] },
    },
  });
  const clusterIP = service.spec?.clusterIP ?? "";
  // From the client's network namespace, through kube-proxy's rules: curl, as an operator would. Not
  // execFileSync: this process's event loop carries the pods' Postgres and NATS traffic (the forwarders).
  const curl = async (...args: string[]) =>
    (
      await promisify(execFile)(
        "ip",
        ["netns", "exec", "mesh-probe-client", "curl", "-sS", "-m", "30", ...args],
        {
          encoding: "utf8",
        },
      )
    ).stdout;
  await until("the Service routed by kube-proxy", async () =>
    (await curl(`http://${clusterIP}/healthz`)).includes('"ok"') ? true : undefined,
  );
  const { runId } = JSON.parse(
    await curl(
      "-X",
      "POST",
      "-H",
      "content-type: application/json",
      "-d",
      '{"input":"hello from a real kubelet"}',
      `http://${clusterIP}/v1/threads/probe/runs`,
    ),
  ) as { runId: string };
  const stream = await curl("-N", `http://${clusterIP}/v1/runs/${runId}/stream`);
  assert.match(stream, /event: done\ndata: \{"status":"SUCCESS"/);
  console.log(
    `probe: pod ${mesh.status?.podIP} behind ClusterIP ${clusterIP} ran ${runId} to SUCCESS, streamed to done`,
  );
  // The pod and service ranges end on this machine: an unused address of either fails here, at once.
  for (const address of ["10.96.255.254", "10.244.9.9"]) {
    const started = Date.now();
    const code = await new Promise<string>((resolve) => {
      const socket = net.connect(80, address);
      socket.on("connect", () => resolve("connected"));
      socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
    });
    assert.equal(code, "EHOSTUNREACH", address);
    console.log(`probe: ${address} refused locally (${code}) in ${Date.now() - started} ms`);
  }
} finally {
  if (process.env.MESH_PROBE_KEEP === "1") {
    // The pods need the forwarders: stay until interrupted.
    console.log("probe: pods kept; Ctrl-C ends the forwarders (and the pods' Postgres and NATS)");
    await new Promise(() => undefined);
  }
  await core.deleteNamespacedService({ name: "probe-mesh", namespace: "default" }).catch(() => undefined);
  // Pods go through the kubelet, so containerd tears their network down through CNI.
  for (const pod of pods)
    await core
      .deleteNamespacedPod({ name: pod.metadata?.name ?? "", namespace: "default", gracePeriodSeconds: 0 })
      .catch(() => undefined);
  await until(
    "pods gone",
    async () =>
      (await core.listNamespacedPod({ namespace: "default" })).items.length === 0 ? true : undefined,
    60_000,
  ).catch((error) => console.error(String(error)));
  for (const forwarder of forwarders) forwarder.close();
}
