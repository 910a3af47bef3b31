// The Prometheus Operator's part, for one namespace: it turns the PodMonitors and PrometheusRules it finds
// there into the scrape configuration and rule files of a Prometheus. The translation follows the
// operator's own for the fields mesh renders (pod discovery in the monitor's namespace, `matchLabels`,
// the endpoint's named port, path and interval; the target labels namespace/pod/container/endpoint/job);
// any other field is refused rather than silently ignored.

export interface PodMonitor {
  metadata: { name: string; namespace: string };
  spec: {
    selector: { matchLabels?: Record<string, string>; [other: string]: unknown };
    podMetricsEndpoints: { port: string; path?: string; interval?: string; [other: string]: unknown }[];
    [other: string]: unknown;
  };
}

export interface PrometheusRule {
  metadata: { name: string; namespace: string };
  spec: { groups: { name: string; rules: unknown[] }[] };
}

/** How Prometheus reaches the API server for pod discovery (files on this machine). */
export interface ApiServerAccess {
  server: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A Kubernetes label name as Prometheus' discovery exposes it: every other character becomes `_`. */
function metaLabel(kind: "label" | "labelpresent", name: string): string {
  return `__meta_kubernetes_pod_${kind}_${name.replace(/[^a-zA-Z0-9_]/g, "_")}`;
}

function refuseUnknown(where: string, value: Record<string, unknown>, known: string[]): void {
  const unknown = Object.keys(value).filter((key) => !known.includes(key));
  if (unknown.length > 0)
    throw new Error(`${where}: the operator stand-in does not translate ${unknown.join(", ")}`);
}

/** One scrape config per endpoint of a PodMonitor, as the operator generates it. */
export function scrapeConfigsOf(monitor: PodMonitor, access: ApiServerAccess): Record<string, unknown>[] {
  const { name, namespace } = monitor.metadata;
  const where = `PodMonitor ${namespace}/${name}`;
  refuseUnknown(where, monitor.spec, ["selector", "podMetricsEndpoints"]);
  refuseUnknown(`${where} selector`, monitor.spec.selector, ["matchLabels"]);
  return monitor.spec.podMetricsEndpoints.map((endpoint, index) => {
    refuseUnknown(`${where} endpoint ${index}`, endpoint, ["port", "path", "interval"]);
    return {
      job_name: `podMonitor/${namespace}/${name}/${index}`,
      honor_labels: false,
      ...(endpoint.interval ? { scrape_interval: endpoint.interval } : {}),
      metrics_path: endpoint.path ?? "/metrics",
      kubernetes_sd_configs: [
        {
          role: "pod",
          api_server: access.server,
          namespaces: { names: [namespace] },
          tls_config: { ca_file: access.caFile, cert_file: access.certFile, key_file: access.keyFile },
        },
      ],
      relabel_configs: [
        // Pods that have finished are no targets.
        { source_labels: ["__meta_kubernetes_pod_phase"], regex: "(Failed|Succeeded)", action: "drop" },
        ...Object.entries(monitor.spec.selector.matchLabels ?? {}).map(([label, value]) => ({
          source_labels: [metaLabel("label", label), metaLabel("labelpresent", label)],
          regex: `(${value});true`,
          action: "keep",
        })),
        {
          source_labels: ["__meta_kubernetes_pod_container_port_name"],
          regex: endpoint.port,
          action: "keep",
        },
        { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
        { source_labels: ["__meta_kubernetes_pod_container_name"], target_label: "container" },
        { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
        { target_label: "job", replacement: `${namespace}/${name}` },
        { target_label: "endpoint", replacement: endpoint.port },
      ],
    };
  });
}

/** A PrometheusRule's groups are the rule file, as the operator writes it. */
export function ruleFileOf(rules: PrometheusRule[]): { groups: PrometheusRule["spec"]["groups"] } {
  return { groups: rules.flatMap((rule) => rule.spec.groups) };
}
