import { type ControlPlane, startControlPlane } from "./control-plane.js";
import { installKedaCrds } from "./keda-crds.js";

/**
 * The cluster the engine tests deploy to: a fresh control plane with kwok's fake node and KEDA's CRDs,
 * started before a test file and stopped after it (`useTestCluster()` in a describe block).
 */
export function useTestCluster(): { readonly current: ControlPlane } {
  let controlPlane: ControlPlane | undefined;
  before(async function () {
    this.timeout(180_000);
    controlPlane = await startControlPlane();
    await installKedaCrds(controlPlane);
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
