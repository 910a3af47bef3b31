import { fileURLToPath } from "node:url";
import ts from "typescript";
import type { KubernetesObject } from "./kubernetes-objects.js";

// Validation of rendered objects against the Kubernetes OpenAPI schema, in two complementary passes:
// - kubernetes-models: JSON-schema validators generated from the OpenAPI spec (types, enums, required
//   fields, formats). Its schemas allow unknown properties, so a misspelt field would pass...
// - kubernetes-types: TypeScript types generated from the same spec. Type-checking each object as a
//   fresh literal of its kind rejects any property the schema does not define (a typo in a name).

// Custom resources: the kubernetes-models family's package per API group, whose generated interfaces
// (I<Kind>) serve as the TypeScript types too.
const CUSTOM_RESOURCE_MODELS: Record<string, string> = {
  "keda.sh": "@kubernetes-models/keda",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
  // No published package: transcribed from the driver's CRD, beside this module.
  "secrets-store.csi.x-k8s.io": "./crd-models",
};

/** apiVersion + kind → the validator module and the TypeScript type of the kind ("v1" is core). */
function schemaModules(apiVersion: string, kind: string): { models: string; type: string } {
  if (!apiVersion.includes("/"))
    return {
      models: `kubernetes-models/${apiVersion}`,
      type: `import("kubernetes-types/core/${apiVersion}").${kind}`,
    };
  const [group = "", version = ""] = apiVersion.split("/");
  // kubernetes-types 1.30.0 (its latest) lacks `resources` and `scope` in admission policies'
  // NamedRuleWithOperations; kubernetes-models' own interfaces have them and are as strict.
  if (group === "admissionregistration.k8s.io") {
    const module = `kubernetes-models/${group}/${version}/${kind}`;
    return { models: `kubernetes-models/${group}/${version}`, type: `import("${module}").I${kind}` };
  }
  const customPackage = CUSTOM_RESOURCE_MODELS[group];
  if (customPackage) {
    const module = `${customPackage}/${group}/${version}`;
    return { models: module, type: `import("${module}").I${kind}` };
  }
  // kubernetes-types names a group by its first label: networking.k8s.io → networking, rbac.authorization.k8s.io → rbac.
  const short = group.split(".")[0];
  return {
    models: `kubernetes-models/${group}/${version}`,
    type: `import("kubernetes-types/${short}/${version}").${kind}`,
  };
}

export interface SchemaProblem {
  object: string;
  message: string;
}

/** Objects whose kind has no schema here are reported as skipped (every kind mesh renders has one). */
export async function validateAgainstOpenApi(
  objects: KubernetesObject[],
): Promise<{ problems: SchemaProblem[]; skipped: string[] }> {
  const problems: SchemaProblem[] = [];
  const skipped: string[] = [];
  const typed: Array<{ label: string; object: KubernetesObject; type: string }> = [];
  for (const object of objects) {
    const label = `${object.kind}/${object.metadata?.name}`;
    const modules = schemaModules(String(object.apiVersion), String(object.kind));
    const models = (await import(modules.models).catch(() => ({}))) as Record<
      string,
      new (
        data: unknown,
      ) => { validate(): void }
    >;
    const Model = models[String(object.kind)];
    if (!Model) {
      skipped.push(label);
      continue;
    }
    try {
      new Model(object).validate();
    } catch (error) {
      problems.push({ object: label, message: (error as Error).message });
    }
    typed.push({ label, object, type: modules.type });
  }
  problems.push(...checkUnknownFields(typed));
  return { problems, skipped };
}

function checkUnknownFields(
  objects: Array<{ label: string; object: KubernetesObject; type: string }>,
): SchemaProblem[] {
  // A virtual file beside this module, so `kubernetes-types` resolves from the project's node_modules.
  const fileName = fileURLToPath(new URL("./__rendered-objects.ts", import.meta.url));
  const source = objects
    .map(({ object, type }, index) => `const object${index}: ${type} = ${JSON.stringify(object)};`)
    .join("\n");
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getCurrentDirectory = () => process.cwd();
  host.fileExists = (name) => name === fileName || fileExists(name);
  host.readFile = (name) => (name === fileName ? source : readFile(name));
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language) =>
    name === fileName ? ts.createSourceFile(fileName, source, language) : getSourceFile(name, language);
  const program = ts.createProgram([fileName], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((diagnostic) => diagnostic.file?.fileName === fileName)
    .map((diagnostic) => {
      const line = diagnostic.file?.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line ?? 0;
      return {
        object: objects[line]?.label ?? "?",
        message: ts.flattenDiagnosticMessageText(diagnostic.messageText, " "),
      };
    });
}
