import type { HttpErrorKind, SimReply, StreamErrorKind, RecordedFailure } from "./types.ts";
import { encodeFrame } from "../wires/aws-event-stream.ts";
import { jsonFragments, outputTokens, retryHeaders, textChunks, type Chunk, type WireFormat } from "./wire.ts";

/**
 * Amazon Bedrock Runtime's Converse API: `POST /model/<model id>/converse-stream` answers with AWS event-stream
 * frames (`application/vnd.amazon.eventstream`), `POST /model/<model id>/converse` with JSON. Errors as Bedrock
 * sends them: the type in `x-amzn-errortype`, the body `{message}`; inside a stream, modeled exception frames
 * (`:message-type` `exception`) and the event-typed `modelStreamErrorException`.
 */

const event = (eventType: string, payload: Record<string, unknown>): Uint8Array =>
  // The real service pads each event with a `p` field of random length, so frame sizes do not leak content.
  encodeFrame({ ":event-type": eventType, ":content-type": "application/json", ":message-type": "event" }, JSON.stringify({ ...payload, p: "abcdefghij" }));

const exception = (exceptionType: string, message: string): Uint8Array =>
  encodeFrame({ ":exception-type": exceptionType, ":content-type": "application/json", ":message-type": "exception" }, JSON.stringify({ message }));

const errorTypeHeader = (type: string) => `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`;

/** Error types and messages as bedrock-runtime returns them. */
const errors: Record<HttpErrorKind | "not_found" | "invalid_request", { type: string; message: string }> = {
  rate_limit: { type: "ThrottlingException", message: "Too many requests, please wait before trying again." },
  quota: { type: "ThrottlingException", message: "Too many tokens per day, please wait before trying again." },
  overloaded: { type: "ServiceUnavailableException", message: "Bedrock is unable to process your request." },
  server_error: { type: "InternalServerException", message: "The system encountered an unexpected error during processing. Try your request again." },
  unavailable: { type: "ServiceUnavailableException", message: "Bedrock is unable to process your request." },
  auth: { type: "UnrecognizedClientException", message: "The security token included in the request is invalid." },
  permission: { type: "AccessDeniedException", message: "You don't have access to the model with the specified model ID." },
  context_length: { type: "ValidationException", message: "Input is too long for requested model." },
  not_found: { type: "ResourceNotFoundException", message: "Could not resolve the foundation model from the provided model identifier." },
  invalid_request: { type: "ValidationException", message: "Malformed input request, please reformat your input and try again." },
};

/**
 * Claude's thinking signatures on Bedrock verify only for the model that made them; the region profiles and the
 * vendor id of one model (`us.anthropic.claude-…-v1:0`, `anthropic.claude-…-v1:0`) are that one model.
 */
const signingModel = (model: string) => model.replace(/^(us|eu|jp|au|apac|global|us-gov)\./, "");
const thinkingSignature = (model: string, seq: number) => Buffer.from(`sim-signature:amazon-bedrock:${signingModel(model)}:${seq}`).toString("base64");
const signedFor = (signature: unknown) =>
  typeof signature === "string" ? /^sim-signature:amazon-bedrock:([^:]+(?::\d+)?):\d+$/.exec(Buffer.from(signature, "base64").toString())?.[1] : undefined;

type Block = { reasoningContent?: { reasoningText?: { signature?: unknown } } };

/**
 * Bedrock's check on reasoning in the history, worded as Bedrock passes on the model's own validation error: every
 * reasoning block must carry a signature made for the request's model.
 */
export function bedrockThinkingRejection(body: unknown, model: string): string | undefined {
  const messages = typeof body === "object" && body !== null ? (body as { messages?: unknown }).messages : undefined;
  if (!Array.isArray(messages)) return undefined;
  for (const [m, message] of (messages as { role?: unknown; content?: unknown }[]).entries()) {
    if (message?.role !== "assistant" || !Array.isArray(message.content)) continue;
    for (const [c, block] of (message.content as Block[]).entries()) {
      const reasoning = block?.reasoningContent?.reasoningText;
      if (reasoning && signedFor(reasoning.signature) !== signingModel(model))
        return `The model returned the following errors: messages.${m}.content.${c}: Invalid \`signature\` in \`thinking\` block`;
    }
  }
  return undefined;
}

const toolUseId = (reply: SimReply, seq: number) => reply.toolCall?.id ?? `tooluse_sim${String(seq).padStart(12, "0")}`;
const stopReason = (reply: SimReply) => (reply.toolCall ? "tool_use" : "end_turn");

