// The preflight under the real engine against a real API server that lacks what prod needs: no KEDA CRDs,
// no metrics API, no StorageClass. `pulumi preview` of prod's shape fails with one message per missing
// fact, each naming its fix, and creates nothing; as each fact is added to the cluster its message goes,
// until the preview passes.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { clusterProblems } from "../../infra/preflight/cluster-facts.js";
import { type ClusterRequirements, KEDA_CRDS } from "../../infra/preflight/requirements.js";
import { installKedaCrds } from "../control-plane/keda-crds.js";
import { registerMetricsApiStandIn } from "../control-plane/metrics-api.js";
import { useTestCluster } from "../control-plane/test-cluster.js";
import { waitFor } from "../support/wait.js";
import {
  applyShape,
  changes,
  describeSteps,
  engineStack,
  setPathConfig,
  stepRecorder,
} from "./support/engine-stack.js";
import { SHAPE_SECRETS, stackShape } from "./support/stack-shapes.js";

const KEDA_FIX =
  /the cluster lacks KEDA's CRDs \(scaledobjects\.keda\.sh, triggerauthentications\.keda\.sh\).*keda\.install true/;
const METRICS_FIX =
  /the metrics API \(APIService v1beta1\.metrics\.k8s\.io\) is missing.*api\.autoscaling.*metrics-server/;
const STORAGE_CLASS_FIX = /StorageClass "gp3" \(nats\.storageClassName\) does not exist.*create it/;
const CSI_DRIVER_FIX =
  /StorageClass "gp3" \(nats\.storageClassName\) provisions through the CSI driver ebs\.csi\.aws\.com.*aws-ebs-csi-driver/;

