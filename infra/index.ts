// The mesh Pulumi program: validate the whole stack config first (no resource is registered when it
// is invalid), then build the stack. See infra/stack.ts for the wiring and infra/topology.ts for what
// runs where.
import * as pulumi from "@pulumi/pulumi";
import { MeshConfigError, parseMeshConfig, readStackConfig } from "./config.js";
import { createMeshStack } from "./stack.js";

function validatedConfig() {
  try {
    return parseMeshConfig(readStackConfig());
  } catch (error) {
    // RunError: Pulumi prints the message (every problem, each naming its key) without a stack trace.
    if (error instanceof MeshConfigError) throw new pulumi.RunError(error.message);
    throw error;
  }
}

const outputs = createMeshStack(validatedConfig());

export const namespace = outputs.namespace;
export const serviceName = outputs.serviceName;
export const serviceUrl = outputs.serviceUrl;
export const topology = outputs.topology;
export const databaseEndpoint = outputs.databaseEndpoint;
export const natsUrl = outputs.natsUrl;
export const databaseUrl = outputs.databaseUrl;
