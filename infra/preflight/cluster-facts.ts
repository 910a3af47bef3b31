// The Kubernetes side of the preflight: reads, through the deploying identity's kubeconfig, the facts
// clusterRequirements() lists, and says for each missing one what to do. Reads only: nothing is created.

import {
  ApiextensionsV1Api,
  ApiregistrationV1Api,
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  type KubeConfig,
  StorageV1Api,
  type V1Deployment,
} from "@kubernetes/client-node";
import { DATABASE_CA_CONFIGMAP, DATABASE_CA_DIR } from "../database-tls.js";
import { quantityToBytes } from "../quantity.js";
import type { ClusterRequirements, VolumeNeed } from "./requirements.js";

const DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class";
/** A StorageClass of pre-provisioned volumes: claims bind only to PersistentVolumes created beforehand. */
const NO_PROVISIONER = "kubernetes.io/no-provisioner";
/** In-tree provisioners whose volumes are served by a CSI driver since CSI migration (EKS ≥ 1.23). */
const MIGRATED_PROVISIONERS: Record<string, string> = { "kubernetes.io/aws-ebs": "ebs.csi.aws.com" };
const METRICS_API = "v1beta1.metrics.k8s.io";
const SECRETS_STORE_CSI_DRIVER = "secrets-store.csi.k8s.io";
const POD_IDENTITY_AGENT = "eks-pod-identity-agent";

const isNotFound = (error: unknown) => (error as { code?: number }).code === 404;

/** One message per missing fact, each naming the fix; empty when the cluster has everything. */
export async function clusterProblems(
  kubeConfig: KubeConfig,
  requirements: ClusterRequirements,
  namespace: string,
  /** The verb the identity needs: `create` for an update; a preview only reads (`get`). */
  verb: "create" | "get",
): Promise<string[]> {
  const access = await accessProblems(kubeConfig, namespace, verb);
  // Without access the other reads would fail for the same reason: say it once.
  if (access.length > 0) return access;
  return [
    ...(await kedaProblems(kubeConfig, requirements.kedaCrds)),
    ...(await missingCrdProblems(
      kubeConfig,
      requirements.monitoringCrds ?? [],
      "the Prometheus Operator's CRDs",
      "which monitoring.enabled renders objects of: install the Prometheus Operator (kube-prometheus-stack), or pulumi config set --path monitoring.enabled false",
    )),
    ...(await metricsApiProblems(kubeConfig, requirements.metricsApiFor)),
    ...(await storageProblems(kubeConfig, requirements.volumes)),
    ...(requirements.ownerSecretMount ? await ownerSecretMountProblems(kubeConfig) : []),
    ...(requirements.kedaDatabaseCaMount ? await kedaCaMountProblems(kubeConfig) : []),
  ];
}

/**
 * KEDA's operator (where its chart puts it: keda/keda-operator) mounts the database's CA bundle where the
 * scaler's URL names it. A KEDA installed elsewhere is not found, and not judged: docs/operations.md says
 * what it needs.
 */
async function kedaCaMountProblems(kubeConfig: KubeConfig): Promise<string[]> {
  let operator: V1Deployment;
  try {
    operator = await kubeConfig
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: "keda-operator", namespace: "keda" });
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const mounted = (operator.spec?.template.spec?.containers ?? []).some((container) =>
    (container.volumeMounts ?? []).some((mount) => mount.mountPath === DATABASE_CA_DIR),
  );
  return mounted
    ? []
    : [
        `preflight: KEDA's operator (keda/keda-operator) does not mount the database's CA bundle at ${DATABASE_CA_DIR}, so the queue-depth scaler's verify-full connection would fail and the workers would not scale: mount a copy of ConfigMap ${DATABASE_CA_CONFIGMAP} there (chart values volumes.keda.extraVolumes/extraVolumeMounts), or pulumi config set --path keda.install true`,
      ];
}