export const bedrockWire: WireFormat = {
  chatPath: "converse-stream",
  streamContentType: "application/vnd.amazon.eventstream",

  route(path) {
    const match = /^model\/([^/]+)\/(converse-stream|converse)$/.exec(path);
    if (!match) return undefined;
    return { model: decodeURIComponent(match[1]!), stream: match[2] === "converse-stream" };
  },

  rejects: (body, context) => bedrockThinkingRejection(body, context.model),

  errorHeaders: (kind, context) => ({ "x-amzn-errortype": errorTypeHeader(errors[kind].type), "x-amzn-requestid": `sim-${context.seq}` }),

  streamPlan(reply, context) {
    const metadata: Chunk[] = [event("messageStart", { role: "assistant" })];
    const content: Chunk[] = [];
    const toolCall: Chunk[] = [];
    let index = 0;
    if (reply.reasoning !== undefined) {
      for (const chunk of textChunks(reply.reasoning))
        content.push(event("contentBlockDelta", { contentBlockIndex: index, delta: { reasoningContent: { text: chunk } } }));
      content.push(event("contentBlockDelta", { contentBlockIndex: index, delta: { reasoningContent: { signature: thinkingSignature(context.model, context.seq) } } }));
      content.push(event("contentBlockStop", { contentBlockIndex: index }));
      index++;
    }
    if (reply.text !== undefined) {
      for (const chunk of textChunks(reply.text)) content.push(event("contentBlockDelta", { contentBlockIndex: index, delta: { text: chunk } }));
      toolCall.push(event("contentBlockStop", { contentBlockIndex: index }));
      index++;
    }
    if (reply.toolCall) {
      const id = toolUseId(reply, context.seq);
      toolCall.push(event("contentBlockStart", { contentBlockIndex: index, start: { toolUse: { toolUseId: id, name: reply.toolCall.name } } }));
      for (const fragment of jsonFragments(JSON.stringify(reply.toolCall.input)))
        toolCall.push(event("contentBlockDelta", { contentBlockIndex: index, delta: { toolUse: { input: fragment } } }));
      toolCall.push(event("contentBlockStop", { contentBlockIndex: index }));
    }
    const output = outputTokens(reply);
    const finish: Chunk[] = [
      event("messageStop", { stopReason: stopReason(reply) }),
      event("metadata", {
        usage: { inputTokens: context.inputTokens, outputTokens: output, totalTokens: context.inputTokens + output },
        metrics: { latencyMs: 120 },
      }),
    ];
    return { metadata, content, toolCall, finish };
  },

  streamError(error: StreamErrorKind) {
    switch (error) {
      // Modeled exceptions: frames of message type `exception`, which @ai-sdk/amazon-bedrock 4.0.112 drops.
      case "rate_limit":
        return exception("throttlingException", "Too many tokens, please wait before trying again.");
      case "overloaded":
        return exception("serviceUnavailableException", "The service is temporarily unable to handle the request.");
      // The model behind Bedrock failed mid-stream: an event frame carrying the model's own status.
      case "server_error":
        return event("modelStreamErrorException", {
          message: "Received error from the model provider.",
          originalStatusCode: 500,
          originalMessage: "Internal server error",
        });
    }
  },

  message(reply, context) {
    const content: unknown[] = [];
    if (reply.reasoning !== undefined)
      content.push({ reasoningContent: { reasoningText: { text: reply.reasoning, signature: thinkingSignature(context.model, context.seq) } } });
    if (reply.text !== undefined) content.push({ text: reply.text });
    if (reply.toolCall) content.push({ toolUse: { toolUseId: toolUseId(reply, context.seq), name: reply.toolCall.name, input: reply.toolCall.input } });
    const output = outputTokens(reply);
    return {
      output: { message: { role: "assistant", content } },
      stopReason: stopReason(reply),
      usage: { inputTokens: context.inputTokens, outputTokens: output, totalTokens: context.inputTokens + output },
      metrics: { latencyMs: 120 },
    };
  },

  httpError(fault, context) {
    const { type, message } = errors[fault.error];
    return {
      status: fault.status,
      headers: { "x-amzn-errortype": errorTypeHeader(type), "x-amzn-requestid": `sim-${context.seq}`, ...retryHeaders(fault) },
      body: { message },
    };
  },

  models() {
    return { modelSummaries: [{ modelId: "anthropic.claude-sonnet-4-5-20250929-v1:0", providerName: "Anthropic" }] };
  },

  errorBody(_kind, message) {
    return { message };
  },
};

/** Failures Bedrock sends as they were sent (test/fixtures/amazon-bedrock holds the same). */
export const bedrockRecorded = {
  /** The account has not enabled this model (other models of the account may be in use). */
  accessDeniedModel: {
    status: 403,
    headers: { "x-amzn-errortype": "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.bedrock/" },
    body: { message: "You don't have access to the model with the specified model ID." },
  },
  /** The model is served through an inference profile only. */
  onDemandNotSupported: {
    status: 400,
    headers: { "x-amzn-errortype": "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/" },
    body: {
      message:
        "Invocation of model ID anthropic.claude-sonnet-4-5-20250929-v1:0 with on-demand throughput isn’t supported. Retry your request with the ID or ARN of an inference profile that contains this model.",
    },
  },
} satisfies Record<string, RecordedFailure>;
