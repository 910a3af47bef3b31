import { RUN_QUEUES } from "./queue-names.js";

export const DISPATCH_ROLES = ["all", "api", "worker"] as const;
export type DispatchRole = (typeof DISPATCH_ROLES)[number];

export interface ResolvedRole {
  role: DispatchRole;
  /** Set when the raw value was not a known role and `all` was chosen instead. */
  warning?: string;
}

/** Resolves MESH_DISPATCH_ROLE. Unknown or empty values fall back to `all` (DESIGN §2.1) with a warning. */
export function resolveRole(raw: string | undefined): ResolvedRole {
  const value = (raw ?? "").trim();
  if ((DISPATCH_ROLES as readonly string[]).includes(value)) return { role: value as DispatchRole };
  if (value === "" && raw === undefined) return { role: "all" };
  return {
    role: "all",
    warning: `MESH_DISPATCH_ROLE=${JSON.stringify(raw)} is not one of ${DISPATCH_ROLES.join(", ")}; running as "all"`,
  };
}

/**
 * The `listenQueues` DBOS setting for a role, or `undefined` when the key must be omitted.
 * `all` omits it (dequeue every queue, like a single-role app); `api` dequeues nothing;
 * `worker` dequeues the run queues.
 */
export function listenQueuesFor(role: DispatchRole): string[] | undefined {
  switch (role) {
    case "all":
      return undefined;
    case "api":
      return [];
    case "worker":
      return [...RUN_QUEUES];
  }
}

export function servesApi(role: DispatchRole): boolean {
  return role !== "worker";
}

export function executesRuns(role: DispatchRole): boolean {
  return role !== "api";
}
