import type { SimReply, StreamErrorKind } from "./types.ts";
import { openaiWire } from "./openai-wire.ts";
import { jsonFragments, outputTokens, textChunks, type Chunk, type ResponseContext, type WireFormat } from "./wire.ts";

/**
 * The OpenAI Responses API, `POST /v1/responses`, as OpenAI (and Copilot, for its GPT-5 models) streams it: typed SSE
 * events from `response.created` to `response.completed`. Failures inside a 200 stream are `response.failed` (the
 * response's `error`) or an `error` event; HTTP errors have OpenAI's `{error: {message, type, param, code}}` body.
 */

const sse = (data: { type: string; [field: string]: unknown }) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;

const responseId = (seq: number) => `resp_sim${String(seq).padStart(20, "0")}`;
const callId = (reply: SimReply, seq: number) => reply.toolCall?.id ?? `call_sim${String(seq).padStart(16, "0")}`;

function response(context: ResponseContext, status: string, extra: Record<string, unknown> = {}) {
  return {
    id: responseId(context.seq),
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    model: context.model,
    status,
    error: null,
    incomplete_details: null,
    output: [],
    usage: null,
    ...extra,
  };
}

function usage(reply: SimReply, context: ResponseContext) {
  const output = outputTokens(reply);
  return {
    input_tokens: context.inputTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: context.inputTokens + output,
  };
}

/** What each in-stream failure looks like on this wire. */
function streamFailure(error: StreamErrorKind, context: ResponseContext, sequence: number): string {
  switch (error) {
    case "rate_limit":
      // The stream's own `error` event, as OpenAI sends for limits hit while streaming.
      return sse({
        type: "error",
        sequence_number: sequence,
        code: "rate_limit_exceeded",
        message: "Rate limit reached for gpt-5 in organization org-simulator on tokens per min (TPM): Limit 30000, Used 30000, Requested 900. Please try again in 1.8s.",
        param: null,
      });
    case "overloaded":
    case "server_error":
      return sse({
        type: "response.failed",
        sequence_number: sequence,
        response: response(context, "failed", {
          error: {
            code: "server_error",
            message:
              error === "overloaded"
                ? "The model is currently overloaded with other requests. You can retry your request."
                : "The server had an error processing your request. Sorry about that! You can retry your request.",
          },
        }),
      });
  }
}

export const responsesWire: WireFormat = {
  ...openaiWire,
  chatPath: "responses",

  streamPlan(reply, context) {
    let sequence = 0;
    const event = (data: { type: string; [field: string]: unknown }) => sse({ ...data, sequence_number: sequence++ });
    const metadata: Chunk[] = [event({ type: "response.created", response: response(context, "in_progress") })];
    const content: Chunk[] = [];
    const toolCall: Chunk[] = [];
    let index = 0;
    if (reply.reasoning !== undefined) {
      const id = `rs_sim${context.seq}`;
      content.push(event({ type: "response.output_item.added", output_index: index, item: { type: "reasoning", id, summary: [], encrypted_content: null } }));
      content.push(event({ type: "response.reasoning_summary_part.added", item_id: id, output_index: index, summary_index: 0, part: { type: "summary_text", text: "" } }));
      for (const piece of textChunks(reply.reasoning))
        content.push(event({ type: "response.reasoning_summary_text.delta", item_id: id, output_index: index, summary_index: 0, delta: piece }));
      content.push(event({ type: "response.reasoning_summary_part.done", item_id: id, output_index: index, summary_index: 0, part: { type: "summary_text", text: reply.reasoning } }));
      content.push(event({ type: "response.output_item.done", output_index: index, item: { type: "reasoning", id, summary: [{ type: "summary_text", text: reply.reasoning }], encrypted_content: null } }));
      index++;
    }
    if (reply.text !== undefined) {
      const id = `msg_sim${context.seq}`;
      const item = { type: "message", id, status: "in_progress", role: "assistant", content: [] };
      content.push(event({ type: "response.output_item.added", output_index: index, item }));
      content.push(event({ type: "response.content_part.added", item_id: id, output_index: index, content_index: 0, part: { type: "output_text", text: "", annotations: [] } }));
      for (const piece of textChunks(reply.text))
        content.push(event({ type: "response.output_text.delta", item_id: id, output_index: index, content_index: 0, delta: piece, logprobs: [] }));
      toolCall.push(event({ type: "response.output_text.done", item_id: id, output_index: index, content_index: 0, text: reply.text }));
      toolCall.push(
        event({ type: "response.output_item.done", output_index: index, item: { ...item, status: "completed", content: [{ type: "output_text", text: reply.text, annotations: [] }] } }),
      );
      index++;
    }
    if (reply.toolCall) {
      const id = `fc_sim${context.seq}`;
      const args = JSON.stringify(reply.toolCall.input);
      const item = { type: "function_call", id, call_id: callId(reply, context.seq), name: reply.toolCall.name, arguments: "", status: "in_progress" };
      toolCall.push(event({ type: "response.output_item.added", output_index: index, item }));
      for (const fragment of jsonFragments(args)) toolCall.push(event({ type: "response.function_call_arguments.delta", item_id: id, output_index: index, delta: fragment }));
      toolCall.push(event({ type: "response.function_call_arguments.done", item_id: id, output_index: index, arguments: args }));
      toolCall.push(event({ type: "response.output_item.done", output_index: index, item: { ...item, arguments: args, status: "completed" } }));
    }
    const finish: Chunk[] = [event({ type: "response.completed", response: response(context, "completed", { usage: usage(reply, context) }) })];
    return { metadata, content, toolCall, finish };
  },

  streamError(error, context) {
    return streamFailure(error, context, 999);
  },

  message(reply, context) {
    const output: unknown[] = [];
    if (reply.reasoning !== undefined) output.push({ type: "reasoning", id: `rs_sim${context.seq}`, summary: [{ type: "summary_text", text: reply.reasoning }] });
    if (reply.text !== undefined)
      output.push({ type: "message", id: `msg_sim${context.seq}`, status: "completed", role: "assistant", content: [{ type: "output_text", text: reply.text, annotations: [] }] });
    if (reply.toolCall)
      output.push({
        type: "function_call",
        id: `fc_sim${context.seq}`,
        call_id: callId(reply, context.seq),
        name: reply.toolCall.name,
        arguments: JSON.stringify(reply.toolCall.input),
        status: "completed",
      });
    return response(context, "completed", { output, usage: usage(reply, context) });
  },
};
