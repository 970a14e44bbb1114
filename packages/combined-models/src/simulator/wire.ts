import type { HttpErrorKind, SimFault, SimReply, StreamErrorKind } from "./types.ts";

/** What a wire needs to know about the request it answers. */
export type ResponseContext = {
  providerId: string;
  model: string;
  /** Per-simulator counter, for unique message / tool call ids. */
  seq: number;
  /** Rough estimate from the request size, so usage numbers are plausible. */
  inputTokens: number;
  /**
   * What a thinking signature is bound to: the model (an alias and its dated id are one, as at the real APIs; the
   * default), or the exact id sent, for a provider stricter than the ids suggest (`Simulator.bindSignatures`).
   */
  signatures?: SignatureBinding;
};

export type SignatureBinding = "model" | "id";

/**
 * A streamed answer split at the points where faults can strike. Every string is one write to the socket (one SSE
 * event or several), so chunk delays and faults fall between real events.
 */
export type StreamPlan = {
  /** Before any content: Anthropic message_start, the OpenAI role chunk. */
  metadata: Chunk[];
  /** Reasoning and text deltas, in order. */
  content: Chunk[];
  /** The tool call, complete: a client runs the tool once it has read these. */
  toolCall: Chunk[];
  /** Stop reason, usage and the terminal event. */
  finish: Chunk[];
};

/** One write to the socket: SSE text, or a binary frame (Bedrock's event stream). */
export type Chunk = string | Uint8Array;

export type HttpErrorResponse = { status: number; headers: Record<string, string>; body: unknown };

export type HttpErrorFault = Extract<SimFault, { kind: "http-error" }>;

/** One provider wire format: how replies and errors look on it. */
export type WireFormat = {
  /** The POST path under `/<id>/v1` that takes chat requests. */
  chatPath: string;
  /**
   * For wires whose path names the model and the mode (Bedrock's `model/<id>/converse-stream`): the request's model
   * and whether it streams. Without it, `chatPath` matches and the JSON body's `model` and `stream` say.
   */
  route?(path: string): { model: string; stream: boolean } | undefined;
  /** For a provider that serves several APIs (Copilot): the wire that answers this path, when not this one. */
  select?(path: string): WireFormat | undefined;
  /** The streamed answer's content type; `text/event-stream` when not given. */
  streamContentType?: string;
  streamPlan(reply: SimReply, context: ResponseContext): StreamPlan;
  /** The in-stream error event / chunk. */
  streamError(error: StreamErrorKind, context: ResponseContext): Chunk;
  /** The non-streaming response body. */
  message(reply: SimReply, context: ResponseContext): unknown;
  httpError(fault: HttpErrorFault, context: ResponseContext): HttpErrorResponse;
  models(): unknown;
  /**
   * What the real API refuses before answering (a 400 `invalid_request` with this message), given the request body
   * and the provider it was sent to; undefined to answer.
   */
  rejects?(body: unknown, context: ResponseContext): string | undefined;
  /** Headers that go with an error body, where the wire names the error in a header (Bedrock's `x-amzn-errortype`). */
  errorHeaders?(kind: HttpErrorKind | "not_found" | "invalid_request", context: ResponseContext): Record<string, string>;
  /** An error body in the wire's shape for requests the simulator cannot route. */
  errorBody(kind: HttpErrorKind | "not_found" | "invalid_request", message: string): unknown;
};

/** Splits text into word-sized deltas ("Hello ", "from ", "x."), like real models stream it. */
export function textChunks(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? (text.length > 0 ? [text] : []);
}

/** Splits a JSON document into a few fragments, so clients must accumulate partial tool input. */
export function jsonFragments(json: string): string[] {
  const size = Math.max(1, Math.ceil(json.length / 3));
  const fragments: string[] = [];
  for (let i = 0; i < json.length; i += size) fragments.push(json.slice(i, i + size));
  return fragments;
}

export function outputTokens(reply: SimReply): number {
  const text = `${reply.reasoning ?? ""} ${reply.text ?? ""} ${reply.toolCall ? JSON.stringify(reply.toolCall.input) : ""}`;
  return Math.max(1, Math.ceil(text.trim().length / 4));
}

/** Retry headers as the real APIs send them; the AI SDK reads both. */
export function retryHeaders(fault: HttpErrorFault): Record<string, string> {
  const headers: Record<string, string> = {};
  if (fault.retryAfterSeconds !== undefined) headers["retry-after"] = String(fault.retryAfterSeconds);
  if (fault.retryAfterMs !== undefined) headers["retry-after-ms"] = String(fault.retryAfterMs);
  return headers;
}
