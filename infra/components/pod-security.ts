import type * as k8s from "@pulumi/kubernetes";

// The hardened security settings of DESIGN §3.2, shared by every mesh pod (Deployments and the Job).

export const RUN_AS_USER = 1000;

export const podSecurityContext: k8s.types.input.core.v1.PodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: RUN_AS_USER,
  runAsGroup: RUN_AS_USER,
  fsGroup: RUN_AS_USER,
  seccompProfile: { type: "RuntimeDefault" },
};

export const containerSecurityContext: k8s.types.input.core.v1.SecurityContext = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  privileged: false,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

/** A writable /tmp on a read-only root filesystem. */
export const tmpVolume = { name: "tmp", emptyDir: { sizeLimit: "64Mi" } };
export const tmpVolumeMount = { name: "tmp", mountPath: "/tmp" };
