// The probe's control plane (test/control-plane, no kwok): started, described in <work>/cluster.json for
// probe.sh, stopped on SIGTERM.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startControlPlane } from "../control-plane/control-plane.js";

const work = process.argv[2] ?? "";
const controlPlane = await startControlPlane({ fakeNode: false });
writeFileSync(
  join(work, "cluster.json"),
  JSON.stringify({ kubeconfig: controlPlane.kubeconfigPath, dir: controlPlane.dir }),
);
process.on("SIGTERM", () => {
  void controlPlane.stop().then(() => process.exit(0));
});
setInterval(() => undefined, 1 << 30);
