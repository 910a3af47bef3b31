// The invariants that must never regress, as plain functions over resources (type + properties), so
// the same rules run in the test suite and in `pulumi preview --policy-pack policy`.

// biome-ignore lint/suspicious/noExplicitAny: resource properties are open-ended provider bags
export type Props = Record<string, any>;

export interface PolicyResource {
  type: string;
  props: Props;
  /** Logical name or URN, for messages. */
  name?: string;
}

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const POD_OWNERS = new Set([DEPLOYMENT, "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job"]);
const SERVICE = "kubernetes:core/v1:Service";

function label(resource: PolicyResource): string {
  return `${resource.type.split(":").pop()}/${resource.props.metadata?.name ?? resource.name ?? "?"}`;
}

function containersOf(resource: PolicyResource): Props[] {
  return resource.props.spec?.template?.spec?.containers ?? [];
}

function envValue(container: Props, name: string): string | undefined {
  return (container.env ?? []).find((entry: Props) => entry.name === name)?.value;
}

/** The dispatch role of a Deployment's mesh container, if it runs mesh. */
export function dispatchRoleOf(resource: PolicyResource): string | undefined {
  for (const container of containersOf(resource)) {
    const role = envValue(container, "MESH_DISPATCH_ROLE");
    if (role !== undefined) return role;
  }
  return undefined;
}

