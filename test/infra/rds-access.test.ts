import assert from "node:assert/strict";
import { unwrapSecrets } from "../../infra/render/kubernetes-objects.js";
import { type RenderedStack, renderStack, resourceOf } from "./support.js";

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

    it(`${name}: every database URL the stack builds requires TLS (the app's, the migration's, KEDA's)`, () => {
      const secrets = (stacks[name] as RenderedStack).resources.filter(
        (resource) => resource.type === "kubernetes:core/v1:Secret",
      );
      const urls = secrets.flatMap((secret) =>
        Object.entries((unwrapSecrets(secret.inputs.stringData) ?? {}) as Record<string, string>)
          .filter(([key]) => key.endsWith("DATABASE_URL"))
          .map(([key, url]) => ({ key, url })),
      );
      const keys = urls.map((entry) => entry.key).sort();
      assert.deepEqual(keys, name === "prod" ? ["DATABASE_URL", "KEDA_DATABASE_URL"] : ["DATABASE_URL"]);
      for (const { key, url } of urls)
        assert.equal(new URL(url).searchParams.get("sslmode"), "require", `${key} sslmode`);
    });
  }
});
