// The mesh Pulumi program, as the Pulumi CLI runs it (Pulumi.yaml `main`). Everything happens in
// meshProgram (infra/program.ts), which the Automation API also runs inline; see infra/stack.ts for
// the wiring and infra/topology.ts for what runs where.
import { meshProgram } from "./program.js";

const outputs = await meshProgram();

export const namespace = outputs.namespace;
export const serviceName = outputs.serviceName;
export const serviceUrl = outputs.serviceUrl;
export const topology = outputs.topology;
export const databaseEndpoint = outputs.databaseEndpoint;
export const natsUrl = outputs.natsUrl;
export const databaseUrl = outputs.databaseUrl;
export const workflowReleases = outputs.workflowReleases;
export const replicaHandoff = outputs.replicaHandoff;
