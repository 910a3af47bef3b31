import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { POD_DELETION_COST_ANNOTATION, SERVICE_ACCOUNT_DIR } from "../../app/scale-in/in-cluster-api.js";

/** The ServiceAccount of every worker pod when pod-deletion-cost is on (worker.podDeletionCost). */
export const WORKER_SERVICE_ACCOUNT = "mesh-worker";

/** Seconds a worker's projected token lives; the kubelet renews it at 80 %, the app rereads it per write. */
const TOKEN_EXPIRATION_SECONDS = 3600;

export interface WorkerDeletionCostArgs {
  namespace: pulumi.Input<string>;
  /** The namespace's name as a plain string: the admission policy's expressions and name carry it. */
  namespaceName: string;
  labels: Record<string, string>;
  k8sProvider: k8s.Provider;
}

/**
 * What lets a worker keep its own pod's `controller.kubernetes.io/pod-deletion-cost` current, and nothing
 * more: a ServiceAccount, a Role that may patch pods in the namespace (RBAC cannot name "the caller's own
 * pod"), and a ValidatingAdmissionPolicy that narrows it to exactly that: the pod named in the caller's
 * pod-bound token (`authentication.kubernetes.io/pod-name`), and no change but that annotation.
 */
export class WorkerDeletionCost extends pulumi.ComponentResource {
  readonly serviceAccountName: pulumi.Output<string>;

  constructor(name: string, args: WorkerDeletionCostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mesh:infra:WorkerDeletionCost", name, {}, opts);
    const childOpts = { parent: this, provider: args.k8sProvider };
    const { namespace, namespaceName, labels } = args;
    const metadata = { name: WORKER_SERVICE_ACCOUNT, namespace, labels };

    const serviceAccount = new k8s.core.v1.ServiceAccount(
      `${name}-service-account`,
      // Only the worker pods' own projected volume carries a token (workerTokenVolume), nothing automatic.
      { metadata, automountServiceAccountToken: false },
      childOpts,
    );
    const role = new k8s.rbac.v1.Role(
      `${name}-role`,
      { metadata, rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["patch"] }] },
      childOpts,
    );
    new k8s.rbac.v1.RoleBinding(
      `${name}-role-binding`,
      {
        metadata,
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: serviceAccount.metadata.name, namespace }],
      },
      childOpts,
    );
    // Cluster-scoped: named after the namespace, so two stacks in one cluster never share one.
    const policyName = `mesh-worker-own-pod.${namespaceName}`;
    const policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
      `${name}-policy`,
      {
        metadata: { name: policyName, labels },
        spec: {
          failurePolicy: "Fail",
          matchConstraints: {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespaceName } },
            resourceRules: [
              { apiGroups: [""], apiVersions: ["v1"], operations: ["UPDATE"], resources: ["pods"] },
            ],
          },
          matchConditions: [
            {
              name: "mesh-worker-service-account",
              expression: `request.userInfo.username == "system:serviceaccount:${namespaceName}:${WORKER_SERVICE_ACCOUNT}"`,
            },
          ],
          variables: [
            {
              name: "annotations",
              expression: "has(object.metadata.annotations) ? object.metadata.annotations : {}",
            },
            {
              name: "oldAnnotations",
              expression: "has(oldObject.metadata.annotations) ? oldObject.metadata.annotations : {}",
            },
          ],
          validations: [
            {
              expression:
                "'authentication.kubernetes.io/pod-name' in request.userInfo.extra && request.userInfo.extra['authentication.kubernetes.io/pod-name'] == [object.metadata.name]",
              message: "a mesh worker may write only its own pod (the pod its token is bound to)",
              reason: "Forbidden",
            },
            {
              expression: [
                `variables.annotations.all(key, key == "${POD_DELETION_COST_ANNOTATION}" || (key in variables.oldAnnotations && variables.oldAnnotations[key] == variables.annotations[key]))`,
                `variables.oldAnnotations.all(key, key == "${POD_DELETION_COST_ANNOTATION}" || key in variables.annotations)`,
                "object.spec == oldObject.spec",
                "(has(object.metadata.labels) ? object.metadata.labels : {}) == (has(oldObject.metadata.labels) ? oldObject.metadata.labels : {})",
                "(has(object.metadata.finalizers) ? object.metadata.finalizers : []) == (has(oldObject.metadata.finalizers) ? oldObject.metadata.finalizers : [])",
                "(has(object.metadata.ownerReferences) ? object.metadata.ownerReferences : []) == (has(oldObject.metadata.ownerReferences) ? oldObject.metadata.ownerReferences : [])",
              ].join(" && "),
              message: `a mesh worker may change only its pod's ${POD_DELETION_COST_ANNOTATION} annotation`,
              reason: "Forbidden",
            },
          ],
        },
      },
      childOpts,
    );
    new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
      `${name}-policy-binding`,
      {
        metadata: { name: policyName, labels },
        spec: {
          policyName: policy.metadata.name,
          validationActions: ["Deny"],
          matchResources: {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespaceName } },
          },
        },
      },
      childOpts,
    );
    this.serviceAccountName = serviceAccount.metadata.name;
    this.registerOutputs({ serviceAccountName: this.serviceAccountName });
  }
}

/**
 * The worker pod's token, its cluster's CA and its namespace where in-cluster clients look for them: a
 * projected volume bound to the pod, so the API server knows which pod the caller is.
 */
export const workerTokenVolume = {
  name: "kubernetes-api",
  projected: {
    sources: [
      { serviceAccountToken: { path: "token", expirationSeconds: TOKEN_EXPIRATION_SECONDS } },
      { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
      { downwardAPI: { items: [{ path: "namespace", fieldRef: { fieldPath: "metadata.namespace" } }] } },
    ],
  },
};
export const workerTokenVolumeMount = {
  name: "kubernetes-api",
  mountPath: SERVICE_ACCOUNT_DIR,
  readOnly: true,
};
