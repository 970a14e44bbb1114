import { bedrockRecorded } from "./bedrock-wire.ts";
import { copilotRecorded } from "./copilot-wire.ts";
import { googleRecorded } from "./google-wire.ts";
import { openrouterRecorded } from "./openrouter-wire.ts";
import type { FaultPoint, RecordedFailure, SimFault, StreamErrorKind, Wire } from "./types.ts";

/** Small constructors so tests read like the failure they simulate. All return plain data. */
export const faults = {
  rateLimit: (options: { retryAfter?: number; retryAfterMs?: number } = {}): SimFault => ({
    kind: "http-error",
    status: 429,
    error: "rate_limit",
    ...(options.retryAfter !== undefined && { retryAfterSeconds: options.retryAfter }),
    ...(options.retryAfterMs !== undefined && { retryAfterMs: options.retryAfterMs }),
  }),
  /**
   * OpenAI: 429 insufficient_quota. Anthropic: 400 "credit balance is too low" (its billing failure). Bedrock: 429
   * ThrottlingException "Too many tokens per day" (a daily quota, not a per-minute limit).
   */
  quota: (options: { wire?: Wire } = {}): SimFault => ({
    kind: "http-error",
    status: options.wire === "anthropic" ? 400 : 429,
    error: "quota",
  }),
  overloaded: (): SimFault => ({ kind: "http-error", status: 529, error: "overloaded" }),
  serverError: (): SimFault => ({ kind: "http-error", status: 500, error: "server_error" }),
  unavailable: (): SimFault => ({ kind: "http-error", status: 503, error: "unavailable" }),
  auth: (): SimFault => ({ kind: "http-error", status: 401, error: "auth" }),
  forbidden: (): SimFault => ({ kind: "http-error", status: 403, error: "permission" }),
  contextLength: (): SimFault => ({ kind: "http-error", status: 400, error: "context_length" }),
  /** Anthropic turns an error as the first SSE event into an APICallError thrown by doStream. */
  streamErrorFirst: (error: StreamErrorKind = "overloaded"): SimFault => ({ kind: "stream-error", at: "first-event", error }),
  streamErrorAfterText: (error: StreamErrorKind = "overloaded"): SimFault => ({ kind: "stream-error", at: "after-text", error }),
  cut: (at: FaultPoint = "after-text"): SimFault => ({ kind: "cut", at }),
  hang: (at: FaultPoint = "before-first-byte"): SimFault => ({ kind: "hang", at }),
  stall: (): SimFault => ({ kind: "hang", at: "after-text" }),
  truncate: (at: "after-metadata" | "after-text" = "after-text"): SimFault => ({ kind: "truncate", at }),
  /** A failure exactly as a provider sent it. */
  recorded: (failure: RecordedFailure): SimFault => ({ kind: "recorded", failure: structuredClone(failure) }),
  /** Copilot 400 `model_not_supported`: the user's plan does not include this model. */
  modelNotSupported: (): SimFault => faults.recorded(copilotRecorded.modelNotSupported),
  /** Copilot 429 of the user across every model (`x-ratelimit-exceeded: global-chat:…`, Retry-After 2 h). */
  copilotUserWideRateLimit: (): SimFault => faults.recorded(copilotRecorded.userWideRateLimit),
  /** Bedrock 403 `AccessDeniedException`: the account has not enabled this model. */
  bedrockModelAccessDenied: (): SimFault => faults.recorded(bedrockRecorded.accessDeniedModel),
  /** Bedrock 400 `ValidationException`: this model needs an inference profile. */
  bedrockOnDemandNotSupported: (): SimFault => faults.recorded(bedrockRecorded.onDemandNotSupported),
  /** OpenRouter 404 "No endpoints found for …". */
  openrouterNoEndpoints: (): SimFault => faults.recorded(openrouterRecorded.noEndpoints),
  /** Gemini 429 `RESOURCE_EXHAUSTED` on a per-day quota of one model. */
  geminiPerModelDailyQuota: (): SimFault => faults.recorded(googleRecorded.perDayPerModelQuota),
};

/** The wire formats a fault is catalogued on; `copilot` is three of them under one provider. */
export type CatalogWire = Exclude<Wire, "copilot">;

export type FaultCatalogEntry = {
  /** Stable identifier, e.g. for test names and `rehearse` output. */
  name: string;
  wires: readonly CatalogWire[];
  fault: SimFault;
  /**
   * Where the fault happens. "before-first-byte": no metadata or content event precedes it (a stream error as the first
   * event comes with HTTP 200 headers). "after-metadata": Anthropic message_start / the OpenAI role chunk was sent.
   * "after-text": the step's text was streamed first.
   */
  at: FaultPoint;
};

