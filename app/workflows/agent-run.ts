import { DBOS } from "@dbos-inc/dbos-sdk";
import { THREAD_GATE_QUEUE } from "../queue-names.js";
import { executeAgentRun } from "./execute-agent-run.js";
import type { RunRequest, RunResult } from "./run-types.js";

export const AGENT_RUN_WORKFLOW = "agentRun";

/** An agent run accepted over HTTP, executed from the thread-gate queue. */
export const agentRun = DBOS.registerWorkflow(
  async (request: RunRequest): Promise<RunResult> => {
    const runId = DBOS.workflowID;
    if (!runId) throw new Error("agentRun must run as a workflow");
    return executeAgentRun(runId, THREAD_GATE_QUEUE, request.input, request.enqueuedAt);
  },
  { name: AGENT_RUN_WORKFLOW },
);