function selects(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

/** No Service may route traffic to worker pods: workers never receive load-balanced requests. */
export function serviceSelectsNoWorkers(resources: PolicyResource[]): string[] {
  const workers = resources.filter(
    (resource) => resource.type === DEPLOYMENT && dispatchRoleOf(resource) === "worker",
  );
  return resources
    .filter((resource) => resource.type === SERVICE)
    .flatMap((service) =>
      workers
        .filter((worker) =>
          selects(service.props.spec?.selector, worker.props.spec?.template?.metadata?.labels),
        )
        .map(
          (worker) =>
            `${label(service)} selects the pods of worker ${label(worker)}: workers must never receive Service traffic`,
        ),
    );
}

/** Minimum replicas a Deployment keeps, counting an autoscaler (HPA or KEDA ScaledObject) that targets it. */
function minimumReplicas(deployment: PolicyResource, resources: PolicyResource[]): number {
  const name = deployment.props.metadata?.name;
  const hpa = resources.find(
    (resource) =>
      resource.type === "kubernetes:autoscaling/v2:HorizontalPodAutoscaler" &&
      resource.props.spec?.scaleTargetRef?.name === name,
  );
  if (hpa) return hpa.props.spec?.minReplicas ?? 1;
  const scaledObject = resources.find(
    (resource) =>
      resource.props.kind === "ScaledObject" && resource.props.spec?.scaleTargetRef?.name === name,
  );
  if (scaledObject) return scaledObject.props.spec?.minReplicaCount ?? 0;
  return deployment.props.spec?.replicas ?? 1;
}

/** The image of a Deployment's mesh container (the one that sets MESH_DISPATCH_ROLE). */
function meshImageOf(resource: PolicyResource): string | undefined {
  return containersOf(resource).find((container) => envValue(container, "MESH_DISPATCH_ROLE") !== undefined)
    ?.image;
}

/**
 * dispatchRole=api only with at least one worker replica of the api's own release: otherwise no pod
 * dequeues the runs the api enqueues. Workers on another image are a draining workflow version's; they
 * take only their version's runs, so they do not count.
 */
export function apiRoleRequiresWorkers(resources: PolicyResource[]): string[] {
  const deployments = resources.filter((resource) => resource.type === DEPLOYMENT);
  const apis = deployments.filter((deployment) => dispatchRoleOf(deployment) === "api");
  const workers = deployments.filter((deployment) => dispatchRoleOf(deployment) === "worker");
  return apis
    .filter(
      (api) =>
        workers
          .filter((worker) => meshImageOf(worker) === meshImageOf(api))
          .reduce((total, worker) => total + minimumReplicas(worker, resources), 0) < 1,
    )
    .map(
      (api) =>
        `${label(api)} runs MESH_DISPATCH_ROLE=api but no worker replica of its release (image ${meshImageOf(api)}) is guaranteed: runs would never dispatch`,
    );
}

/** Every container: resource requests, probes (long-running pods), and the hardened security context. */
export function podsHardened(resource: PolicyResource): string[] {
  if (!POD_OWNERS.has(resource.type)) return [];
  const pod = resource.props.spec?.template?.spec ?? {};
  const podContext = pod.securityContext ?? {};
  const problems: string[] = [];
  for (const container of pod.containers ?? []) {
    const where = `${label(resource)} container ${container.name}`;
    const context = container.securityContext ?? {};
    if (!container.resources?.requests?.cpu || !container.resources?.requests?.memory) {
      problems.push(`${where} has no cpu and memory requests`);
    }
    if (
      resource.type !== "kubernetes:batch/v1:Job" &&
      (!container.livenessProbe || !container.readinessProbe)
    ) {
      problems.push(`${where} needs liveness and readiness probes`);
    }
    if ((context.runAsNonRoot ?? podContext.runAsNonRoot) !== true) problems.push(`${where} may run as root`);
    if (context.allowPrivilegeEscalation !== false) problems.push(`${where} allows privilege escalation`);
    if (context.readOnlyRootFilesystem !== true) problems.push(`${where} has a writable root filesystem`);
    if (!(context.capabilities?.drop ?? []).includes("ALL"))
      problems.push(`${where} does not drop all capabilities`);
    if ((context.seccompProfile?.type ?? podContext.seccompProfile?.type) !== "RuntimeDefault") {
      problems.push(`${where} has no RuntimeDefault seccomp profile`);
    }
  }
  return problems;
}

/** RDS instances are private and encrypted at rest. */
export function rdsPrivateAndEncrypted(resource: PolicyResource): string[] {
  if (resource.type !== "aws:rds/instance:Instance") return [];
  const problems: string[] = [];
  if (resource.props.publiclyAccessible === true) problems.push(`${label(resource)} is publicly accessible`);
  if (resource.props.storageEncrypted !== true) problems.push(`${label(resource)} storage is not encrypted`);
  return problems;
}

const SECRET_NAME = /(PASSWORD|TOKEN|SECRET|_KEY|DATABASE_URL|NATS_URL)$/;
const URL_WITH_CREDENTIALS = /:\/\/[^/\s:@]+:[^/\s@]+@/;

/** Secrets reach pods only through Kubernetes Secrets, never as plaintext env values. */
export function noPlaintextSecretEnv(resource: PolicyResource): string[] {
  if (!POD_OWNERS.has(resource.type)) return [];
  return containersOf(resource).flatMap((container) =>
    (container.env ?? [])
      .filter((entry: Props) => entry.value !== undefined)
      .filter(
        (entry: Props) => SECRET_NAME.test(entry.name) || URL_WITH_CREDENTIALS.test(String(entry.value)),
      )
      .map(
        (entry: Props) =>
          `${label(resource)} container ${container.name} sets ${entry.name} as plaintext: use valueFrom.secretKeyRef`,
      ),
  );
}

const NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

/**
 * A namespace that runs mesh denies ingress by default: a NetworkPolicy selecting every pod (empty
 * podSelector) with Ingress among its policy types, so only what a policy allows reaches a pod. Namespaces
 * are compared when both are known (a preview of a new namespace may not know its name yet).
 */
export function namespaceDefaultDeny(resources: PolicyResource[]): string[] {
  const denies = resources.filter(
    (resource) =>
      resource.type === NETWORK_POLICY &&
      Object.keys(resource.props.spec?.podSelector ?? {}).length === 0 &&
      (resource.props.spec?.policyTypes ?? []).includes("Ingress"),
  );
  const sameNamespace = (a: unknown, b: unknown) => typeof a !== "string" || typeof b !== "string" || a === b;
  return resources
    .filter((resource) => resource.type === DEPLOYMENT && dispatchRoleOf(resource) !== undefined)
    .filter(
      (deployment) =>
        !denies.some((deny) =>
          sameNamespace(deny.props.metadata?.namespace, deployment.props.metadata?.namespace),
        ),
    )
    .map(
      (deployment) =>
        `${label(deployment)} runs in a namespace without a default-deny ingress NetworkPolicy: any pod in the cluster can reach it`,
    );
}

export const resourceRules = { podsHardened, rdsPrivateAndEncrypted, noPlaintextSecretEnv };
export const stackRules = { serviceSelectsNoWorkers, apiRoleRequiresWorkers, namespaceDefaultDeny };

/** Every violation of every rule, for tests and tools. */
export function violations(resources: PolicyResource[]): string[] {
  return [
    ...Object.values(stackRules).flatMap((rule) => rule(resources)),
    ...resources.flatMap((resource) => Object.values(resourceRules).flatMap((rule) => rule(resource))),
  ];
}