const bothWires = ["anthropic", "openai"] as const;
/** Wires whose providers answer 529 (Anthropic's overload; Copilot forwards it). */
const allWires = ["anthropic", "openai", "openrouter", "bedrock", "responses", "google"] as const;

/** Every fault the simulator knows, for fault matrices. */
export const FAULT_CATALOG: readonly FaultCatalogEntry[] = [
  { name: "rate-limit", wires: allWires, fault: faults.rateLimit(), at: "before-first-byte" },
  { name: "rate-limit-retry-after", wires: allWires, fault: faults.rateLimit({ retryAfter: 7 }), at: "before-first-byte" },
  { name: "rate-limit-retry-after-ms", wires: allWires, fault: faults.rateLimit({ retryAfterMs: 1500 }), at: "before-first-byte" },
  // Google: 429 RESOURCE_EXHAUSTED on a per-day QuotaFailure.
  { name: "insufficient-quota", wires: ["openai", "bedrock", "responses", "google"], fault: faults.quota({ wire: "openai" }), at: "before-first-byte" },
  // OpenRouter: 402 "Insufficient credits".
  { name: "insufficient-credits-402", wires: ["openrouter"], fault: { kind: "http-error", status: 402, error: "quota" }, at: "before-first-byte" },
  { name: "credit-balance-too-low", wires: ["anthropic"], fault: faults.quota({ wire: "anthropic" }), at: "before-first-byte" },
  { name: "overloaded-529", wires: bothWires, fault: faults.overloaded(), at: "before-first-byte" },
  { name: "server-error-500", wires: allWires, fault: faults.serverError(), at: "before-first-byte" },
  { name: "unavailable-503", wires: allWires, fault: faults.unavailable(), at: "before-first-byte" },
  { name: "auth-401", wires: allWires, fault: faults.auth(), at: "before-first-byte" },
  { name: "forbidden-403", wires: allWires, fault: faults.forbidden(), at: "before-first-byte" },
  { name: "context-length-400", wires: allWires, fault: faults.contextLength(), at: "before-first-byte" },
  { name: "stream-error-first-event", wires: allWires, fault: faults.streamErrorFirst(), at: "before-first-byte" },
  { name: "stream-error-after-text", wires: allWires, fault: faults.streamErrorAfterText(), at: "after-text" },
  { name: "cut-before-first-byte", wires: allWires, fault: faults.cut("before-first-byte"), at: "before-first-byte" },
  { name: "cut-after-metadata", wires: allWires, fault: faults.cut("after-metadata"), at: "after-metadata" },
  { name: "cut-after-text", wires: allWires, fault: faults.cut("after-text"), at: "after-text" },
  { name: "hang-before-first-byte", wires: allWires, fault: faults.hang("before-first-byte"), at: "before-first-byte" },
  { name: "hang-after-metadata", wires: allWires, fault: faults.hang("after-metadata"), at: "after-metadata" },
  { name: "stall-after-text", wires: allWires, fault: faults.stall(), at: "after-text" },
  { name: "truncate-after-text", wires: allWires, fault: faults.truncate("after-text"), at: "after-text" },
  // Bedrock: a modeled throttlingException frame; Anthropic: a rate_limit_error event; OpenAI: an error chunk.
  { name: "stream-rate-limit-after-text", wires: allWires, fault: faults.streamErrorAfterText("rate_limit"), at: "after-text" },
  // Bedrock: an event-typed modelStreamErrorException carrying the model's 500.
  { name: "stream-server-error-after-text", wires: allWires, fault: faults.streamErrorAfterText("server_error"), at: "after-text" },
];

/**
 * Refusals that name one model, each on the wire of the provider that sends it (its recorded body): they fail over and
 * cool that member alone, not its provider.
 */
export const MODEL_REFUSALS: readonly { name: string; provider: string; wire: Wire; fault: SimFault }[] = [
  { name: "copilot-model-not-supported", provider: "github-copilot", wire: "copilot", fault: faults.modelNotSupported() },
  { name: "bedrock-access-denied-model", provider: "amazon-bedrock", wire: "bedrock", fault: faults.bedrockModelAccessDenied() },
  { name: "bedrock-on-demand-not-supported", provider: "amazon-bedrock", wire: "bedrock", fault: faults.bedrockOnDemandNotSupported() },
  { name: "openrouter-no-endpoints", provider: "openrouter", wire: "openrouter", fault: faults.openrouterNoEndpoints() },
  { name: "gemini-per-model-daily-quota", provider: "google", wire: "google", fault: faults.geminiPerModelDailyQuota() },
];
