import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { MeshConfig } from "../config.js";
import { meshAlerts } from "../monitoring/alerts.js";
import { meshDashboard } from "../monitoring/dashboard.js";
import type { TopologyPlan } from "../topology.js";

export interface MonitoringArgs {
  namespace: pulumi.Input<string>;
  k8sProvider: k8s.Provider;
  stack: string;
  /** The namespace's name as a string: the alerts and panels filter on it. */
  namespaceName: string;
  plan: TopologyPlan;
  settings: MeshConfig["monitoring"];
}

/**
 * What a Prometheus Operator (kube-prometheus-stack) expects shipped with a workload: a PodMonitor per
 * tier (pods are scraped directly: workers sit behind no Service), the alerts as a PrometheusRule, and a
 * Grafana dashboard in a ConfigMap the Grafana sidecar loads. The operator's CRDs are a prerequisite.
 */
export class Monitoring extends pulumi.ComponentResource {
  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mesh:infra:Monitoring", name, {}, opts);
    const childOpts = { parent: this, provider: args.k8sProvider };
    const { settings, plan } = args;
    const labels = { "app.kubernetes.io/part-of": "mesh", ...settings.labels };
    const tiers = [plan.main, ...(plan.worker ? [plan.worker] : []), ...plan.draining];
    for (const tier of tiers)
      new k8s.apiextensions.CustomResource(
        `${tier.name}-pod-monitor`,
        {
          apiVersion: "monitoring.coreos.com/v1",
          kind: "PodMonitor",
          metadata: { name: tier.name, namespace: args.namespace, labels },
          spec: {
            selector: { matchLabels: tier.selectorLabels },
            podMetricsEndpoints: [{ port: "http", path: "/metrics", interval: settings.scrapeInterval }],
          },
        },
        childOpts,
      );
    new k8s.apiextensions.CustomResource(
      `${name}-alerts`,
      {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata: { name: "mesh", namespace: args.namespace, labels },
        spec: {
          groups: [
            {
              name: "mesh",
              rules: meshAlerts({
                stack: args.stack,
                namespace: args.namespaceName,
                runbookBaseUrl: settings.runbookBaseUrl,
                thresholds: settings.thresholds,
              }),
            },
          ],
        },
      },
      childOpts,
    );
    if (settings.dashboard.enabled)
      new k8s.core.v1.ConfigMap(
        `${name}-dashboard`,
        {
          metadata: {
            name: "mesh-dashboard",
            namespace: args.namespace,
            labels: { ...labels, [settings.dashboard.label]: settings.dashboard.labelValue },
          },
          data: {
            [`mesh-${args.namespaceName}.json`]: JSON.stringify(
              meshDashboard(args.stack, args.namespaceName),
              null,
              2,
            ),
          },
        },
        childOpts,
      );
    this.registerOutputs({});
  }
}
