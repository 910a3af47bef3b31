import type { MeshConfig } from "../config.js";
import { createBuiltinModel } from "./builtin.js";
import { createOpenAiModel } from "./openai.js";
import type { TokenModel } from "./token-model.js";

export function createModel(config: Pick<MeshConfig, "model" | "builtin">): TokenModel {
  const spec = config.model;
  if (spec.kind === "openai") {
    return createOpenAiModel({ model: spec.model, baseUrl: spec.baseUrl, apiKey: spec.apiKey });
  }
  return createBuiltinModel(config.builtin);
}
