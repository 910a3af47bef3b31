import type * as pulumi from "@pulumi/pulumi";

// What the cloud would compute, as stand-ins for Pulumi's mock runtime. Every value here is marked as
// computed by the cloud, so renders can label it "unknown at preview" instead of passing it off as real.

export const MOCK_ACCOUNT = "123456789012";
export const MOCK_REGION = "eu-west-1";
/**
 * The RDS-managed master password the mock Secrets Manager would return (a test secret, never a real
 * one). The program must never ask for it: tests look for it everywhere a value could leak.
 */
export const MOCK_RDS_PASSWORD = "mock-rds-managed-password-7f3a";

export const CLOUD_COMPUTED = "(known after apply)";

/** Every stand-in value above contains "mock" (IDs, names, endpoints), so a render can label it. */
export function isMockValue(value: unknown): boolean {
  return typeof value === "string" && /mock/i.test(value);
}

export function mockCall(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
  switch (args.token) {
    case "aws:eks/getCluster:getCluster": {
      const name = String(args.inputs.name);
      return {
        name,
        arn: `arn:aws:eks:${MOCK_REGION}:${MOCK_ACCOUNT}:cluster/${name}`,
        endpoint: `https://${name}.gr7.${MOCK_REGION}.eks.amazonaws.com`,
        certificateAuthorities: [{ data: "bW9jay1jYQ==" }],
        vpcConfig: {
          vpcId: "vpc-0mock",
          clusterSecurityGroupId: "sg-0mockcluster",
          subnetIds: ["subnet-0priva", "subnet-0privb", "subnet-0puba"],
          securityGroupIds: [],
          publicAccessCidrs: [],
          endpointPrivateAccess: true,
          endpointPublicAccess: false,
          controlPlaneEgressMode: "",
        },
      };
    }
    case "aws:ec2/getSubnets:getSubnets": {
      // The mock VPC: private subnets in zones a and b carry the internal-elb tag; only b also carries
      // mesh.dev/database=yes (a team's own tag, for the configurable-tag tests).
      const filters = (args.inputs.filters ?? []) as { name: string; values: string[] }[];
      const tagged = (name: string, value: string) =>
        filters.some((filter) => filter.name === `tag:${name}` && filter.values.includes(value));
      const ids = tagged("kubernetes.io/role/internal-elb", "1")
        ? ["subnet-0priva", "subnet-0privb"]
        : tagged("mesh.dev/database", "yes")
          ? ["subnet-0privb"]
          : [];
      return { ids, filters: args.inputs.filters };
    }
    case "aws:ec2/getSubnet:getSubnet": {
      // The mock VPC's zones: a subnet ID ending in a is in zone a, b in b, and so on.
      const id = String(args.inputs.id);
      return { ...args.inputs, id, availabilityZone: `${MOCK_REGION}${id.at(-1)}` };
    }
    case "aws:secretsmanager/getSecretVersion:getSecretVersion":
      return {
        secretId: args.inputs.secretId,
        secretString: JSON.stringify({ username: "mesh", password: MOCK_RDS_PASSWORD }),
      };
    default:
      return args.inputs;
  }
}

/** Output properties a provider would add to a new resource. */
export function mockComputedState(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
): Record<string, unknown> {
  switch (type) {
    case "aws:rds/instance:Instance": {
      const address = `${name}.cmockabc123.${MOCK_REGION}.rds.amazonaws.com`;
      return {
        address,
        port: 5432,
        endpoint: `${address}:5432`,
        arn: `arn:aws:rds:${MOCK_REGION}:${MOCK_ACCOUNT}:db:${name}`,
        masterUserSecrets: [
          {
            secretArn: `arn:aws:secretsmanager:${MOCK_REGION}:${MOCK_ACCOUNT}:secret:rds!db-mock`,
            kmsKeyId: "",
            secretStatus: "active",
          },
        ],
      };
    }
    case "aws:iam/role:Role":
      return { arn: `arn:aws:iam::${MOCK_ACCOUNT}:role/${name}-mock` };
    case "aws:rds/subnetGroup:SubnetGroup":
      return { name: inputs.name ?? `${name}-mock` };
    case "kubernetes:core/v1:Secret":
      // The API server gives every object a random uid; the stand-in is fixed per object name.
      return { metadata: { ...(inputs.metadata as Record<string, unknown>), uid: `mock-uid-${name}` } };
    case "random:index/randomPassword:RandomPassword":
      // One per resource, so a test can tell the runtime role's password from the scaler's.
      return { result: `mock-random-password-${name}` };
    default:
      return {};
  }
}
