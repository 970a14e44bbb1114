import type { HttpErrorKind, RecordedFailure, SimReply, StreamErrorKind } from "./types.ts";
import { outputTokens, retryHeaders, textChunks, type Chunk, type ResponseContext, type WireFormat } from "./wire.ts";

/**
 * Google's Gemini API (`@ai-sdk/google`): `POST /v1beta/models/<model>:streamGenerateContent?alt=sse` answers with SSE
 * `data:` chunks of `{candidates, usageMetadata}`; errors are `{error: {code, message, status, details}}`, with
 * `QuotaFailure` violations and `RetryInfo.retryDelay` on a 429 `RESOURCE_EXHAUSTED`. A failure after the stream
 * started comes as a `data:` chunk holding that same `{error}` object.
 */

const sse = (data: unknown) => `data: ${JSON.stringify(data)}\r\n\r\n`;

type GoogleError = { code: number; message: string; status: string; details?: unknown[] };

const quotaFailure = (quotaId: string, quotaMetric: string) => ({
  "@type": "type.googleapis.com/google.rpc.QuotaFailure",
  violations: [{ quotaMetric, quotaId, quotaDimensions: { location: "global", model: "gemini-2.5-pro" }, quotaValue: "5" }],
});
const retryInfo = (delay: string) => ({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: delay });
const help = { "@type": "type.googleapis.com/google.rpc.Help", links: [{ description: "Learn more about Gemini API quotas", url: "https://ai.google.dev/gemini-api/docs/rate-limits" }] };

const errors: Record<HttpErrorKind | "not_found" | "invalid_request", GoogleError> = {
  rate_limit: {
    code: 429,
    message: "You exceeded your current quota, please check your plan and billing details. Please retry in 17.2s.",
    status: "RESOURCE_EXHAUSTED",
    details: [help, quotaFailure("GenerateRequestsPerMinutePerProjectPerModel", "generativelanguage.googleapis.com/generate_content_requests"), retryInfo("17s")],
  },
  quota: {
    code: 429,
    message: "You exceeded your current quota, please check your plan and billing details.",
    status: "RESOURCE_EXHAUSTED",
    details: [help, quotaFailure("GenerateRequestsPerDayPerProjectPerModel-FreeTier", "generativelanguage.googleapis.com/generate_content_free_tier_requests"), retryInfo("52s")],
  },
  overloaded: { code: 503, message: "The model is overloaded. Please try again later.", status: "UNAVAILABLE" },
  server_error: { code: 500, message: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", status: "INTERNAL" },
  unavailable: { code: 503, message: "The service is currently unavailable.", status: "UNAVAILABLE" },
  auth: {
    code: 401,
    message: "API key not valid. Please pass a valid API key.",
    status: "UNAUTHENTICATED",
    details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "API_KEY_INVALID", domain: "googleapis.com" }],
  },
  permission: { code: 403, message: "Permission denied: Consumer does not have access to this model.", status: "PERMISSION_DENIED" },
  context_length: { code: 400, message: "The input token count (1048577) exceeds the maximum number of tokens allowed (1048576).", status: "INVALID_ARGUMENT" },
  not_found: { code: 404, message: "models/unknown is not found for API version v1beta.", status: "NOT_FOUND" },
  invalid_request: { code: 400, message: "Invalid JSON payload received.", status: "INVALID_ARGUMENT" },
};

const streamErrors: Record<StreamErrorKind, HttpErrorKind> = { rate_limit: "rate_limit", overloaded: "overloaded", server_error: "server_error" };

const usage = (reply: SimReply, context: ResponseContext) => ({
  promptTokenCount: context.inputTokens,
  candidatesTokenCount: outputTokens(reply),
  totalTokenCount: context.inputTokens + outputTokens(reply),
});

export const googleWire: WireFormat = {
  chatPath: "streamGenerateContent",

  route(path) {
    const match = /^(?:v1beta\/)?models\/([^/:]+):(streamGenerateContent|generateContent)$/.exec(path);
    if (!match) return undefined;
    return { model: decodeURIComponent(match[1]!), stream: match[2] === "streamGenerateContent" };
  },

  streamPlan(reply, context) {
    const chunk = (parts: unknown[], finishReason?: string) =>
      sse({
        candidates: [{ content: { parts, role: "model" }, ...(finishReason ? { finishReason } : {}), index: 0 }],
        usageMetadata: usage(reply, context),
        modelVersion: context.model,
        responseId: `sim-${context.seq}`,
      });
    const content: Chunk[] = [];
    for (const piece of textChunks(reply.reasoning ?? "")) content.push(chunk([{ text: piece, thought: true }]));
    for (const piece of textChunks(reply.text ?? "")) content.push(chunk([{ text: piece }]));
    // Gemini sends a function call whole, in one chunk.
    const toolCall: Chunk[] = reply.toolCall ? [chunk([{ functionCall: { name: reply.toolCall.name, args: reply.toolCall.input } }])] : [];
    return { metadata: [], content, toolCall, finish: [chunk([{ text: "" }], "STOP")] };
  },

  streamError(error) {
    return sse({ error: errors[streamErrors[error]] });
  },

  message(reply, context) {
    const parts: unknown[] = [];
    if (reply.reasoning !== undefined) parts.push({ text: reply.reasoning, thought: true });
    if (reply.text !== undefined) parts.push({ text: reply.text });
    if (reply.toolCall) parts.push({ functionCall: { name: reply.toolCall.name, args: reply.toolCall.input } });
    return { candidates: [{ content: { parts, role: "model" }, finishReason: "STOP", index: 0 }], usageMetadata: usage(reply, context), modelVersion: context.model };
  },

  httpError(fault) {
    return { status: fault.status, headers: retryHeaders(fault), body: { error: { ...errors[fault.error], code: fault.status } } };
  },

  models() {
    return { models: [{ name: "models/gemini-2.5-pro", displayName: "Gemini 2.5 Pro", supportedGenerationMethods: ["generateContent"] }] };
  },

  errorBody(kind, message) {
    return { error: { ...errors[kind], message } };
  },
};

/** Failures Gemini sends as they were sent (test/fixtures/google holds the same). */
export const googleRecorded = {
  /** A daily quota of one model: the project's other models are still in quota. */
  perDayPerModelQuota: {
    status: 429,
    body: {
      error: {
        code: 429,
        message:
          "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
        status: "RESOURCE_EXHAUSTED",
        details: [
          {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            violations: [
              {
                quotaMetric: "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                quotaId: "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                quotaDimensions: { location: "global", model: "gemini-2.5-pro" },
                quotaValue: "50",
              },
            ],
          },
          { "@type": "type.googleapis.com/google.rpc.Help", links: [{ description: "Learn more about Gemini API quotas", url: "https://ai.google.dev/gemini-api/docs/rate-limits" }] },
          { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "43s" },
        ],
      },
    },
  },
} satisfies Record<string, RecordedFailure>;
