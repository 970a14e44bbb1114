import type { HttpErrorKind, SimReply, StreamErrorKind } from "./types.ts";
import { jsonFragments, outputTokens, retryHeaders, textChunks, type ResponseContext, type SignatureBinding, type WireFormat } from "./wire.ts";

/** Anthropic Messages API, `POST /v1/messages`, with the SSE events and error bodies of the real API. */

const sse = (data: { type: string; [field: string]: unknown }) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;

/** Error types and messages as api.anthropic.com returns them. */
const errors: Record<HttpErrorKind | "not_found" | "invalid_request", { type: string; message: string }> = {
  rate_limit: {
    type: "rate_limit_error",
    message:
      "This request would exceed the rate limit for your organization of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.",
  },
  quota: {
    type: "invalid_request_error",
    message: "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.",
  },
  overloaded: { type: "overloaded_error", message: "Overloaded" },
  server_error: { type: "api_error", message: "Internal server error" },
  unavailable: { type: "api_error", message: "Service unavailable" },
  auth: { type: "authentication_error", message: "invalid x-api-key" },
  permission: { type: "permission_error", message: "Your API key does not have permission to use the specified resource." },
  context_length: { type: "invalid_request_error", message: "prompt is too long: 210000 tokens > 200000 maximum" },
  not_found: { type: "not_found_error", message: "Not found" },
  invalid_request: { type: "invalid_request_error", message: "Invalid request" },
};

const streamErrors: Record<StreamErrorKind, { type: string; message: string }> = {
  overloaded: errors.overloaded,
  server_error: errors.server_error,
  rate_limit: errors.rate_limit,
};

const requestId = (seq: number) => `req_sim${String(seq).padStart(20, "0")}`;
const toolUseId = (reply: SimReply, seq: number) => reply.toolCall?.id ?? `toolu_sim${String(seq).padStart(16, "0")}`;
const stopReason = (reply: SimReply) => reply.stopReason ?? (reply.toolCall ? "tool_use" : "end_turn");
// Real thinking blocks carry an opaque signature the client must send back unchanged; it verifies only at the provider
// and for the model that made it (an alias and its dated id are one model), so the simulator's names both.
const thinkingSignature = (context: ResponseContext) =>
  Buffer.from(`sim-signature:${context.providerId}:${signingModel(context.model, context.signatures)}:${context.seq}`).toString("base64");
/**
 * The model a signature is bound to: Anthropic's dated id and its alias (`claude-haiku-4-5-20251001`) are one; with
 * the `"id"` binding, only the exact id.
 */
const signingModel = (model: unknown, binding: SignatureBinding = "model") =>
  typeof model !== "string" ? "unknown-model" : binding === "id" ? model : model.replace(/-\d{8}$/, "");
const signedBy = (signature: unknown) => {
  if (typeof signature !== "string") return undefined;
  const match = /^sim-signature:([^:]+):([^:]+):/.exec(Buffer.from(signature, "base64").toString());
  return match ? { provider: match[1], model: match[2] } : undefined;
};

type Block = { type?: unknown; signature?: unknown };
type Message = { role?: unknown; content?: unknown };

/**
 * Anthropic's checks on thinking in the history: every thinking block must carry a signature this provider made for
 * the request's model (Sonnet's thinking sent to Haiku is refused), and with thinking on, the final assistant message
 * of a tool loop must start with a thinking block. The messages are the real API's.
 */
export function thinkingRejection(body: unknown, providerId: string, binding: SignatureBinding = "model"): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const { messages, thinking, model } = body as { messages?: unknown; thinking?: { type?: unknown }; model?: unknown };
  if (!Array.isArray(messages)) return undefined;
  for (const [m, message] of (messages as Message[]).entries()) {
    if (message?.role !== "assistant" || !Array.isArray(message.content)) continue;
    for (const [c, block] of (message.content as Block[]).entries()) {
      const signer = block?.type === "thinking" ? signedBy(block.signature) : undefined;
      if (block?.type === "thinking" && (signer?.provider !== providerId || signer.model !== signingModel(model, binding)))
        return `messages.${m}.content.${c}: Invalid \`signature\` in \`thinking\` block`;
    }
  }
  if (thinking?.type !== "enabled" && thinking?.type !== "adaptive") return undefined;
  const lastAssistant = (messages as Message[]).findLastIndex((message) => message?.role === "assistant");
  const lastUserText = (messages as Message[]).findLastIndex(
    (message) =>
      message?.role === "user" &&
      (typeof message.content === "string" || (Array.isArray(message.content) && (message.content as Block[]).some((block) => block?.type !== "tool_result"))),
  );
  if (lastAssistant < 0 || lastAssistant < lastUserText) return undefined;
  const content = (messages as Message[])[lastAssistant]!.content;
  const blocks = Array.isArray(content) ? (content as Block[]) : [];
  if (!blocks.some((block) => block?.type === "tool_use")) return undefined;
  const first = blocks[0]?.type;
  if (first === "thinking" || first === "redacted_thinking") return undefined;
  return (
    `messages.${lastAssistant}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${String(first)}\`. ` +
    "When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of " +
    "`tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this " +
    "requirement, disable `thinking`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
  );
}

