import { KubeConfig, Watch } from "@kubernetes/client-node";

/** One Deployment's spec.replicas as the API server reported each change of it, and who owns the field. */
export interface ReplicaSample {
  replicas: number | undefined;
  resourceVersion: string;
  /** Field managers that own spec.replicas in this version of the object. */
  owners: string[];
}

interface DeploymentEvent {
  metadata: {
    resourceVersion: string;
    managedFields?: { manager: string; fieldsV1?: { "f:spec"?: Record<string, unknown> } }[];
  };
  spec: { replicas?: number };
}

/**
 * Records every version of one Deployment from a watch (not by polling: a dip to 1 that the autoscaler
 * corrects a few seconds later is still one event), re-opening the watch where it left off if the API
 * server ends it. `since(mark)` reads what arrived after a mark.
 */
export async function watchReplicas(kubeconfigPath: string, namespace: string, name: string) {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const watch = new Watch(kubeConfig);
  const samples: ReplicaSample[] = [];
  let stopped = false;
  let lastVersion: string | undefined;
  let abort: AbortController | undefined;
  const open = async () => {
    abort = await watch.watch(
      `/apis/apps/v1/namespaces/${namespace}/deployments`,
      {
        fieldSelector: `metadata.name=${name}`,
        allowWatchBookmarks: false,
        ...(lastVersion ? { resourceVersion: lastVersion } : {}),
      },
      (phase, object: DeploymentEvent) => {
        if (phase !== "ADDED" && phase !== "MODIFIED") return;
        lastVersion = object.metadata.resourceVersion;
        samples.push({
          replicas: object.spec.replicas,
          resourceVersion: object.metadata.resourceVersion,
          owners: (object.metadata.managedFields ?? [])
            .filter((entry) => entry.fieldsV1?.["f:spec"]?.["f:replicas"] !== undefined)
            .map((entry) => entry.manager)
            .sort(),
        });
      },
      () => {
        if (!stopped) void open();
      },
    );
  };
  await open();
  return {
    samples,
    /** A mark for `since`: the number of samples so far. */
    mark: () => samples.length,
    since: (mark: number) => samples.slice(mark),
    latest: () => samples.at(-1),
    stop: () => {
      stopped = true;
      abort?.abort();
    },
  };
}
