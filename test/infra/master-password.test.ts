import assert from "node:assert/strict";
import { unwrapSecrets } from "../../infra/render/kubernetes-objects.js";
import { MOCK_ACCOUNT, MOCK_RDS_PASSWORD, MOCK_REGION } from "../../infra/render/mock-cloud.js";
import { objectOf, type RenderedStack, renderStack, resourceOf } from "./support.js";

const MASTER_SECRET_ARN = `arn:aws:secretsmanager:${MOCK_REGION}:${MOCK_ACCOUNT}:secret:rds!db-mock`;

// Fixture: the dev and prod stacks (RDS) under Pulumi's mocks, whose Secrets Manager would answer
// MOCK_RDS_PASSWORD to anyone who asked for the master secret.
describe("the RDS master password never passes through Pulumi (#26 item 2)", () => {
  const stacks: Record<string, RenderedStack> = {};
  before(async () => {
    for (const name of ["dev", "prod"]) stacks[name] = await renderStack(name);
  });

  for (const name of ["dev", "prod"]) {
    it(`${name}: the program reads no secret value, and no input, output or Secret holds the master password`, () => {
      const stack = stacks[name] as RenderedStack;
      assert.deepEqual(
        stack.invokes.filter(
          (token) => token.startsWith("aws:secretsmanager") || token.startsWith("aws:ssm"),
        ),
        [],
        "no Secrets Manager or SSM read",
      );
      for (const resource of stack.resources)
        assert.ok(
          !JSON.stringify(unwrapSecrets(resource.inputs)).includes(MOCK_RDS_PASSWORD),
          `${resource.type} ${resource.name}`,
        );
      assert.ok(!JSON.stringify(unwrapSecrets(stack.outputs)).includes(MOCK_RDS_PASSWORD), "stack outputs");
      assert.equal(stack.outputs.databaseUrl, undefined, "no owner URL output with RDS");
    });

    it(`${name}: RDS manages and rotates the master password (nothing turns rotation off)`, () => {
      const { resources } = stacks[name] as RenderedStack;
      assert.equal(resourceOf(resources, "aws:rds/instance:Instance").inputs.manageMasterUserPassword, true);
      assert.deepEqual(
        resources.filter((resource) => resource.type === "aws:secretsmanager/secretRotation:SecretRotation"),
        [],
      );
    });

    it(`${name}: only the migration Job may read the master secret, through a Pod Identity of its own`, () => {
      const { resources, objects } = stacks[name] as RenderedStack;
      const role = resourceOf(resources, "aws:iam/role:Role", "mesh-postgres-migrate-role");
      const trust = JSON.parse(role.inputs.assumeRolePolicy);
      const clusterArn = `arn:aws:eks:${MOCK_REGION}:${MOCK_ACCOUNT}:cluster/platform-${name}`;
      assert.deepEqual(trust.Statement, [
        {
          Effect: "Allow",
          Principal: { Service: "pods.eks.amazonaws.com" },
          Action: ["sts:AssumeRole", "sts:TagSession"],
          Condition: {
            StringEquals: { "aws:SourceAccount": MOCK_ACCOUNT },
            ArnEquals: { "aws:SourceArn": clusterArn },
          },
        },
      ]);
      const policies = resources.filter((resource) => resource.type === "aws:iam/rolePolicy:RolePolicy");
      assert.equal(policies.length, 1);
      const policy = JSON.parse(policies[0]?.inputs.policy);
      assert.deepEqual(
        policy.Statement.map((statement: Record<string, unknown>) => [
          statement.Effect,
          statement.Action,
          statement.Resource,
        ]),
        [["Allow", ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], MASTER_SECRET_ARN]],
      );
      // Attached to that role (the mock runtime's id of a resource is its name + "-id").
      assert.equal(policies[0]?.inputs.role, `${role.name}-id`);
      const association = resourceOf(resources, "aws:eks/podIdentityAssociation:PodIdentityAssociation");
      assert.equal(association.inputs.clusterName, `platform-${name}`);
      assert.equal(association.inputs.namespace, `mesh-${name}`);
      assert.equal(association.inputs.serviceAccount, "mesh-migrate");
      assert.equal(
        association.inputs.roleArn,
        `arn:aws:iam::${MOCK_ACCOUNT}:role/mesh-postgres-migrate-role-mock`,
      );

      // The ServiceAccount is the Job's alone; no Deployment's pods run as it.
      const job = objects.find((object) => object.kind === "Job");
      assert.equal(job?.spec.template.spec.serviceAccountName, "mesh-migrate");
      for (const deployment of objects.filter((object) => object.kind === "Deployment"))
        assert.notEqual(
          deployment.spec.template.spec.serviceAccountName,
          "mesh-migrate",
          deployment.metadata.name,
        );
      assert.equal(objectOf(objects, "ServiceAccount", "mesh-migrate").automountServiceAccountToken, false);

      // The Job mounts the secret through the CSI driver, read-only, where its env says the file is.
      const providerClass = objectOf(objects, "SecretProviderClass", "mesh-database-owner");
      assert.equal(providerClass.spec.provider, "aws");
      assert.equal(providerClass.spec.parameters.usePodIdentity, "true");
      assert.match(
        providerClass.spec.parameters.objects,
        new RegExp(`objectName: "${MASTER_SECRET_ARN.replace(/[$!]/g, "\\$&")}"`),
      );
      assert.match(providerClass.spec.parameters.objects, /objectAlias: "owner\.json"/);
      const pod = job?.spec.template.spec;
      const volume = pod.volumes.find((entry: { csi?: unknown }) => entry.csi);
      assert.deepEqual(volume.csi, {
        driver: "secrets-store.csi.k8s.io",
        readOnly: true,
        volumeAttributes: { secretProviderClass: "mesh-database-owner" },
      });
      const container = pod.containers[0];
      const mount = container.volumeMounts.find((entry: { name: string }) => entry.name === volume.name);
      assert.equal(mount.readOnly, true);
      const file = container.env.find(
        (entry: { name: string }) => entry.name === "DATABASE_MIGRATION_CREDENTIALS_FILE",
      );
      assert.equal(file.value, `${mount.mountPath}/owner.json`);
    });
  }

  it("a new runtime credential generation is a new role, rolled out with a new migration", async () => {
    const before = stacks.dev as RenderedStack;
    const after = await renderStack("dev", ["postgres.runtimeCredentialGeneration=1"]);
    const runtimeUser = (stack: RenderedStack) =>
      new URL(
        (
          unwrapSecrets(
            resourceOf(stack.resources, "kubernetes:core/v1:Secret", "mesh-secret").inputs.stringData,
          ) as Record<string, string>
        ).DATABASE_URL ?? "",
      ).username;
    assert.equal(runtimeUser(before), "mesh_runtime");
    assert.equal(runtimeUser(after), "mesh_runtime_g1");
    // The generation is the password's keeper: Pulumi replaces the password with it.
    assert.deepEqual(
      resourceOf(
        after.resources,
        "random:index/randomPassword:RandomPassword",
        "mesh-postgres-runtime-password",
      ).inputs.keepers,
      { generation: "1" },
    );
    const jobName = (stack: RenderedStack) =>
      stack.objects.find((object) => object.kind === "Job")?.metadata.name;
    assert.notEqual(jobName(before), jobName(after));
    const revision = (stack: RenderedStack) =>
      objectOf(stack.objects, "Deployment", "mesh").spec.template.metadata.annotations[
        "mesh.dev/secret-revision"
      ];
    assert.notEqual(revision(before), revision(after), "the pods roll onto the new role");
  });
});
