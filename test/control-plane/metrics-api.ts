import { waitFor } from "../support/wait.js";
import type { ControlPlane } from "./control-plane.js";

/**
 * A stand-in registration of the metrics API (`metrics.k8s.io/v1beta1`, what metrics-server serves), so a
 * stack with a CPU autoscaler passes the preflight's check for it: two CRDs (PodMetrics `pods`, NodeMetrics
 * `nodes`) in that group make the API server register APIService v1beta1.metrics.k8s.io itself, Available,
 * with a discovery document as metrics-server's. It serves no metrics (empty lists): no HPA scales here.
 */
const METRICS_KINDS = [
  { kind: "PodMetrics", plural: "pods", singular: "podmetrics", scope: "Namespaced" },
  { kind: "NodeMetrics", plural: "nodes", singular: "nodemetrics", scope: "Cluster" },
];

export const METRICS_API_SERVICE = "v1beta1.metrics.k8s.io";

export async function registerMetricsApiStandIn(controlPlane: ControlPlane): Promise<void> {
  for (const { kind, plural, singular, scope } of METRICS_KINDS) {
    const name = `${plural}.metrics.k8s.io`;
    const created = await controlPlane.api(
      "POST",
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
      {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        // A *.k8s.io group is protected: the API server asks for this annotation on a CRD in it.
        metadata: {
          name,
          annotations: { "api-approved.kubernetes.io": "unapproved, test stand-in for metrics-server" },
        },
        spec: {
          group: "metrics.k8s.io",
          scope,
          names: { kind, plural, singular, listKind: `${kind}List` },
          versions: [
            {
              name: "v1beta1",
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
            },
          ],
        },
      },
    );
    if (created.status !== 201 && created.status !== 409)
      throw new Error(`creating CRD ${name}: ${created.status} ${JSON.stringify(created.body)}`);
  }
  await waitFor(`APIService ${METRICS_API_SERVICE} Available`, async () => {
    const service = await controlPlane.api<{ status?: { conditions?: { type: string; status: string }[] } }>(
      "GET",
      `/apis/apiregistration.k8s.io/v1/apiservices/${METRICS_API_SERVICE}`,
    );
    return service.body.status?.conditions?.some((c) => c.type === "Available" && c.status === "True");
  });
}
