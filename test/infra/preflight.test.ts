import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { parseMeshConfig } from "../../infra/config.js";
import { resolveDeployedImage } from "../../infra/deployed-image.js";
import {
  clusterRequirements,
  KEDA_CRDS,
  PROMETHEUS_OPERATOR_CRDS,
} from "../../infra/preflight/requirements.js";
import { MockProgramError } from "../../infra/render/run-under-mocks.js";
import { loadStackConfig } from "../../infra/render/stack-file.js";
import { planTopology } from "../../infra/topology.js";
import { REPO_ROOT, renderStack } from "./support.js";

// The preflight's AWS facts under the mock runtime (its VPC: private subnets in zones a and b tagged
// kubernetes.io/role/internal-elb=1; subnet-0privb alone also tagged mesh.dev/database=yes), and what a
// plan requires of the cluster. The cluster's facts are read under the real engine (test/engine/preflight).

async function refusal(stack: string, overrides: string[]): Promise<MockProgramError> {
  try {
    await renderStack(stack, overrides);
  } catch (error) {
    assert.ok(error instanceof MockProgramError, String(error));
    return error;
  }
  assert.fail(`${overrides.join(" ")} passed the preflight`);
}

/** A committed stack file's config, parsed as the program parses it (with CI's image). */
function stackFileConfig(stack: string, overrides: string[] = []) {
  const { config } = loadStackConfig(stack, { root: REPO_ROOT, overrides });
  const values: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(config)) {
    if (!key.startsWith("mesh:") || key === "mesh:apiToken") continue;
    values[key.slice(5)] = raw.startsWith("{") || raw.startsWith("[") ? JSON.parse(raw) : raw;
  }
  const parsed = parseMeshConfig({
    stack,
    values,
    secrets: {
      apiToken: pulumi.output("preflight-test-token"),
      natsUrl: pulumi.output("nats://nats.acme.internal:4222"),
    },
    keys: Object.keys(values),
  });
  return resolveDeployedImage(parsed, undefined).config;
}

describe("preflight: the account's facts (mock runtime)", () => {
  it("passes prod and dev: their subnets span two zones", async () => {
    for (const stack of ["prod", "dev"]) assert.ok((await renderStack(stack)).resources.length > 0);
  });

  it("refuses subnets all in one zone, naming them and the fix, and registers nothing", async () => {
    const error = await refusal("prod", ['postgres.subnetIds=["subnet-0priva","subnet-0puba"]']);
    assert.match(
      error.message,
      /preflight: RDS needs subnets in at least two availability zones; postgres\.subnetIds \(subnet-0priva, subnet-0puba\) are all in eu-west-1a: .*postgres\.subnetTag/,
    );
    assert.deepEqual(error.resources, []);
  });

  it("finds subnets by the configured tag", async () => {
    const error = await refusal("prod", [
      "postgres.subnetTag.key=mesh.dev/database",
      "postgres.subnetTag.value=yes",
    ]);
    assert.match(
      error.message,
      /the subnets of vpc-0mock tagged mesh\.dev\/database=yes \(subnet-0privb\) are all in eu-west-1b/,
    );
    const none = await refusal("prod", ["postgres.subnetTag.key=team/db"]);
    assert.match(none.message, /tagged team\/db=1 \(none\) are in none/);
    assert.deepEqual(none.resources, []);
  });
});

describe("preflight: what a plan requires of the cluster", () => {
  const requirements = (stack: string, overrides: string[] = []) => {
    const config = stackFileConfig(stack, overrides);
    return clusterRequirements(config, planTopology(config));
  };

  it("prod: KEDA's CRDs (queue-depth workers, KEDA not installed by the stack), the metrics API (the api's CPU autoscaler), NATS volumes of gp3", () => {
    assert.deepEqual(requirements("prod"), {
      kedaCrds: KEDA_CRDS,
      metricsApiFor: ["api.autoscaling"],
      volumes: [
        {
          storageClassName: "gp3",
          key: "nats.storageClassName",
          claimant: "mesh's NATS (JetStream volumes)",
          // Pulumi.prod.yaml: three servers, a 50Gi JetStream volume each.
          claims: 3,
          size: "50Gi",
        },
      ],
      ownerSecretMount: true,
      kedaDatabaseCaMount: true,
      monitoringCrds: PROMETHEUS_OPERATOR_CRDS,
    });
  });

  it("no KEDA CRDs when the stack installs KEDA; the metrics API for CPU workers too", () => {
    assert.deepEqual(requirements("prod", ["keda.install=true"]).kedaCrds, []);
    assert.deepEqual(requirements("prod", ["worker.autoscaling.mode=cpu"]), {
      kedaCrds: [],
      metricsApiFor: ["api.autoscaling", "worker.autoscaling (mode cpu)"],
      volumes: requirements("prod").volumes,
      ownerSecretMount: true,
      kedaDatabaseCaMount: false,
      monitoringCrds: PROMETHEUS_OPERATOR_CRDS,
    });
  });

  it("dev: nothing but the default StorageClass for its one NATS server; external NATS: no volume", () => {
    const dev = requirements("dev");
    assert.deepEqual(dev.kedaCrds, []);
    assert.deepEqual(dev.metricsApiFor, []);
    assert.deepEqual(
      dev.volumes.map((volume) => volume.storageClassName),
      [stackFileConfig("dev").nats.storageClassName],
    );
    assert.deepEqual(requirements("dev", ["nats.mode=external"]).volumes, []);
  });

  it("RDS: the CSI driver and Pod Identity that mount the master secret; no other Postgres mode needs them", () => {
    assert.equal(requirements("dev").ownerSecretMount, true);
    assert.equal(requirements("local").ownerSecretMount, false);
  });

  it("the Prometheus Operator's CRDs when monitoring is on (prod), not otherwise", () => {
    assert.deepEqual(requirements("prod").monitoringCrds, PROMETHEUS_OPERATOR_CRDS);
    assert.deepEqual(requirements("prod", ["monitoring.enabled=false"]).monitoringCrds, []);
    assert.deepEqual(requirements("dev").monitoringCrds, []);
  });

  it("KEDA the stack does not install must mount the database's CA bundle (verify-full scaler), else nothing", () => {
    assert.equal(requirements("prod").kedaDatabaseCaMount, true);
    assert.equal(requirements("prod", ["keda.install=true"]).kedaDatabaseCaMount, false);
    assert.equal(requirements("dev").kedaDatabaseCaMount, false, "no ScaledObject");
  });
});
