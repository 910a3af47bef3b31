import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import {
  acceptedNatsGenerations,
  NATS_PORTS,
  NATS_USER_ROLES,
  type NatsServersPlan,
  type NatsUserRole,
  natsClientUrl,
  natsUserName,
} from "../nats-plan.js";
import { NATS_PATHS, renderNatsServerConfig } from "../nats-server-config.js";
import { containerSecurityContext, podSecurityContext } from "./pod-security.js";
import { SECRET_REVISION_ANNOTATION, secretRevisionOutput } from "./secret-revision.js";

export interface NatsArgs {
  namespace: pulumi.Input<string>;
  k8sProvider: k8s.Provider;
  /** mesh's own servers (nats.mode=managed); without them, `externalUrl` is used. */
  servers?: NatsServersPlan;
  /** NATS URL of an existing server (nats.mode=external), a secret. */
  externalUrl?: pulumi.Output<string>;
}

/** Key of the config file in Secret `<name>-config`. */
export const NATS_CONFIG_KEY = "nats.conf";

/**
 * NATS with JetStream for run output: mesh's own StatefulSet (written from NATS's Kubernetes guidance,
 * every object rendered and policy-checked like mesh's own), or an external server.
 *
 * A config change reaches the servers one at a time: the pod template carries the config Secret's
 * revision, so the StatefulSet rolls — highest ordinal first, each pod through lame-duck mode (preStop),
 * the next only once the restarted one passes its startup probe (JetStream current again). A rolling
 * restart rather than NATS's config reload: JetStream, cluster and store settings are not reloadable,
 * and a reloader sidecar would be one more container to harden and keep current.
 */
export class Nats extends pulumi.ComponentResource {
  /** The client URL, without credentials (a stack output). */
  readonly natsUrl: pulumi.Output<string>;
  /** Each workload's URL with its user's credentials (secrets, for Secret `mesh`). */
  readonly clientUrls: Record<NatsUserRole, pulumi.Output<string>>;

  constructor(name: string, args: NatsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mesh:infra:Nats", name, {}, opts);
    if (!args.servers) {
      if (!args.externalUrl) throw new Error("Nats needs servers (managed) or externalUrl (external)");
      // An external NATS: its URL carries whatever credentials it needs, the same for every workload.
      this.natsUrl = args.externalUrl;
      this.clientUrls = {
        main: args.externalUrl,
        api: args.externalUrl,
        worker: args.externalUrl,
        migrate: args.externalUrl,
      };
    } else {
      // A password per workload and accepted generation. Generation 0 keeps the resource names stacks
      // had before rotation existed; the previous generation's resources stay in the program (and so
      // keep their values) until the generation after next drops them.
      const generation = args.servers.credentialGeneration;
      const passwordsOf = (gen: number) =>
        Object.fromEntries(
          NATS_USER_ROLES.map((role) => [
            role,
            new random.RandomPassword(
              gen === 0 ? `${name}-${role}-password` : `${name}-${role}-password-g${gen}`,
              { length: 32, special: false },
              { parent: this },
            ).result,
          ]),
        ) as Record<NatsUserRole, pulumi.Output<string>>;
      const generations = acceptedNatsGenerations(generation).map((gen) => ({
        generation: gen,
        userPasswords: passwordsOf(gen),
      }));
      const current = generations.find((entry) => entry.generation === generation);
      if (!current) throw new Error(`NATS credential generation ${generation} is not among those accepted`);
      this.natsUrl = this.servers(name, args.servers, args, generations);
      const withUser = (role: NatsUserRole) =>
        pulumi.secret(
          pulumi
            .all([this.natsUrl, current.userPasswords[role]])
            .apply(([url, password]) =>
              url.replace(
                "nats://",
                `nats://${natsUserName(role, generation)}:${encodeURIComponent(password)}@`,
              ),
            ),
        );
      this.clientUrls = {
        main: withUser("main"),
        api: withUser("api"),
        worker: withUser("worker"),
        migrate: withUser("migrate"),
      };
    }
    this.registerOutputs({ natsUrl: this.natsUrl });
  }

