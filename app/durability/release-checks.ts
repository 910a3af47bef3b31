import pg from "pg";
import { RUN_QUEUES } from "../queue-names.js";

// What the release's migration Job checks before any Deployment rolls (the Deployments wait for the Job,
// and Pulumi deletes nothing of an update whose Job failed): that the image carries the workflow version
// the stack deploys it as, and that no version the update retires still has a run that needs its code.

export { RELEASE_REFUSED_EXIT_CODE } from "./release-refused.js";

export class ReleaseRefusedError extends Error {
  override name = "ReleaseRefusedError";
}

/** Refuses an image whose workflow code is not the version the stack config says (workflow.version). */
export function checkImageWorkflowVersion(imageVersion: string, expected: string | undefined): void {
  if (expected === undefined || expected === imageVersion) return;
  throw new ReleaseRefusedError(
    `the image carries workflow version ${imageVersion} but the stack deploys it as ${expected} (mesh:workflow.version): set workflow.version to ${imageVersion}, or deploy the image built from the commit whose app/version.ts says ${expected}`,
  );
}

/** How many of a version's runs need its code, and the first few of them. */
export interface RunsNeedingVersion {
  version: string;
  count: number;
  runIds: string[];
}

/**
 * The runs each retiring version still has that need its code: waiting or running with at least one
 * recorded step. Version-free runs (no step yet) are not counted: the reaper moves them to the dispatch
 * version once their version's workers are gone (app/durability/workflow-versions.ts).
 */
export async function runsNeedingVersions(
  databaseUrl: string,
  versions: string[],
): Promise<RunsNeedingVersion[]> {
  if (versions.length === 0) return [];
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client
      .query<{ version: string; count: string; run_ids: string[] }>(
        `SELECT ws.application_version AS version, count(*)::text AS count,
              (array_agg(ws.workflow_uuid ORDER BY ws.created_at))[1:10] AS run_ids
         FROM dbos.workflow_status ws
        WHERE ws.application_version = ANY($1) AND ws.queue_name = ANY($2)
          AND ws.status IN ('ENQUEUED', 'PENDING')
          AND EXISTS (SELECT 1 FROM dbos.operation_outputs o WHERE o.workflow_uuid = ws.workflow_uuid)
        GROUP BY ws.application_version ORDER BY ws.application_version`,
        [versions, RUN_QUEUES],
      )
      // A database DBOS never migrated has no runs at all.
      .catch((error: Error & { code?: string }) => {
        if (error.code === "42P01") return { rows: [] };
        throw error;
      });
    return rows.map((row) => ({ version: row.version, count: Number(row.count), runIds: row.run_ids }));
  } finally {
    await client.end();
  }
}

/** Refuses to retire a version while a run needs its code; the message names the runs. */
export async function checkRetiringVersions(databaseUrl: string, versions: string[]): Promise<void> {
  const blocking = await runsNeedingVersions(databaseUrl, versions);
  if (blocking.length === 0) return;
  const lines = blocking.map(
    (entry) =>
      `${entry.version}: ${entry.count} run${entry.count === 1 ? "" : "s"} with completed steps (${entry.runIds.join(", ")}${entry.count > entry.runIds.length ? ", ..." : ""})`,
  );
  throw new ReleaseRefusedError(
    `cannot retire ${blocking.map((entry) => entry.version).join(", ")}: runs still need that code, and would be stranded without its workers — ${lines.join("; ")}. Remove the version from mesh:workflow.retired and retire it once GET /v1/queues shows no run for it, or cancel those runs (docs/operations.md, 'Upgrading the workflow version')`,
  );
}
