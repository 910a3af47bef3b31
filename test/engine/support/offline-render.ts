// The offline render (Pulumi's mock runtime) of a stack shape, in a process of its own: the mock runtime
// and the Automation API's inline programs share @pulumi/pulumi's process-wide state, so the engine tests
// never run both in one process. Prints the rendered Kubernetes objects as JSON (Secrets: key names only).
//   node --import tsx test/engine/support/offline-render.ts '<{"stack","values","secrets"}>'
import { kubernetesObjects } from "../../../infra/render/kubernetes-objects.js";
import { runUnderMocks } from "../../../infra/render/run-under-mocks.js";

const { stack, values, secrets } = JSON.parse(process.argv[2] ?? "{}") as {
  stack: string;
  values: Record<string, unknown>;
  secrets: Record<string, string>;
};
const config: Record<string, string> = {};
for (const [key, value] of Object.entries({ ...values, ...secrets }))
  config[`mesh:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
const result = await runUnderMocks({
  stack,
  config,
  secretKeys: Object.keys(secrets).map((key) => `mesh:${key}`),
});
process.stdout.write(JSON.stringify(kubernetesObjects(result.resources)));