  private servers(
    name: string,
    servers: NatsServersPlan,
    args: NatsArgs,
    generations: { generation: number; userPasswords: Record<NatsUserRole, pulumi.Output<string>> }[],
  ): pulumi.Output<string> {
    const childOpts = { parent: this, provider: args.k8sProvider };
    const { namespace } = args;
    const metadata = (objectName: string) => ({ name: objectName, namespace, labels: servers.labels });

    // A pod that can reach 6222 but lacks this password cannot join the cluster.
    const routePassword = new random.RandomPassword(
      `${name}-route-password`,
      { length: 32, special: false },
      { parent: this },
    );
    const configText = pulumi
      .all([
        namespace,
        routePassword.result,
        pulumi.all(generations.map((entry) => pulumi.all(entry.userPasswords))),
      ])
      .apply(([ns, password, passwords]) =>
        renderNatsServerConfig(servers, ns, {
          routePassword: password,
          generations: generations.map((entry, index) => ({
            generation: entry.generation,
            userPasswords: passwords[index] as Record<NatsUserRole, string>,
          })),
        }),
      );
    const configSecret = new k8s.core.v1.Secret(
      `${name}-config`,
      {
        metadata: metadata(`${servers.name}-config`),
        type: "Opaque",
        stringData: { [NATS_CONFIG_KEY]: pulumi.secret(configText) },
      },
      childOpts,
    );
    // Rolls the servers when the config changes; an HMAC keyed by the Secret's uid reveals nothing of it.
    const configRevision = secretRevisionOutput(configSecret.metadata.uid, { [NATS_CONFIG_KEY]: configText });

    const serviceAccount = new k8s.core.v1.ServiceAccount(
      `${name}-service-account`,
      { metadata: metadata(servers.name), automountServiceAccountToken: false },
      childOpts,
    );
    const ports = [
      { name: "client", port: NATS_PORTS.client, targetPort: "client", protocol: "TCP" },
      { name: "cluster", port: NATS_PORTS.cluster, targetPort: "cluster", protocol: "TCP" },
      { name: "monitor", port: NATS_PORTS.monitor, targetPort: "monitor", protocol: "TCP" },
    ];
    // Stable per-pod DNS names for the routes; published before the pods are ready, since a server
    // becomes ready only once it has found its peers.
    const headless = new k8s.core.v1.Service(
      `${name}-headless`,
      {
        metadata: metadata(servers.headlessServiceName),
        spec: {
          clusterIP: "None",
          publishNotReadyAddresses: true,
          selector: servers.selectorLabels,
          ports,
        },
      },
      childOpts,
    );
    const client = new k8s.core.v1.Service(
      `${name}-client`,
      {
        metadata: metadata(servers.name),
        spec: { type: "ClusterIP", selector: servers.selectorLabels, ports: [ports[0] as (typeof ports)[0]] },
      },
      childOpts,
    );
    new k8s.policy.v1.PodDisruptionBudget(
      `${name}-pdb`,
      {
        metadata: metadata(servers.name),
        spec: { maxUnavailable: 1, selector: { matchLabels: servers.selectorLabels } },
      },
      childOpts,
    );

    const healthz = (query: string) => ({ httpGet: { path: `/healthz${query}`, port: "monitor" } });
    new k8s.apps.v1.StatefulSet(
      `${name}-statefulset`,
      {
        metadata: metadata(servers.name),
        spec: {
          serviceName: headless.metadata.name,
          replicas: servers.replicas,
          // Start (and scale) every server at once: a cluster's first server cannot become ready alone.
          // Rolling updates still replace one pod at a time.
          podManagementPolicy: "Parallel",
          updateStrategy: { type: "RollingUpdate" },
          selector: { matchLabels: servers.selectorLabels },
          // The JetStream volumes outlive the StatefulSet (stack destroy, scale-in): deleting stored
          // streams is an operator's decision (docs/operations.md).
          persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
          template: {
            metadata: {
              labels: servers.labels,
              annotations: { [SECRET_REVISION_ANNOTATION]: configRevision },
            },
            spec: {
              serviceAccountName: serviceAccount.metadata.name,
              automountServiceAccountToken: false,
              securityContext: podSecurityContext,
              terminationGracePeriodSeconds: servers.terminationGracePeriodSeconds,
              topologySpreadConstraints: [
                {
                  maxSkew: 1,
                  topologyKey: "topology.kubernetes.io/zone",
                  whenUnsatisfiable: "ScheduleAnyway",
                  labelSelector: { matchLabels: servers.selectorLabels },
                },
                {
                  maxSkew: 1,
                  topologyKey: "kubernetes.io/hostname",
                  whenUnsatisfiable: "DoNotSchedule",
                  labelSelector: { matchLabels: servers.selectorLabels },
                },
              ],
              containers: [
                {
                  name: "nats",
                  image: servers.image,
                  command: ["nats-server", "--config", NATS_PATHS.configFile],
                  ports: [
                    { name: "client", containerPort: NATS_PORTS.client },
                    { name: "cluster", containerPort: NATS_PORTS.cluster },
                    { name: "monitor", containerPort: NATS_PORTS.monitor },
                  ],
                  env: [
                    { name: "SERVER_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                    { name: "GOMEMLIMIT", value: servers.goMemLimit },
                  ],
                  resources: servers.resources,
                  // NATS's guidance: startup waits for JetStream to be current (gating the rolling
                  // restart), liveness asks only that JetStream runs, readiness that the server serves it.
                  startupProbe: {
                    ...healthz(""),
                    periodSeconds: 10,
                    timeoutSeconds: 5,
                    failureThreshold: 90,
                  },
                  livenessProbe: {
                    ...healthz("?js-enabled-only=true"),
                    periodSeconds: 30,
                    timeoutSeconds: 5,
                    failureThreshold: 3,
                  },
                  readinessProbe: {
                    ...healthz("?js-server-only=true"),
                    periodSeconds: 10,
                    timeoutSeconds: 5,
                    failureThreshold: 3,
                  },
                  // Lame-duck mode: stop accepting clients, move the connected ones off over the lame-duck
                  // duration, hand over stream leadership, then exit; SIGTERM is ignored meanwhile.
                  lifecycle: {
                    preStop: { exec: { command: ["nats-server", "--signal", `ldm=${NATS_PATHS.pidFile}`] } },
                  },
                  securityContext: containerSecurityContext,
                  volumeMounts: [
                    { name: "config", mountPath: NATS_PATHS.configDir, readOnly: true },
                    { name: "pid", mountPath: NATS_PATHS.pidDir },
                    { name: "data", mountPath: NATS_PATHS.dataDir },
                  ],
                },
              ],
              volumes: [
                { name: "config", secret: { secretName: configSecret.metadata.name } },
                { name: "pid", emptyDir: { sizeLimit: "1Mi" } },
              ],
            },
          },
          volumeClaimTemplates: [
            {
              // Immutable once created: only the selector labels, which never change (the version does).
              metadata: { name: "data", labels: servers.selectorLabels },
              spec: {
                accessModes: ["ReadWriteOnce"],
                ...(servers.storageClassName ? { storageClassName: servers.storageClassName } : {}),
                resources: { requests: { storage: servers.fileStorageSize } },
              },
            },
          ],
        },
      },
      { ...childOpts, dependsOn: [client] },
    );
    return pulumi.output(namespace).apply((ns) => natsClientUrl(servers, ns));
  }
}
