import { fileURLToPath } from "node:url";
import ts from "typescript";
import type { KubernetesObject } from "./kubernetes-objects.js";

// Validation of rendered objects against the Kubernetes OpenAPI schema, in two complementary passes:
// - kubernetes-models: JSON-schema validators generated from the OpenAPI spec (types, enums, required
//   fields, formats). Its schemas allow unknown properties, so a misspelt field would pass...
// - kubernetes-types: TypeScript types generated from the same spec. Type-checking each object as a
//   fresh literal of its kind rejects any property the schema does not define (a typo in a name).

/** apiVersion → the module path segment both packages use ("v1" is core). */
function groupPath(apiVersion: string): { models: string; types: string } {
  if (!apiVersion.includes("/")) return { models: apiVersion, types: `core/${apiVersion}` };
  const [group = "", version = ""] = apiVersion.split("/");
  const short = group.replace(/\.k8s\.io$/, "");
  return { models: `${group}/${version}`, types: `${short}/${version}` };
}

export interface SchemaProblem {
  object: string;
  message: string;
}

/** Objects whose kind has no schema here (custom resources such as KEDA's) are reported as skipped. */
export async function validateAgainstOpenApi(
  objects: KubernetesObject[],
): Promise<{ problems: SchemaProblem[]; skipped: string[] }> {
  const problems: SchemaProblem[] = [];
  const skipped: string[] = [];
  const typed: Array<{ label: string; object: KubernetesObject; typesPath: string }> = [];
  for (const object of objects) {
    const label = `${object.kind}/${object.metadata?.name}`;
    const paths = groupPath(String(object.apiVersion));
    const models = (await import(`kubernetes-models/${paths.models}`).catch(() => ({}))) as Record<
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
    typed.push({ label, object, typesPath: paths.types });
  }
  problems.push(...checkUnknownFields(typed));
  return { problems, skipped };
}

function checkUnknownFields(
  objects: Array<{ label: string; object: KubernetesObject; typesPath: string }>,
): SchemaProblem[] {
  // A virtual file beside this module, so `kubernetes-types` resolves from the project's node_modules.
  const fileName = fileURLToPath(new URL("./__rendered-objects.ts", import.meta.url));
  const source = objects
    .map(
      ({ object, typesPath }, index) =>
        `const object${index}: import("kubernetes-types/${typesPath}").${object.kind} = ${JSON.stringify(object)};`,
    )
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
