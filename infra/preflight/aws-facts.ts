// The AWS side of the preflight: facts of the account that RDS depends on, read with plain invokes
// before anything is created (at preview as at update; under the mock runtime, from its answers).

import * as aws from "@pulumi/aws";
import type { MeshConfig } from "../config.js";

/** The DB subnet group needs subnets in two AZs at least; a late, cryptic RDS error otherwise. */
export async function subnetProblems(config: MeshConfig): Promise<string[]> {
  if (config.postgres.mode !== "rds" || config.cluster.mode !== "eks") return [];
  const eks = await aws.eks.getCluster({ name: config.cluster.name ?? "" });
  const vpcId = eks.vpcConfig.vpcId;
  const { subnetTag } = config.postgres;
  const ids =
    config.postgres.subnetIds ??
    (
      await aws.ec2.getSubnets({
        filters: [
          { name: "vpc-id", values: [vpcId] },
          { name: `tag:${subnetTag.key}`, values: [subnetTag.value] },
        ],
      })
    ).ids;
  const subnets = await Promise.all(ids.map((id) => aws.ec2.getSubnet({ id })));
  const zones = [...new Set(subnets.map((subnet) => subnet.availabilityZone))].sort();
  if (zones.length >= 2) return [];
  const found = config.postgres.subnetIds
    ? `postgres.subnetIds (${ids.join(", ")})`
    : `the subnets of ${vpcId} tagged ${subnetTag.key}=${subnetTag.value} (${ids.length === 0 ? "none" : ids.join(", ")})`;
  return [
    `preflight: RDS needs subnets in at least two availability zones; ${found} ${zones.length === 0 ? "are in none" : `are all in ${zones.join(", ")}`}: tag a private subnet of another zone, set postgres.subnetTag to the tag your subnets carry, or list postgres.subnetIds`,
  ];
}
