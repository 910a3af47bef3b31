import type { SegmentRequest, SegmentResult, TokenModel } from "./token-model.js";

export interface OpenAiModelOptions {
  model: string;
  /** Base URL of an OpenAI-compatible API, e.g. https://api.openai.com/v1. */
  baseUrl: string;
  apiKey?: string;
  requestTimeoutMs?: number;
}

/** Extracts the text deltas from one `data:` payload of a chat-completions stream. */
export function parseChatCompletionChunk(data: string): string[] {
  const parsed = JSON.parse(data) as { choices?: Array<{ delta?: { content?: unknown } }> };
  return (parsed.choices ?? [])
    .map((choice) => choice.delta?.content)
    .filter((content): content is string => typeof content === "string" && content.length > 0);
}

/**
 * A model behind an OpenAI-compatible streaming chat-completions API. The whole answer is one segment:
 * a remote model cannot resume mid-answer, so a run interrupted during the stream asks again.
 */
export function createOpenAiModel(options: OpenAiModelOptions): TokenModel {
  const endpoint = `${options.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  return {
    name: `openai:${options.model}`,
    async generateSegment({ input, onToken }: SegmentRequest): Promise<SegmentResult> {
      const response = await fetch(endpoint, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "text/event-stream",
          ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
        },
        body: JSON.stringify({
          model: options.model,
          stream: true,
          messages: [{ role: "user", content: input }],
        }),
        signal: AbortSignal.timeout(options.requestTimeoutMs ?? 300_000),
      });
      if (!response.ok || !response.body) {
        const detail = (await response.text().catch(() => "")).slice(0, 300);
        throw new Error(`model API answered ${response.status} at ${endpoint}: ${detail}`);
      }
      const tokens: string[] = [];
      const decoder = new TextDecoder();
      let buffer = "";
      for await (const bytes of response.body) {
        buffer += decoder.decode(bytes as Uint8Array, { stream: true });
        let newline = buffer.indexOf("\n");
        while (newline >= 0) {
          const line = buffer.slice(0, newline).replace(/\r$/, "");
          buffer = buffer.slice(newline + 1);
          newline = buffer.indexOf("\n");
          if (!line.startsWith("data:")) continue;
          const data = line.slice("data:".length).trim();
          if (data === "[DONE]") return { tokens, done: true };
          for (const text of parseChatCompletionChunk(data)) {
            tokens.push(text);
            await onToken(text);
          }
        }
      }
      return { tokens, done: true };
    },
  };
}
