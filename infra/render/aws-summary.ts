import { redactSecrets } from "./kubernetes-objects.js";
import { CLOUD_COMPUTED, isMockValue, mockComputedState } from "./mock-cloud.js";
import type { RegisteredResource } from "./run-under-mocks.js";

/**
 * The AWS resources a render would create, with their inputs. Values AWS computes (endpoints, ARNs,
 * the managed password) are shown as "(known after apply)", never as the mock's stand-ins.
 */
export function awsSummary(resources: RegisteredResource[]) {
  return resources
    .filter((resource) => resource.type.startsWith("aws:"))
    .map((resource) => ({
      type: resource.type,
      name: resource.name,
      inputs: labelCloudValues(redactSecrets(resource.inputs)),
      computedByAws: Object.fromEntries(
        Object.keys(mockComputedState(resource.type, resource.name, resource.inputs)).map((key) => [
          key,
          CLOUD_COMPUTED,
        ]),
      ),
    }))
    .sort((a, b) => `${a.type}/${a.name}`.localeCompare(`${b.type}/${b.name}`));
}

/** Values the mock runtime made up for AWS (looked up from the cluster, or created) are not shown as real. */
function labelCloudValues(value: unknown): unknown {
  if (isMockValue(value)) return CLOUD_COMPUTED;
  if (Array.isArray(value)) return value.map(labelCloudValues);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, labelCloudValues(inner)]));
  }
  return value;
}
