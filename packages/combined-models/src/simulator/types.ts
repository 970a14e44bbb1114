/** The wire formats the simulator speaks, each as the real API sends it. */
export type Wire = "anthropic" | "openai" | "openrouter" | "bedrock" | "responses" | "google" | "copilot";

/** What a simulated model answers, as plain data. */
export type SimReply = {
  /** Streamed word by word, so the client sees several text deltas. */
  text?: string;
  /** Sent before the text, as Anthropic thinking or OpenAI-compatible `reasoning_content`. */
  reasoning?: string;
  /** Sent after the text; the stop reason becomes tool_use / tool_calls. */
  toolCall?: { name: string; input: Record<string, unknown>; id?: string };
  /** Delay before every content chunk, to make streams observable in time. */
  chunkDelayMs?: number;
  /** Anthropic wire: the `stop_reason` to end with, instead of `end_turn` / `tool_use` (e.g. `compaction`). */
  stopReason?: string;
  /**
   * How long a fault after a tool call waits, so the client has run the tool it was handed (default 30 ms; a tool
   * that spawns a process, like OpenCode's bash, needs longer).
   */
  toolRunMs?: number;
};

/** Error kinds with a real body for each wire (see errors in the wire modules). */
export type HttpErrorKind =
  | "rate_limit"
  | "quota"
  | "overloaded"
  | "server_error"
  | "unavailable"
  | "auth"
  | "permission"
  | "context_length";

/** Error kinds that can arrive inside a 200 stream. */
export type StreamErrorKind = "overloaded" | "server_error" | "rate_limit";

/** Where in the response a fault happens. */
export type FaultPoint = "before-first-byte" | "after-metadata" | "after-text" | "after-tool-call";

export type SimFault =
  /** A non-2xx answer before any byte of stream, with the wire's real error body. */
  | {
      kind: "http-error";
      status: number;
      error: HttpErrorKind;
      /** `retry-after` header, in seconds. */
      retryAfterSeconds?: number;
      /** `retry-after-ms` header, which the AI SDK's retry logic prefers. */
      retryAfterMs?: number;
    }
  /** An error event (Anthropic `event: error`) or error chunk (OpenAI `data: {"error":…}`) inside a 200 stream. */
  | { kind: "stream-error"; at: "first-event" | "after-text" | "after-tool-call"; error: StreamErrorKind }
  /** The socket is destroyed: the client sees ECONNRESET. */
  | { kind: "cut"; at: FaultPoint }
  /** Silence until the client aborts (a stall when it happens after text). */
  | { kind: "hang"; at: FaultPoint }
  /** The body ends cleanly but without the terminal events (message_stop / finish_reason / [DONE]). */
  | { kind: "truncate"; at: "after-metadata" | "after-text" }
  /** A failure exactly as one provider sent it (`Recorded` in that provider's wire module), before any byte of stream. */
  | { kind: "recorded"; failure: RecordedFailure };

/** One provider's failure as it was sent: status, the headers that matter, the body. */
export type RecordedFailure = { status: number; headers?: Record<string, string>; body: unknown };

/** One scripted response: a reply plus an optional fault. Each request consumes one step. */
export type SimStep = SimReply & { fault?: SimFault };

/** A request as the simulator received it. Credentials are never recorded. */
export type RecordedRequest = {
  method: string;
  path: string;
  /** Parsed JSON body, or undefined for bodiless / non-JSON requests. */
  body: unknown;
  model: string | undefined;
  stream: boolean;
  /** Lower-cased header names, without authorization, x-api-key and other credentials. */
  headers: Record<string, string>;
  /** Date.now() when the request arrived. */
  time: number;
};
