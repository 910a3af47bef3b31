import { waitFor } from "../support/wait.js";
import type { ControlPlane } from "./control-plane.js";

/**
 * Stand-ins for the CustomResourceDefinitions of operators mesh creates objects for but the test cluster
 * does not run: only the names, group, version and scope are the operator's; the schema accepts any spec
 * (the rendered objects are checked against the operators' real schemas offline, by the golden tests),
 * and no operator acts on them.
 */
interface StandInKind {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
}

async function installStandInCrds(
  controlPlane: ControlPlane,
  group: string,
  version: string,
  kinds: StandInKind[],
): Promise<void> {
  for (const { kind, plural, singular, shortNames } of kinds) {
    const name = `${plural}.${group}`;
    const created = await controlPlane.api(
      "POST",
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
      {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name },
        spec: {
          group,
          scope: "Namespaced",
          names: { kind, plural, singular, shortNames, listKind: `${kind}List` },
          versions: [
            {
              name: version,
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

/**
 * The Prometheus Operator's PodMonitor and PrometheusRule (`monitoring.enabled`). The test's Prometheus
 * reads them as the operator would (test/monitoring/prometheus-operator.ts).
 */
export function installPrometheusOperatorCrds(controlPlane: ControlPlane): Promise<void> {
  return installStandInCrds(controlPlane, "monitoring.coreos.com", "v1", [
    { kind: "PodMonitor", plural: "podmonitors", singular: "podmonitor", shortNames: ["pmon"] },
    {
      kind: "PrometheusRule",
      plural: "prometheusrules",
      singular: "prometheusrule",
      shortNames: ["promrule"],
    },
  ]);
}
