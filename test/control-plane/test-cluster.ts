import { type ControlPlane, startControlPlane } from "./control-plane.js";
import { installKedaCrds } from "./keda-crds.js";
import { registerMetricsApiStandIn } from "./metrics-api.js";

export interface TestClusterOptions {
  /** KEDA's CRDs (default true). */
  kedaCrds?: boolean;
  /** The metrics API stand-in (default true). */
  metricsApi?: boolean;
}

/**
 * The cluster the engine tests deploy to: a fresh control plane with kwok's fake node, KEDA's CRDs and
 * the metrics API registered (the facts the preflight checks; off for the preflight's own tests),
 * started before a test file and stopped after it (`useTestCluster()` in a describe block).
 */
export function useTestCluster(options: TestClusterOptions = {}): { readonly current: ControlPlane } {
  let controlPlane: ControlPlane | undefined;
  before(async function () {
    this.timeout(180_000);
    controlPlane = await startControlPlane();
    if (options.kedaCrds ?? true) await installKedaCrds(controlPlane);
    if (options.metricsApi ?? true) await registerMetricsApiStandIn(controlPlane);
  });
  after(async function () {
    this.timeout(60_000);
    await controlPlane?.stop();
  });
  return {
    get current() {
      if (!controlPlane)
        throw new Error("the test cluster is not running (useTestCluster's before hook failed)");
      return controlPlane;
    },
  };
}
