/**
 * The migration Job's AWS identity (postgres.mode=rds): the one principal that reads the RDS master user's
 * secret, at run time, through EKS Pod Identity. The Pulumi program never reads that secret, so neither
 * the stack's state, a Kubernetes Secret nor a preview's log can hold the master password, and RDS keeps
 * rotating it. These are the policy documents the stack creates (pure, so tests read them as AWS would).
 */

/** The Job's ServiceAccount: the Pod Identity association binds the role to it, in the stack's namespace. */
export const MIGRATION_SERVICE_ACCOUNT = "mesh-migrate";
/** The SecretProviderClass the Job's CSI volume mounts the master secret through. */
export const OWNER_SECRET_PROVIDER_CLASS = "mesh-database-owner";
export const OWNER_CREDENTIALS_DIR = "/var/run/secrets/mesh/database-owner";
export const OWNER_CREDENTIALS_FILE = "owner.json";

/**
 * Trust: EKS Pod Identity may assume the role for pods of this account's cluster only (the conditions
 * AWS recommends against a confused deputy); which pods is the association's ServiceAccount.
 */
export function podIdentityTrustPolicy(clusterArn: string) {
  const account = clusterArn.split(":")[4] ?? "";
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "pods.eks.amazonaws.com" },
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Condition: {
          StringEquals: { "aws:SourceAccount": account },
          ArnEquals: { "aws:SourceArn": clusterArn },
        },
      },
    ],
  };
}

/** Permission: read that one secret (RDS encrypts it with the account's aws/secretsmanager key). */
export function masterSecretReadPolicy(secretArn: string) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ReadTheRdsMasterSecretOnly",
        Effect: "Allow",
        Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        Resource: secretArn,
      },
    ],
  };
}
