// Importing this module registers every workflow with DBOS (DESIGN §2.1 step 4).
export { agentRun } from "./agent-run.js";
export { automationRun } from "./automation-run.js";
