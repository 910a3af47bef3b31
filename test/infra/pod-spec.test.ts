import assert from "node:assert/strict";
import { READINESS_DATABASE_TIMEOUT_MS } from "../../app/http/readiness.js";
import { envOf, mainContainer, objectOf, type RenderedStack, renderStack } from "./support.js";

// Fixture: prod (api + workers). The mock engine takes 300 ms to "create" the migration Job, so a
// Deployment that did not wait for it would register before the Job completed.
const JOB_CREATE_MS = 300;

describe("pods of both Deployments (DESIGN §3.2)", () => {
  let prod: RenderedStack;
  before(async () => {
    prod = await renderStack("prod", [], { createDelayMs: { "kubernetes:batch/v1:Job": JOB_CREATE_MS } });
  });

  const deployments = () => ["mesh", "mesh-worker"].map((name) => objectOf(prod.objects, "Deployment", name));

  it("run hardened: non-root, read-only root filesystem, no privilege escalation, no capabilities, RuntimeDefault seccomp", () => {
    for (const deployment of [...deployments(), prod.objects.find((object) => object.kind === "Job")]) {
      const pod = deployment?.spec.template.spec;
      assert.equal(pod.securityContext.runAsNonRoot, true);
      assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
      assert.equal(pod.automountServiceAccountToken, false);
      for (const container of pod.containers) {
        const context = container.securityContext;
        assert.equal(context.runAsNonRoot, true);
        assert.equal(context.readOnlyRootFilesystem, true);
        assert.equal(context.allowPrivilegeEscalation, false);
        assert.deepEqual(context.capabilities.drop, ["ALL"]);
        assert.equal(context.capabilities.add, undefined);
        assert.equal(context.seccompProfile.type, "RuntimeDefault");
        assert.ok(
          container.resources.requests.cpu && container.resources.requests.memory,
          "resource requests",
        );
      }
    }
  });

  it("probe liveness and readiness on the pod's own port, workers included", () => {
    for (const deployment of deployments()) {
      const container = mainContainer(deployment);
      assert.deepEqual(container.ports, [{ name: "http", containerPort: 8080, protocol: "TCP" }]);
      assert.deepEqual(container.livenessProbe.httpGet, { path: "/healthz", port: "http" });
      assert.deepEqual(container.readinessProbe.httpGet, { path: "/readyz", port: "http" });
      // Readiness reads Postgres (bounded by the app below the probe's timeout); liveness never does.
      assert.ok(container.readinessProbe.timeoutSeconds * 1000 > READINESS_DATABASE_TIMEOUT_MS);
      assert.equal(container.livenessProbe.timeoutSeconds, 2);
      assert.equal(container.startupProbe.timeoutSeconds, 2);
    }
  });

  it("take POD_NAME from the downward API and the role, grace and migration settings from the plan", () => {
    const [main, worker] = deployments();
    assert.ok(main && worker);
    for (const deployment of [main, worker]) {
      assert.deepEqual(envOf(deployment).POD_NAME, { fieldRef: { fieldPath: "metadata.name" } });
      assert.equal(envOf(deployment).MESH_AUTO_MIGRATE, "false");
    }
    assert.equal(envOf(main).MESH_DISPATCH_ROLE, "api");
    assert.equal(envOf(worker).MESH_DISPATCH_ROLE, "worker");
    assert.equal(envOf(worker).MESH_WORKER_CONCURRENCY, "8");
    const mainGrace = main.spec.template.spec.terminationGracePeriodSeconds;
    const workerGrace = worker.spec.template.spec.terminationGracePeriodSeconds;
    assert.ok(workerGrace > mainGrace, "workers get the longer grace period");
    assert.equal(Number(envOf(worker).MESH_SHUTDOWN_GRACE_MS), (workerGrace - 5) * 1000);
    assert.ok(Number(envOf(main).MESH_SHUTDOWN_GRACE_MS) < mainGrace * 1000);
    assert.deepEqual(mainContainer(main).lifecycle.preStop.exec.command, ["sleep", "5"]);
    assert.equal(mainContainer(worker).lifecycle, undefined);
  });

  it("leave the queue wake-up at the app's defaults, and pass queues.wake=false and queues.pollMs to the Job that owns them", async () => {
    const job = (stack: RenderedStack) => stack.objects.find((object) => object.kind === "Job");
    const jobEnv = (stack: RenderedStack) => {
      const env: Record<string, string> = {};
      for (const entry of job(stack)?.spec.template.spec.containers[0].env ?? [])
        env[entry.name] = entry.value;
      return env;
    };
    for (const name of ["mesh", "mesh-worker"]) {
      const env = envOf(objectOf(prod.objects, "Deployment", name));
      assert.equal(env.MESH_QUEUE_WAKE, undefined, `${name}: the wake-up is on by default`);
    }
    assert.equal(jobEnv(prod).MESH_QUEUE_WAKE, undefined);
    assert.equal(jobEnv(prod).MESH_QUEUE_POLL_MS, undefined);

    const off = await renderStack("prod", ["queues.wake=false", "queues.pollMs=100"]);
    assert.equal(jobEnv(off).MESH_QUEUE_WAKE, "false", "the migration removes the trigger");
    assert.equal(jobEnv(off).MESH_QUEUE_POLL_MS, "100", "and writes the interval");
    assert.notEqual(job(off)?.metadata.name, job(prod)?.metadata.name, "a new release: a new Job");
    for (const name of ["mesh", "mesh-worker"]) {
      const env = envOf(objectOf(off.objects, "Deployment", name));
      assert.equal(env.MESH_QUEUE_WAKE, "false", `${name} stops listening`);
      assert.equal(env.MESH_QUEUE_POLL_MS, undefined, `${name}: the Job owns the interval`);
    }
  });

  it("carry the stack's extraEnv after the env mesh manages, in both tiers and not in the migration Job", async () => {
    const stack = await renderStack("prod", ["extraEnv.MESH_BUILTIN_TOKENS=60", "extraEnv.LOG_LEVEL=debug"]);
    for (const name of ["mesh", "mesh-worker"]) {
      const deployment = objectOf(stack.objects, "Deployment", name);
      const managed = mainContainer(objectOf(prod.objects, "Deployment", name)).env;
      const env = mainContainer(deployment).env;
      assert.deepEqual(env.slice(0, managed.length), managed, `${name}: managed entries keep their places`);
      assert.deepEqual(env.slice(managed.length), [
        { name: "LOG_LEVEL", value: "debug" },
        { name: "MESH_BUILTIN_TOKENS", value: "60" },
      ]);
    }
    const job = stack.objects.find((object) => object.kind === "Job");
    assert.ok(job);
    assert.equal(JSON.stringify(job).includes("MESH_BUILTIN_TOKENS"), false);
  });

  it("register the Deployments only after the migration Job is created", () => {
    const job = prod.resources.find((resource) => resource.type === "kubernetes:batch/v1:Job");
    assert.ok(job);
    const rolled = prod.resources.filter((resource) => resource.type === "kubernetes:apps/v1:Deployment");
    assert.equal(rolled.length, 2);
    for (const deployment of rolled) {
      assert.ok(
        deployment.registeredAtMs >= job.completedAtMs,
        `${deployment.name} registered at ${deployment.registeredAtMs} ms, before the Job finished at ${job.completedAtMs} ms`,
      );
    }
  });
});

describe("the run console in Kubernetes (api.console)", () => {
  it("is off by default: no pod serves /console", async () => {
    const prod = await renderStack("prod");
    for (const name of ["mesh", "mesh-worker"])
      assert.equal(envOf(objectOf(prod.objects, "Deployment", name)).MESH_CONSOLE, undefined, name);
  });

  it("is served by the api tier only when the stack switches it on, never by workers", async () => {
    const prod = await renderStack("prod", ["api.console=true"]);
    assert.equal(envOf(objectOf(prod.objects, "Deployment", "mesh")).MESH_CONSOLE, "true");
    assert.equal(envOf(objectOf(prod.objects, "Deployment", "mesh-worker")).MESH_CONSOLE, undefined);
  });

  it("cannot be switched through extraEnv, which would bypass the stack's own setting", async () => {
    await assert.rejects(
      renderStack("dev", ["extraEnv.MESH_CONSOLE=true"]),
      /MESH_CONSOLE.*is set by mesh itself/s,
    );
  });
});
