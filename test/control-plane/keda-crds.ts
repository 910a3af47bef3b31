import { waitFor } from "../support/wait.js";
import type { ControlPlane } from "./control-plane.js";

/**
 * KEDA's two CustomResourceDefinitions that mesh creates objects of (ScaledObject, TriggerAuthentication),
 * so that `worker.autoscaling.mode=queueDepth` can be applied to the test API server. Only the names,
 * group, versions and scope are KEDA's: the schema accepts any spec (the rendered objects are checked
 * against KEDA's real schema offline, by the golden tests), and no KEDA operator acts on them.
 */
const KEDA_KINDS = [
  { kind: "ScaledObject", plural: "scaledobjects", singular: "scaledobject", shortNames: ["so"] },
  {
    kind: "TriggerAuthentication",
    plural: "triggerauthentications",
    singular: "triggerauthentication",
    shortNames: ["ta"],
  },
];

export async function installKedaCrds(controlPlane: ControlPlane): Promise<void> {
  for (const { kind, plural, singular, shortNames } of KEDA_KINDS) {
    const name = `${plural}.keda.sh`;
    const created = await controlPlane.api(
      "POST",
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
      {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name },
        spec: {
          group: "keda.sh",
          scope: "Namespaced",
          names: { kind, plural, singular, shortNames, listKind: `${kind}List` },
          versions: [
            {
              name: "v1alpha1",
              served: true,
              storage: true,
              subresources: { status: {} },
              schema: {
                openAPIV3Schema: {
                  type: "object",
                  properties: {
                    spec: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                    status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
                  },
                },
              },
            },
          ],
        },
      },
    );
    if (created.status !== 201 && created.status !== 409)
      throw new Error(`creating CRD ${name}: ${created.status} ${JSON.stringify(created.body)}`);
    await waitFor(`CRD ${name} established`, async () => {
      const crd = await controlPlane.api<{ status?: { conditions?: { type: string; status: string }[] } }>(
        "GET",
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
      );
      return crd.body.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
    });
  }
}