describe("real engine: the preflight refuses a cluster that lacks what the stack needs", () => {
  const cluster = useTestCluster({ kedaCrds: false, metricsApi: false });
  let backendDir: string;
  let stack: Stack;

  before(async function () {
    this.timeout(120_000);
    backendDir = mkdtempSync(join(tmpdir(), "mesh-engine-preflight-"));
    stack = await engineStack({
      stackName: "preflight",
      backendDir,
      kubeconfigPath: cluster.current.kubeconfigPath,
    });
    // prod's shape with its own NATS (three servers on gp3 volumes): queue-depth workers, a CPU-scaled api.
    const shape = stackShape("prod");
    shape.values.nats = { mode: "managed", replicas: 3, storageClassName: "gp3" };
    delete shape.secrets.natsUrl;
    await applyShape(stack, shape);
  });
  after(() => backendDir && rmSync(backendDir, { recursive: true, force: true }));

  /** The preview's failure text, after checking it failed and changed nothing. */
  async function failedPreview(): Promise<string> {
    const recorder = stepRecorder();
    const failure = await stack.preview({ onEvent: recorder.onEvent }).then(
      () => assert.fail("the preview passed"),
      (error: Error) => error,
    );
    const touched = changes(recorder.steps).filter((step) => step.type !== "pulumi:providers:pulumi");
    assert.deepEqual(describeSteps(touched), [], "the failed preview plans nothing");
    return `${failure.message}\n${recorder.diagnostics.join("\n")}`;
  }

  it("names every missing fact at once, each with its fix, and creates nothing", async () => {
    const text = await failedPreview();
    for (const fix of [KEDA_FIX, METRICS_FIX, STORAGE_CLASS_FIX]) assert.match(text, fix);
    assert.match(text, /lacks what this stack needs \(3 problems/);
    const namespaces = await cluster.current.api<{ items: { metadata: { name: string } }[] }>(
      "GET",
      "/api/v1/namespaces",
    );
    assert.ok(
      !namespaces.body.items.some((item) => item.metadata.name.startsWith("mesh-")),
      "no namespace was created",
    );
  });

  it("drops each fact's message once the cluster has it, and checks the StorageClass's CSI driver", async () => {
    await installKedaCrds(cluster.current);
    let text = await failedPreview();
    assert.doesNotMatch(text, KEDA_FIX);
    assert.match(text, METRICS_FIX);

    await registerMetricsApiStandIn(cluster.current);
    const created = await cluster.current.api("POST", "/apis/storage.k8s.io/v1/storageclasses", {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: "gp3" },
      provisioner: "ebs.csi.aws.com",
      parameters: { type: "gp3" },
    });
    assert.equal(created.status, 201);
    text = await failedPreview();
    assert.doesNotMatch(text, METRICS_FIX);
    assert.doesNotMatch(text, STORAGE_CLASS_FIX);
    assert.match(text, CSI_DRIVER_FIX);
    assert.match(text, /\(1 problem,/);
  });

  it("passes once the EBS CSI driver is there", async () => {
    const driver = await cluster.current.api("POST", "/apis/storage.k8s.io/v1/csidrivers", {
      apiVersion: "storage.k8s.io/v1",
      kind: "CSIDriver",
      metadata: { name: "ebs.csi.aws.com" },
      spec: { attachRequired: true },
    });
    assert.equal(driver.status, 201);
    // prod's cluster facts, read from this API server as the preflight reads them: none missing.
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.current.kubeconfigPath);
    const requirements: ClusterRequirements = {
      kedaCrds: KEDA_CRDS,
      metricsApiFor: ["api.autoscaling"],
      volumes: [
        {
          storageClassName: "gp3",
          key: "nats.storageClassName",
          claimant: "mesh's NATS",
          claims: 3,
          size: "50Gi",
        },
      ],
    };
    assert.deepEqual(await clusterProblems(kubeConfig, requirements, "mesh-preflight", "create"), []);
    // With RDS, what mounts the master secret into the migration Job: the CSI driver and Pod Identity.
    const rds = { ...requirements, ownerSecretMount: true };
    const missing = await clusterProblems(kubeConfig, rds, "mesh-preflight", "create");
    assert.equal(missing.length, 2, missing.join("\n"));
    assert.match(
      missing[0] ?? "",
      /lacks the Secrets Store CSI driver \(CSIDriver secrets-store\.csi\.k8s\.io\)/,
    );
    assert.match(missing[1] ?? "", /Pod Identity Agent .*kube-system\/eks-pod-identity-agent.*create-addon/);
    const secretsStore = await cluster.current.api("POST", "/apis/storage.k8s.io/v1/csidrivers", {
      apiVersion: "storage.k8s.io/v1",
      kind: "CSIDriver",
      metadata: { name: "secrets-store.csi.k8s.io" },
      spec: { attachRequired: false, podInfoOnMount: true, volumeLifecycleModes: ["Ephemeral"] },
    });
    assert.equal(secretsStore.status, 201);
    const labels = { "app.kubernetes.io/name": "eks-pod-identity-agent" };
    const agent = await cluster.current.api("POST", "/apis/apps/v1/namespaces/kube-system/daemonsets", {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "eks-pod-identity-agent", namespace: "kube-system" },
      spec: {
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: "agent", image: "eks-pod-identity-agent:stand-in" }] },
        },
      },
    });
    assert.equal(agent.status, 201);
    assert.deepEqual(await clusterProblems(kubeConfig, rds, "mesh-preflight", "create"), []);
    // KEDA installed outside the stack: its operator must mount the database's CA bundle.
    const withKeda = { ...rds, kedaDatabaseCaMount: true };
    assert.deepEqual(
      await clusterProblems(kubeConfig, withKeda, "mesh-preflight", "create"),
      [],
      "no keda-operator: not judged",
    );
    const operatorLabels = { app: "keda-operator" };
    const operator = (volumeMounts: object[]) => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "keda-operator", namespace: "keda" },
      spec: {
        selector: { matchLabels: operatorLabels },
        template: {
          metadata: { labels: operatorLabels },
          spec: {
            containers: [{ name: "keda-operator", image: "keda:stand-in", volumeMounts }],
            volumes: [{ name: "database-ca", configMap: { name: "mesh-database-ca" } }],
          },
        },
      },
    });
    await cluster.current.api("POST", "/api/v1/namespaces", { metadata: { name: "keda" } });
    const bare = await cluster.current.api("POST", "/apis/apps/v1/namespaces/keda/deployments", operator([]));
    assert.equal(bare.status, 201);
    const [kedaProblem, ...others] = await clusterProblems(kubeConfig, withKeda, "mesh-preflight", "create");
    assert.deepEqual(others, []);
    assert.match(
      kedaProblem ?? "",
      /keda-operator\) does not mount the database's CA bundle at \/etc\/mesh\/database-ca/,
    );
    const mounted = await cluster.current.api(
      "PUT",
      "/apis/apps/v1/namespaces/keda/deployments/keda-operator",
      operator([{ name: "database-ca", mountPath: "/etc/mesh/database-ca", readOnly: true }]),
    );
    assert.equal(mounted.status, 200);
    assert.deepEqual(await clusterProblems(kubeConfig, withKeda, "mesh-preflight", "create"), []);
    // And the whole preview (with an external NATS: the managed one's route password needs the random
    // provider plugin, which this machine does not build) plans the stack.
    await setPathConfig(stack, { "nats.mode": "external" });
    await stack.setConfig("mesh:natsUrl", { value: SHAPE_SECRETS.natsUrl, secret: true });
    const recorder = stepRecorder();
    await stack.preview({ onEvent: recorder.onEvent });
    assert.ok(
      changes(recorder.steps).some((step) => step.type === "kubernetes:apps/v1:Deployment"),
      "the preview plans the stack",
    );
  });
  it("takes a StorageClass without a provisioner once enough Available volumes of the claims' size exist", async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.current.kubeconfigPath);
    const create = async (path: string, body: unknown) =>
      assert.equal((await cluster.current.api("POST", path, body)).status, 201);
    await create("/apis/storage.k8s.io/v1/storageclasses", {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: "local-disks" },
      provisioner: "kubernetes.io/no-provisioner",
      volumeBindingMode: "WaitForFirstConsumer",
    });
    const volume = (name: string, storage: string) =>
      create("/api/v1/persistentvolumes", {
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name },
        spec: {
          capacity: { storage },
          accessModes: ["ReadWriteOnce"],
          storageClassName: "local-disks",
          hostPath: { path: `/mnt/${name}` },
        },
      });
    const requirements: ClusterRequirements = {
      kedaCrds: [],
      metricsApiFor: [],
      volumes: [
        {
          storageClassName: "local-disks",
          key: "nats.storageClassName",
          claimant: "mesh's NATS",
          claims: 3,
          size: "10Gi",
        },
      ],
    };
    const problems = () => clusterProblems(kubeConfig, requirements, "mesh-preflight", "create");
    assert.match(
      (await problems()).join("\n"),
      /StorageClass "local-disks" \(nats\.storageClassName\) has no dynamic provisioner .* 0 Available PersistentVolume\(s\) of it hold 10Gi, so 3 of the 3 volume\(s\) of mesh's NATS would stay Pending/,
    );
    await volume("disk-a", "10Gi");
    await volume("disk-b", "20Gi");
    await volume("disk-small", "5Gi");
    // The volume controller marks a new volume Available.
    await waitFor("the volumes Available", async () => {
      const { body } = await cluster.current.api<{ items: { status?: { phase?: string } }[] }>(
        "GET",
        "/api/v1/persistentvolumes",
      );
      return body.items.filter((item) => item.status?.phase === "Available").length === 3;
    });
    assert.match(
      (await problems()).join("\n"),
      /2 Available PersistentVolume\(s\) of it hold 10Gi, so 1 of the 3/,
    );
    await volume("disk-c", "10Gi");
    await waitFor("the third volume to count", async () => (await problems()).length === 0, {
      timeoutMs: 30_000,
      intervalMs: 500,
    });
  });
});
