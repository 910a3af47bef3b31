import assert from "node:assert/strict";
import { AUTOMATIONS_QUEUE, RUN_QUEUES, THREAD_GATE_QUEUE } from "../app/queue-names.js";
import { listenQueuesFor, resolveRole } from "../app/role.js";

describe("dispatch role resolution", () => {
  it("accepts the three roles, trimmed", () => {
    assert.deepEqual(resolveRole("all"), { role: "all" });
    assert.deepEqual(resolveRole(" api "), { role: "api" });
    assert.deepEqual(resolveRole("worker\n"), { role: "worker" });
  });

  it("defaults to all without a warning when MESH_DISPATCH_ROLE is unset", () => {
    assert.deepEqual(resolveRole(undefined), { role: "all" });
  });

  it("falls back to all with a warning for an empty value", () => {
    const resolved = resolveRole("  ");
    assert.equal(resolved.role, "all");
    assert.match(resolved.warning ?? "", /MESH_DISPATCH_ROLE=" {2}" is not one of all, api, worker/);
  });

  it("falls back to all with a warning for an unknown value, case included", () => {
    for (const raw of ["workers", "API", "both"]) {
      const resolved = resolveRole(raw);
      assert.equal(resolved.role, "all", raw);
      assert.match(resolved.warning ?? "", /running as "all"/);
    }
  });
});

describe("listenQueues per role", () => {
  it("omits the key for all, so DBOS dequeues every queue", () => {
    assert.equal(listenQueuesFor("all"), undefined);
  });

  it("listens to no queue for api", () => {
    assert.deepEqual(listenQueuesFor("api"), []);
  });

  it("listens to exactly the run queues for worker", () => {
    assert.deepEqual(listenQueuesFor("worker"), [THREAD_GATE_QUEUE, AUTOMATIONS_QUEUE]);
    assert.deepEqual(RUN_QUEUES, ["thread-gate", "automations"]);
  });
});
