import { z } from "zod";

// The Secrets Store CSI driver's SecretProviderClass (secrets-store.csi.x-k8s.io/v1), transcribed from the
// driver's CRD (its OpenAPI schema in secrets-store.csi.x-k8s.io_secretproviderclasses.yaml): no package
// of the kubernetes-models family covers this group. Same shape as those packages: a validating class per
// kind, and an interface the schema check's TypeScript pass types the object with.

export interface ISecretObjectData {
  key?: string;
  objectName?: string;
}

export interface ISecretObject {
  annotations?: Record<string, string>;
  data?: ISecretObjectData[];
  labels?: Record<string, string>;
  secretName?: string;
  type?: string;
}

export interface ISecretProviderClass {
  apiVersion: "secrets-store.csi.x-k8s.io/v1";
  kind: "SecretProviderClass";
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: {
    /** Configuration for the provider: for AWS's, region, usePodIdentity, objects (a YAML list), ... */
    parameters?: Record<string, string>;
    provider?: string;
    secretObjects?: ISecretObject[];
  };
}

const stringMap = z.record(z.string(), z.string());
const schema = z.object({
  apiVersion: z.literal("secrets-store.csi.x-k8s.io/v1"),
  kind: z.literal("SecretProviderClass"),
  metadata: z.object({}).passthrough().optional(),
  spec: z.strictObject({
    parameters: stringMap.optional(),
    provider: z.string().optional(),
    secretObjects: z
      .array(
        z.strictObject({
          annotations: stringMap.optional(),
          data: z
            .array(z.strictObject({ key: z.string().optional(), objectName: z.string().optional() }))
            .optional(),
          labels: stringMap.optional(),
          secretName: z.string().optional(),
          type: z.string().optional(),
        }),
      )
      .optional(),
  }),
});

export class SecretProviderClass {
  constructor(private readonly data: unknown) {}

  validate(): void {
    const result = schema.safeParse(this.data);
    if (!result.success)
      throw new Error(
        result.error.issues
          .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`)
          .join("; "),
      );
  }
}
