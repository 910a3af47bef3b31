// `npm run render -- --stack prod [--set worker.enabled=true ...] [--out dir]`
// `npm run render -- --stack dev --diff-set worker.enabled=true` (or `--diff-stack prod`)
// Runs the Pulumi program with a stack's config under Pulumi's mock runtime — no cloud, no credentials —
// and writes the Kubernetes objects it would create (secrets redacted), the Helm releases, and a
// summary of the AWS resources; or prints what a config change would change, object by object.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { awsSummary } from "./aws-summary.js";
import { renderedConfigFiles } from "./config-files.js";
import { helmCharts, kubernetesObjects, toStableYaml } from "./kubernetes-objects.js";
import { diffObjects, formatDiff } from "./object-diff.js";
import { MockProgramError, runUnderMocks } from "./run-under-mocks.js";
import { loadStackConfig } from "./stack-file.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

const USAGE = `usage: npm run render -- --stack <name> [--set key.path=value ...] [--out dir]
       npm run render -- --stack <name> [--set ...] (--diff-stack <name> | --diff-set key.path=value ...)`;

export async function renderStack(stack: string, overrides: string[]) {
  const { config, secretKeys } = loadStackConfig(stack, { root: ROOT, overrides });
  const result = await runUnderMocks({ stack, config, secretKeys });
  return {
    objects: kubernetesObjects(result.resources),
    charts: helmCharts(result.resources),
    aws: awsSummary(result.resources),
    configFiles: renderedConfigFiles(result.resources),
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      stack: { type: "string" },
      set: { type: "string", multiple: true, default: [] },
      out: { type: "string" },
      "diff-stack": { type: "string" },
      "diff-set": { type: "string", multiple: true, default: [] },
    },
  });
  if (!values.stack) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const base = await renderStack(values.stack, values.set ?? []);
  const diffSets = values["diff-set"] ?? [];
  if (values["diff-stack"] || diffSets.length > 0) {
    const other = await renderStack(values["diff-stack"] ?? values.stack, [
      ...(values.set ?? []),
      ...diffSets,
    ]);
    process.stdout.write(`${formatDiff(diffObjects(base.objects, other.objects))}\n`);
    return 0;
  }
  const files = {
    "kubernetes.yaml": toStableYaml(base.objects),
    "helm-charts.yaml": toStableYaml(base.charts),
    "aws.yaml": stringify(base.aws, { sortMapEntries: true, lineWidth: 0 }),
    ...base.configFiles,
  };
  if (values.out) {
    const dir = join(values.out, values.stack);
    mkdirSync(dir, { recursive: true });
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    process.stderr.write(
      `wrote ${Object.keys(files)
        .map((name) => join(dir, name))
        .join(", ")}\n`,
    );
  } else {
    process.stdout.write(
      `${files["kubernetes.yaml"]}---\n# Helm releases\n${files["helm-charts.yaml"]}---\n# AWS resources\n${files["aws.yaml"]}${Object.entries(
        base.configFiles,
      )
        .map(([name, text]) => `---\n# ${name} (credentials redacted)\n${text}`)
        .join("")}`,
    );
  }
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      // Invalid config: the MeshConfigError message lists every problem with its key.
      process.stderr.write(
        `render: ${error instanceof MockProgramError ? error.message : (error as Error).stack}\n`,
      );
      process.exit(1);
    },
  );
}