/** What mounts the RDS master secret into the migration Job: the Secrets Store CSI driver, Pod Identity. */
async function ownerSecretMountProblems(kubeConfig: KubeConfig): Promise<string[]> {
  const problems: string[] = [];
  try {
    await kubeConfig.makeApiClient(StorageV1Api).readCSIDriver({ name: SECRETS_STORE_CSI_DRIVER });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    problems.push(
      `preflight: the cluster lacks the Secrets Store CSI driver (CSIDriver ${SECRETS_STORE_CSI_DRIVER}), through which the migration Job reads the RDS master secret: install it with its AWS provider (charts secrets-store-csi-driver and secrets-store-csi-driver-provider-aws, or the EKS add-on)`,
    );
  }
  try {
    await kubeConfig
      .makeApiClient(AppsV1Api)
      .readNamespacedDaemonSet({ name: POD_IDENTITY_AGENT, namespace: "kube-system" });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    problems.push(
      `preflight: the EKS Pod Identity Agent is not installed (DaemonSet kube-system/${POD_IDENTITY_AGENT}), so the migration Job gets no AWS identity to read the RDS master secret with: aws eks create-addon --addon-name eks-pod-identity-agent`,
    );
  }
  return problems;
}

/** The deploying identity may do `verb` to what an update creates (a SelfSubjectAccessReview per kind). */
async function accessProblems(kubeConfig: KubeConfig, namespace: string, verb: string): Promise<string[]> {
  const api = kubeConfig.makeApiClient(AuthorizationV1Api);
  const checks = [
    { group: "", resource: "namespaces", namespace: undefined },
    { group: "apps", resource: "deployments", namespace },
    { group: "batch", resource: "jobs", namespace },
    { group: "", resource: "secrets", namespace },
  ];
  const denied: string[] = [];
  for (const check of checks) {
    let allowed: boolean;
    try {
      const review = await api.createSelfSubjectAccessReview({
        body: {
          spec: { resourceAttributes: { verb, ...check } },
        },
      });
      allowed = review.status?.allowed === true;
    } catch (error) {
      return [
        `preflight: cannot reach the cluster's API as the deploying identity (${(error as Error).message}): check the kubeconfig / EKS access entry of the identity running pulumi`,
      ];
    }
    if (!allowed) denied.push(`${check.resource}${check.group ? `.${check.group}` : ""}`);
  }
  return denied.length === 0
    ? []
    : [
        `preflight: the deploying identity may not ${verb} ${denied.join(", ")} (in ${namespace}): grant it cluster access (EKS: an access entry with AmazonEKSClusterAdminPolicy, or RBAC for these kinds)`,
      ];
}

async function kedaProblems(kubeConfig: KubeConfig, crds: string[]): Promise<string[]> {
  return missingCrdProblems(
    kubeConfig,
    crds,
    "KEDA's CRDs",
    "which the ScaledObjects of worker.autoscaling.mode=queueDepth need: install KEDA in the cluster, or pulumi config set --path keda.install true",
  );
}

/** One message naming the CRDs of `crds` the cluster lacks, what needs them and the fix. */
async function missingCrdProblems(
  kubeConfig: KubeConfig,
  crds: string[],
  what: string,
  neededForAndFix: string,
): Promise<string[]> {
  if (crds.length === 0) return [];
  const api = kubeConfig.makeApiClient(ApiextensionsV1Api);
  const missing: string[] = [];
  for (const name of crds) {
    try {
      await api.readCustomResourceDefinition({ name });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      missing.push(name);
    }
  }
  return missing.length === 0
    ? []
    : [`preflight: the cluster lacks ${what} (${missing.join(", ")}), ${neededForAndFix}`];
}

async function metricsApiProblems(kubeConfig: KubeConfig, neededFor: string[]): Promise<string[]> {
  if (neededFor.length === 0) return [];
  const api = kubeConfig.makeApiClient(ApiregistrationV1Api);
  let state: string;
  try {
    const service = await api.readAPIService({ name: METRICS_API });
    const available = service.status?.conditions?.find((condition) => condition.type === "Available");
    if (available?.status === "True") return [];
    state = `registered but not Available${available?.message ? `: ${available.message}` : ""}`;
  } catch (error) {
    if (!isNotFound(error)) throw error;
    state = "missing";
  }
  return [
    `preflight: the metrics API (APIService ${METRICS_API}) is ${state}, so the CPU autoscaler of ${neededFor.join(" and ")} would never scale: install metrics-server (EKS: aws eks create-addon --addon-name metrics-server), or turn that autoscaling off`,
  ];
}