export const anthropicWire: WireFormat = {
  chatPath: "messages",

  rejects: (body, context) => thinkingRejection(body, context.providerId, context.signatures),

  streamPlan(reply, context) {
    const metadata = [
      sse({
        type: "message_start",
        message: {
          id: `msg_sim${String(context.seq).padStart(16, "0")}`,
          type: "message",
          role: "assistant",
          model: context.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: context.inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
        },
      }),
    ];
    const content: string[] = [];
    const toolCall: string[] = [];
    const finish: string[] = [];
    let index = 0;
    if (reply.reasoning !== undefined) {
      content.push(sse({ type: "content_block_start", index, content_block: { type: "thinking", thinking: "", signature: "" } }));
      for (const chunk of textChunks(reply.reasoning)) {
        content.push(sse({ type: "content_block_delta", index, delta: { type: "thinking_delta", thinking: chunk } }));
      }
      content.push(sse({ type: "content_block_delta", index, delta: { type: "signature_delta", signature: thinkingSignature(context) } }));
      content.push(sse({ type: "content_block_stop", index }));
      index++;
    }
    if (reply.text !== undefined) {
      content.push(sse({ type: "content_block_start", index, content_block: { type: "text", text: "" } }));
      // The real API sends a ping early in the stream; clients must ignore it.
      content.push(sse({ type: "ping" }));
      for (const chunk of textChunks(reply.text)) {
        content.push(sse({ type: "content_block_delta", index, delta: { type: "text_delta", text: chunk } }));
      }
      toolCall.push(sse({ type: "content_block_stop", index }));
      index++;
    }
    if (reply.toolCall) {
      const id = toolUseId(reply, context.seq);
      toolCall.push(sse({ type: "content_block_start", index, content_block: { type: "tool_use", id, name: reply.toolCall.name, input: {} } }));
      for (const fragment of ["", ...jsonFragments(JSON.stringify(reply.toolCall.input))]) {
        toolCall.push(sse({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: fragment } }));
      }
      toolCall.push(sse({ type: "content_block_stop", index }));
    }
    finish.push(
      sse({ type: "message_delta", delta: { stop_reason: stopReason(reply), stop_sequence: null }, usage: { output_tokens: outputTokens(reply) } }),
      sse({ type: "message_stop" }),
    );
    return { metadata, content, toolCall, finish };
  },

  streamError(error, context) {
    // After an error event the real API closes the stream: no message_delta, no message_stop.
    return sse({ type: "error", error: streamErrors[error], request_id: requestId(context.seq) });
  },

  message(reply, context) {
    const content: unknown[] = [];
    if (reply.reasoning !== undefined) content.push({ type: "thinking", thinking: reply.reasoning, signature: thinkingSignature(context) });
    if (reply.text !== undefined) content.push({ type: "text", text: reply.text });
    if (reply.toolCall) content.push({ type: "tool_use", id: toolUseId(reply, context.seq), name: reply.toolCall.name, input: reply.toolCall.input });
    return {
      id: `msg_sim${String(context.seq).padStart(16, "0")}`,
      type: "message",
      role: "assistant",
      model: context.model,
      content,
      stop_reason: stopReason(reply),
      stop_sequence: null,
      usage: { input_tokens: context.inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: outputTokens(reply) },
    };
  },

  httpError(fault, context) {
    const headers: Record<string, string> = { "request-id": requestId(context.seq), ...retryHeaders(fault) };
    if (fault.error === "rate_limit") {
      headers["anthropic-ratelimit-requests-limit"] = "50";
      headers["anthropic-ratelimit-requests-remaining"] = "0";
      headers["anthropic-ratelimit-requests-reset"] = new Date(Date.now() + (fault.retryAfterSeconds ?? 60) * 1000).toISOString();
    }
    // The real API sets x-should-retry on transient failures; the official SDKs honour it.
    if (fault.status === 429 || fault.status >= 500) headers["x-should-retry"] = "true";
    return { status: fault.status, headers, body: this.errorBody(fault.error, errors[fault.error].message) };
  },

  models() {
    const data = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"].map((id) => ({
      type: "model",
      id,
      display_name: id,
      created_at: "2025-09-29T00:00:00Z",
    }));
    return { data, has_more: false, first_id: data[0]?.id, last_id: data.at(-1)?.id };
  },

  errorBody(kind, message) {
    return { type: "error", error: { type: errors[kind].type, message } };
  },
};
