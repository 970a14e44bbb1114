import type { HttpErrorKind, SimReply, StreamErrorKind } from "./types.ts";
import { jsonFragments, outputTokens, retryHeaders, textChunks, type ResponseContext, type WireFormat } from "./wire.ts";

/**
 * OpenAI chat completions, `POST /v1/chat/completions`, as OpenAI, GitHub Copilot and OpenRouter speak it. Error bodies
 * are OpenAI's `{error: {message, type, param, code}}`.
 */

const sse = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;

const errors: Record<HttpErrorKind | "not_found" | "invalid_request", { message: string; type: string; param: string | null; code: string | null }> = {
  rate_limit: {
    message:
      "Rate limit reached for gpt-4o in organization org-simulator on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 2s. Visit https://platform.openai.com/account/rate-limits to learn more.",
    type: "tokens",
    param: null,
    code: "rate_limit_exceeded",
  },
  quota: {
    message:
      "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
    type: "insufficient_quota",
    param: null,
    code: "insufficient_quota",
  },
  overloaded: { message: "The engine is currently overloaded, please try again later.", type: "server_error", param: null, code: null },
  server_error: { message: "The server had an error while processing your request. Sorry about that!", type: "server_error", param: null, code: null },
  unavailable: { message: "The server is overloaded or not ready yet.", type: "server_error", param: null, code: null },
  auth: {
    message: "Incorrect API key provided: sk-sim***. You can find your API key at https://platform.openai.com/account/api-keys.",
    type: "invalid_request_error",
    param: null,
    code: "invalid_api_key",
  },
  permission: { message: "You are not allowed to sample from this model", type: "invalid_request_error", param: null, code: "model_not_allowed" },
  context_length: {
    message:
      "This model's maximum context length is 200000 tokens. However, your messages resulted in 210000 tokens. Please reduce the length of the messages.",
    type: "invalid_request_error",
    param: "messages",
    code: "context_length_exceeded",
  },
  not_found: { message: "Not found", type: "invalid_request_error", param: null, code: "not_found" },
  invalid_request: { message: "Invalid request", type: "invalid_request_error", param: null, code: null },
};

const streamErrors: Record<StreamErrorKind, HttpErrorKind> = {
  overloaded: "overloaded",
  server_error: "server_error",
  rate_limit: "rate_limit",
};

const completionId = (seq: number) => `chatcmpl-sim${String(seq).padStart(20, "0")}`;
const toolCallId = (reply: SimReply, seq: number) => reply.toolCall?.id ?? `call_sim${String(seq).padStart(16, "0")}`;
const finishReason = (reply: SimReply) => (reply.toolCall ? "tool_calls" : "stop");
const usage = (reply: SimReply, context: ResponseContext) => ({
  prompt_tokens: context.inputTokens,
  completion_tokens: outputTokens(reply),
  total_tokens: context.inputTokens + outputTokens(reply),
});

/**
 * A chat-completions wire. `reasoningField`: where streamed reasoning goes in a delta (`reasoning_content` for
 * OpenAI-compatible servers and Copilot, `reasoning` for OpenRouter).
 */
export function chatCompletionsWire({ reasoningField }: { reasoningField: "reasoning_content" | "reasoning" }): WireFormat {
  return { ...openaiWire, streamPlan: (reply, context) => streamPlan(reply, context, reasoningField) };
}

function streamPlan(reply: SimReply, context: ResponseContext, reasoningField: string) {
  const base = { id: completionId(context.seq), object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model: context.model, system_fingerprint: null };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    sse({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });

  // The first chunk carries only the role: clients treat it as response metadata.
  const metadata = [chunk({ role: "assistant", content: "" })];
  const content: string[] = [];
  const toolCall: string[] = [];
  const finish: string[] = [];
  for (const piece of textChunks(reply.reasoning ?? "")) content.push(chunk({ [reasoningField]: piece }));
  for (const piece of textChunks(reply.text ?? "")) content.push(chunk({ content: piece }));
  if (reply.toolCall) {
    const fragments = jsonFragments(JSON.stringify(reply.toolCall.input));
    toolCall.push(chunk({ tool_calls: [{ index: 0, id: toolCallId(reply, context.seq), type: "function", function: { name: reply.toolCall.name, arguments: "" } }] }));
    for (const fragment of fragments) toolCall.push(chunk({ tool_calls: [{ index: 0, function: { arguments: fragment } }] }));
  }
  finish.push(
    chunk({}, finishReason(reply)),
    // The usage chunk has no choices, as with stream_options.include_usage (Copilot always sends usage).
    sse({ ...base, choices: [], usage: usage(reply, context) }),
    "data: [DONE]\n\n",
  );
  return { metadata, content, toolCall, finish };
}

export const openaiWire: WireFormat = {
  chatPath: "chat/completions",

  streamPlan: (reply, context) => streamPlan(reply, context, "reasoning_content"),

  streamError(error) {
    // OpenAI and OpenRouter send an error object as a data chunk and then end the stream without [DONE].
    return sse(this.errorBody(streamErrors[error], errors[streamErrors[error]].message));
  },

  message(reply, context) {
    const message: Record<string, unknown> = { role: "assistant", content: reply.text ?? null, refusal: null };
    if (reply.reasoning !== undefined) message.reasoning_content = reply.reasoning;
    if (reply.toolCall) {
      message.tool_calls = [
        { id: toolCallId(reply, context.seq), type: "function", function: { name: reply.toolCall.name, arguments: JSON.stringify(reply.toolCall.input) } },
      ];
    }
    return {
      id: completionId(context.seq),
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: context.model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(reply) }],
      usage: usage(reply, context),
      system_fingerprint: null,
    };
  },

  httpError(fault, context) {
    const headers: Record<string, string> = { "x-request-id": `req_sim${context.seq}`, ...retryHeaders(fault) };
    if (fault.error === "rate_limit") {
      headers["x-ratelimit-limit-tokens"] = "30000";
      headers["x-ratelimit-remaining-tokens"] = "0";
      headers["x-ratelimit-reset-tokens"] = `${fault.retryAfterSeconds ?? 2}s`;
    }
    return { status: fault.status, headers, body: this.errorBody(fault.error, errors[fault.error].message) };
  },

  models() {
    const data = ["gpt-4o", "gpt-4.1", "claude-sonnet-4.5"].map((id) => ({ id, object: "model", created: 1_700_000_000, owned_by: "simulator" }));
    return { object: "list", data };
  },

  errorBody(kind, message) {
    const { type, param, code } = errors[kind];
    return { error: { message, type, param, code } };
  },
};