/** Unbound PersistentVolumes of `className` whose capacity holds `size`. */
async function availableVolumes(kubeConfig: KubeConfig, className: string, size: string): Promise<number> {
  const volumes = (await kubeConfig.makeApiClient(CoreV1Api).listPersistentVolume()).items;
  return volumes.filter(
    (volume) =>
      volume.spec?.storageClassName === className &&
      volume.status?.phase === "Available" &&
      !volume.spec.claimRef &&
      holds(volume.spec.capacity?.storage, size),
  ).length;
}

function holds(capacity: string | undefined, size: string): boolean {
  try {
    return quantityToBytes(capacity ?? "0") >= quantityToBytes(size);
  } catch {
    return false; // a capacity written in a form we do not read is not counted
  }
}

async function storageProblems(kubeConfig: KubeConfig, volumes: VolumeNeed[]): Promise<string[]> {
  if (volumes.length === 0) return [];
  const api = kubeConfig.makeApiClient(StorageV1Api);
  const classes = (await api.listStorageClass()).items;
  const names = classes.map((item) => item.metadata?.name ?? "").sort();
  const known = names.length > 0 ? names.join(", ") : "none";
  const problems: string[] = [];
  const checkedDrivers = new Set<string>();
  for (const volume of volumes) {
    const storageClass = volume.storageClassName
      ? classes.find((item) => item.metadata?.name === volume.storageClassName)
      : classes.find((item) => item.metadata?.annotations?.[DEFAULT_CLASS_ANNOTATION] === "true");
    if (!storageClass) {
      problems.push(
        volume.storageClassName
          ? `preflight: StorageClass "${volume.storageClassName}" (${volume.key}) does not exist, so the volumes of ${volume.claimant} would stay Pending: create it (EKS: provisioner ebs.csi.aws.com, parameters.type gp3) or name one of the cluster's (${known})`
          : `preflight: the cluster has no default StorageClass, so the volumes of ${volume.claimant} (${volume.key}) would stay Pending: name one of the cluster's (${known})${volume.key.startsWith("nats") ? " in nats.storageClassName" : ""}, or mark one default (${DEFAULT_CLASS_ANNOTATION}=true)`,
      );
      continue;
    }
    const className = storageClass.metadata?.name ?? "";
    const provisioner = storageClass.provisioner;
    if (provisioner === NO_PROVISIONER) {
      // Pre-provisioned volumes (local volumes on bare metal): enough Available ones of the size must exist.
      const available = await availableVolumes(kubeConfig, className, volume.size);
      if (available < volume.claims)
        problems.push(
          `preflight: StorageClass "${className}" (${volume.key}) has no dynamic provisioner (${NO_PROVISIONER}) and ${available} Available PersistentVolume(s) of it hold ${volume.size}, so ${volume.claims - available} of the ${volume.claims} volume(s) of ${volume.claimant} would stay Pending: create them (one per claim, at least ${volume.size} each) or name a class with a provisioner (EKS: ebs.csi.aws.com)`,
        );
      continue;
    }
    const driver =
      MIGRATED_PROVISIONERS[provisioner] ??
      (provisioner.startsWith("kubernetes.io/") ? undefined : provisioner);
    if (!driver || checkedDrivers.has(driver)) continue;
    checkedDrivers.add(driver);
    try {
      await api.readCSIDriver({ name: driver });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      problems.push(
        `preflight: StorageClass "${className}" (${volume.key}) provisions through the CSI driver ${driver}, which the cluster does not have, so the volumes of ${volume.claimant} would stay Pending: install it${driver === "ebs.csi.aws.com" ? " (EKS: aws eks create-addon --addon-name aws-ebs-csi-driver, with its IAM role)" : ""}`,
      );
    }
  }
  return problems;
}
