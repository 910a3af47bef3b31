// mesh's policy pack: `pulumi preview --policy-pack policy`. The rule logic lives in rules.ts as plain
// functions, tested against rendered stacks; this file only wires them into @pulumi/policy.
import { PolicyPack, type ReportViolation } from "@pulumi/policy";
import { type PolicyResource, resourceRules, stackRules } from "./rules.js";

const report = (reportViolation: ReportViolation, messages: string[]) => {
  for (const message of messages) reportViolation(message);
};

new PolicyPack("mesh", {
  policies: [
    {
      name: "service-selects-no-workers",
      description: "No Service selects worker pods: workers never receive load-balanced traffic.",
      enforcementLevel: "mandatory",
      validateStack: (args, reportViolation) =>
        report(reportViolation, stackRules.serviceSelectsNoWorkers(args.resources as PolicyResource[])),
    },
    {
      name: "api-role-requires-workers",
      description: "dispatchRole=api only with at least one worker replica.",
      enforcementLevel: "mandatory",
      validateStack: (args, reportViolation) =>
        report(reportViolation, stackRules.apiRoleRequiresWorkers(args.resources as PolicyResource[])),
    },
    {
      name: "namespace-default-deny",
      description:
        "A namespace that runs mesh denies ingress by default (a NetworkPolicy selecting every pod).",
      enforcementLevel: "mandatory",
      validateStack: (args, reportViolation) =>
        report(reportViolation, stackRules.namespaceDefaultDeny(args.resources as PolicyResource[])),
    },
    {
      name: "pods-hardened",
      description: "Every container has resource requests, probes and the hardened security context.",
      enforcementLevel: "mandatory",
      validateResource: (args, reportViolation) => report(reportViolation, resourceRules.podsHardened(args)),
    },
    {
      name: "rds-private-encrypted",
      description: "RDS instances are private and encrypted at rest.",
      enforcementLevel: "mandatory",
      validateResource: (args, reportViolation) =>
        report(reportViolation, resourceRules.rdsPrivateAndEncrypted(args)),
    },
    {
      name: "no-plaintext-secret-env",
      description: "No plaintext secret in a container's env: secrets come from Kubernetes Secrets.",
      enforcementLevel: "mandatory",
      validateResource: (args, reportViolation) =>
        report(reportViolation, resourceRules.noPlaintextSecretEnv(args)),
    },
  ],
});
