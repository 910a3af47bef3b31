import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

/** One HTTP response as a test received it. */
export interface RecordedResponse {
  method: string;
  path: string;
  status: number;
  contentType?: string;
  /** The body, for JSON responses. */
  body?: string;
}

interface Operation {
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

type OpenApiDocument = { paths: Record<string, Record<string, Operation>>; components?: unknown };

const DOCUMENT_ID = "https://mesh.invalid/openapi.json";

/**
 * Checks responses against an OpenAPI 3.1 document: the operation exists (method and path template), the
 * status is declared for it, the content type is one it declares, and a JSON body validates against its
 * schema (JSON Schema 2020-12, as OpenAPI 3.1 schemas are). A path no operation matches must be the
 * documented 404 error.
 */
export class ResponseContract {
  readonly #ajv = new Ajv2020({ strict: false, allErrors: true });
  /** Compiled validators by schema text: the suite checks ≈ 13,000 responses against a few dozen schemas. */
  readonly #validators = new Map<string, ReturnType<Ajv2020["compile"]>>();
  readonly #routes: Array<{ pattern: RegExp; template: string }>;

  constructor(private readonly document: OpenApiDocument) {
    addFormats.default(this.#ajv);
    this.#ajv.addSchema({ $id: DOCUMENT_ID, components: document.components }, DOCUMENT_ID);
    this.#routes = Object.keys(document.paths).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`),
    }));
  }

  /** What is wrong with the response, or undefined when it keeps the contract. */
  violation(response: RecordedResponse): string | undefined {
    const where = `${response.method} ${response.path} → ${response.status}`;
    const template = this.#routes.find((route) => route.pattern.test(response.path))?.template;
    const operation = template ? this.document.paths[template]?.[response.method.toLowerCase()] : undefined;
    if (!operation) {
      // No such operation: the answer must be the error shape, 404 (unknown path) or 405-like 404.
      if (response.status !== 404) return `${where}: no documented operation, yet not a 404`;
      return this.#checkBody(where, "#/components/schemas/Error", response);
    }
    const declared = operation.responses?.[String(response.status)];
    if (!declared) return `${where}: status ${response.status} is not documented for ${template}`;
    if (!declared.content) {
      return response.body ? `${where}: a body where the document declares none` : undefined;
    }
    const mediaType = response.contentType?.split(";")[0]?.trim().toLowerCase() ?? "";
    const content = declared.content[mediaType];
    if (!content) {
      return `${where}: content type "${mediaType}" is not one of ${Object.keys(declared.content).join(", ")}`;
    }
    if (mediaType !== "application/json") return undefined;
    return this.#checkSchema(where, content.schema, response);
  }

  #checkBody(where: string, ref: string, response: RecordedResponse): string | undefined {
    return this.#checkSchema(where, { $ref: ref }, response);
  }

  #checkSchema(where: string, schema: unknown, response: RecordedResponse): string | undefined {
    let body: unknown;
    try {
      body = JSON.parse(response.body ?? "");
    } catch {
      return `${where}: body is not JSON`;
    }
    // The document's references are relative to its root; resolve them against it.
    const text = JSON.stringify(schema).replaceAll('"#/components/', `"${DOCUMENT_ID}#/components/`);
    let validate = this.#validators.get(text);
    if (!validate) {
      validate = this.#ajv.compile(JSON.parse(text));
      this.#validators.set(text, validate);
    }
    if (validate(body)) return undefined;
    const errors = (validate.errors ?? []).map((error) => `${error.instancePath || "/"} ${error.message}`);
    return `${where}: body does not match the schema: ${errors.join("; ")} — ${response.body?.slice(0, 200)}`;
  }
}
