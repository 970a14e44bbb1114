import type { HttpErrorKind, RecordedFailure, StreamErrorKind } from "./types.ts";
import { chatCompletionsWire } from "./openai-wire.ts";
import { retryHeaders, type ResponseContext, type WireFormat } from "./wire.ts";

/**
 * OpenRouter: chat completions (as `openaiWire`), with OpenRouter's own errors, as `@openrouter/ai-sdk-provider`
 * reads them. Errors are `{error: {code, message, metadata?}}`; a failure of the provider behind OpenRouter says
 * "Provider returned error" and forwards that provider's answer in `metadata.raw` with `metadata.provider_name`.
 * Inside a 200 stream the error comes as a chunk with `error` and a choice whose `finish_reason` is `"error"`.
 */

/** What the upstream provider (Anthropic here) answered, as OpenRouter forwards it. */
const upstream = (type: string, message: string) => JSON.stringify({ type: "error", error: { type, message } });

type OpenRouterError = { code: number | string; message: string; metadata?: Record<string, unknown> };

const fromProvider = (code: number, type: string, message: string): OpenRouterError => ({
  code,
  message: "Provider returned error",
  metadata: { raw: upstream(type, message), provider_name: "Anthropic" },
});

/** Error bodies as openrouter.ai returns them, by kind; `code` is the HTTP status OpenRouter answers with. */
const errors: Record<HttpErrorKind | "not_found" | "invalid_request", OpenRouterError> = {
  rate_limit: fromProvider(429, "rate_limit_error", "This request would exceed the rate limit for your organization of 50 requests per minute."),
  quota: { code: 402, message: "Insufficient credits. Add more using https://openrouter.ai/settings/credits" },
  overloaded: fromProvider(502, "overloaded_error", "Overloaded"),
  server_error: { code: 500, message: "Internal Server Error" },
  unavailable: { code: 503, message: "No instances available" },
  auth: { code: 401, message: "No auth credentials found" },
  permission: { code: 403, message: "This model is not available in your region." },
  context_length: {
    code: 400,
    message: "This endpoint's maximum context length is 200000 tokens. However, you requested about 210000 tokens (210000 of text input). Please reduce the length of either one, or use the \"middle-out\" transform to compress your prompt automatically.",
  },
  not_found: { code: 404, message: "Not found" },
  invalid_request: { code: 400, message: "Invalid request" },
};

const streamErrors: Record<StreamErrorKind, OpenRouterError> = {
  rate_limit: errors.rate_limit,
  overloaded: errors.overloaded,
  server_error: { code: "server_error", message: "Provider disconnected unexpectedly" },
};

export const openrouterWire: WireFormat = {
  // OpenRouter streams reasoning as `delta.reasoning`.
  ...chatCompletionsWire({ reasoningField: "reasoning" }),

  streamError(error, context: ResponseContext) {
    const chunk = {
      id: `gen-sim${String(context.seq).padStart(20, "0")}`,
      object: "chat.completion.chunk",
      created: Math.floor(Date.now() / 1000),
      model: context.model,
      provider: "Anthropic",
      error: streamErrors[error],
      choices: [{ index: 0, delta: { content: "" }, finish_reason: "error" }],
    };
    return `data: ${JSON.stringify(chunk)}\n\n`;
  },

  httpError(fault, context) {
    const error = errors[fault.error];
    // OpenRouter answers with the status the fault asks for; the body repeats it as `code`.
    return {
      status: fault.status,
      headers: { "x-generation-id": `gen-sim${context.seq}`, ...retryHeaders(fault) },
      body: { error: { ...error, code: fault.status }, user_id: "user_simulator" },
    };
  },

  errorBody(kind, message) {
    return { error: { ...errors[kind], message } };
  },
};

/** Failures OpenRouter sends as they were sent (test/fixtures/openrouter holds the same). */
export const openrouterRecorded = {
  /** No provider behind OpenRouter serves the model for this request or account. */
  noEndpoints: {
    status: 404,
    body: { error: { message: "No endpoints found for anthropic/claude-sonnet-4.5.", code: 404 } },
  },
} satisfies Record<string, RecordedFailure>;
