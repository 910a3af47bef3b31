/**
 * The version of the workflow code, used as DBOS `applicationVersion`.
 * Bump it only when a change to workflow code makes in-flight runs unable to resume (changed step
 * order or step outputs). It is deliberately not the image tag and not DBOS's source hash: those
 * change on every deploy and would strand in-flight work on executors of the old version.
 */
export const WORKFLOW_CODE_VERSION = "mesh-wf-1";
