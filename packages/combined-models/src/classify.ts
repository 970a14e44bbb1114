/**
 * Reads one failure, whatever shape it reached us in, as a `ClassifiedError`: why it failed, how long the provider
 * wants us to wait, and a short redacted message. Failover and cooldown decisions are made on this reading only.
 *
 * Shapes seen in practice (see the project's shared/design/failover.md, "How a failing stream reaches the caller"):
 * - AI SDK `APICallError` (HTTP errors; also a synthetic 500/529 when Anthropic's first SSE event is an error),
 *   possibly inside `RetryError.lastError`, a `cause` chain or an `{type: "error", error}` stream part;
 * - in-stream error values without a status: Anthropic `{type: "overloaded_error", message}`, openai-compatible
 *   strings, Bedrock `{throttlingException: {...}}`;
 * - Bun network errors (`code: "ECONNRESET"`, `"ConnectionRefused"`, …), DOMException `AbortError`/`TimeoutError`;
 * - OpenCode's normalised `{name: "APIError", data}` objects (and the class instances they come from), and the
 *   native runtime's `LLMError` with its tagged `reason`.
 *
 * Evidence is weighed in a fixed order: typed markers, HTTP status, provider error codes from the body, then known
 * phrases. A phrase never overrides a status it contradicts, and no decision is taken on a bare number or a word
 * found somewhere in a sentence.
 *
 * Decisions worth knowing:
 * - 504 and Cloudflare's 524 are `timeout`: the provider's gateway gave up waiting for the model, which is the same
 *   event as our own first-byte timeout, and it calls for the same remedy. `statusCode` still says which it was.
 * - 403 is `auth`, except when the body says quota, rate limit or content moderation, and except GitHub Copilot:
 *   Copilot answers 403 ("Forbidden", "Access to this endpoint is forbidden") intermittently for minutes at a time
 *   and re-authenticating does not help, so a Copilot 403 that does not name a credential or licence problem is read
 *   as `rate_limit` (short cooldown, the provider is tried again later) instead of `auth` (out until re-login).
 * - `quota` means "will not clear for a long while": a quota/credit/billing code or phrase, HTTP 402, a rate limit
 *   stated per day or per month, or a 429 whose wait is at least `QUOTA_MIN_WAIT_MS`.
 */
import { APICallError, LoadAPIKeyError, TypeValidationError } from "@ai-sdk/provider"
import { CombinedModelsTimeoutError, StreamTruncatedError } from "./errors.ts"
import { parseDuration } from "./duration.ts"
import { isAnthropicBillingFailure } from "./wires/anthropic.ts"
import { BedrockStreamException } from "./wires/bedrock.ts"
import { GoogleStreamError } from "./wires/google.ts"
import { responseFailure } from "./wires/openai-responses.ts"
import { redact } from "./redact.ts"
import type { ClassifiedError, FailureReason } from "./types.ts"

export interface ClassifyContext {
  /** Clock for HTTP-date and absolute reset headers; defaults to `Date.now()`. */
  now?: number
  /** The request's signal: once aborted, its reason tells a user abort from a timeout, whatever was thrown. */
  abortSignal?: AbortSignal
  /** Provider the failed request went to; enables provider-specific readings (GitHub Copilot's 403). */
  providerID?: string
}

/** A 429 that will not clear within this long is a spent allowance, not a per-minute rate limit. */
export const QUOTA_MIN_WAIT_MS = 15 * 60_000

const MESSAGE_LENGTH = 200
/** Enough of a body to find its error code and phrases; error bodies larger than this are pages, not JSON. */
const BODY_SCAN_LIMIT = 64 * 1024
const CHAIN_LIMIT = 12

export function classify(error: unknown, context: ClassifyContext = {}): ClassifiedError {
  try {
    return classifyUnchecked(error, context)
  } catch {
    // Exotic inputs (throwing getters, revoked proxies) must not turn error handling into a second failure.
    return { reason: "unknown", message: "Unreadable error" }
  }
}

function classifyUnchecked(error: unknown, context: ClassifyContext): ClassifiedError {
  const now = context.now ?? Date.now()
  const fromSignal = classifyAbortSignal(context.abortSignal)
  if (fromSignal) return fromSignal

  const layers = unwrap(error)
  for (const layer of layers) {
    const timeout = asTimeout(layer)
    if (timeout) return timeout
    // A stream cut short without an error on the wire is a broken connection in all but name.
    if (StreamTruncatedError.isInstance(layer)) return { reason: "network", message: layer.message }
  }
  for (const layer of layers) {
    if (isAbort(layer)) return { reason: "aborted", message: redact(abortMessage(layer), MESSAGE_LENGTH) || "Aborted" }
  }
  for (const layer of layers) {
    const evidence = evidenceOf(layer)
    if (!evidence) continue
    const decided = decide(evidence, context, now)
    if (decided) return decided
  }
  const message = layers.map(messageOf).find((text) => text !== undefined)
  return { reason: "unknown", message: redact(message ?? describe(error), MESSAGE_LENGTH) || "Unknown error" }
}

// ---------------------------------------------------------------------------------------------------------------
// Abort and timeout

function classifyAbortSignal(signal: AbortSignal | undefined): ClassifiedError | undefined {
  if (!signal?.aborted) return undefined
  const reason: unknown = signal.reason
  const timeout = asTimeout(reason)
  if (timeout) return timeout
  return { reason: "aborted", message: redact(messageOf(reason) ?? "Aborted by the caller", MESSAGE_LENGTH) }
}

function asTimeout(value: unknown): ClassifiedError | undefined {
  if (CombinedModelsTimeoutError.isInstance(value)) return { reason: "timeout", message: value.message }
  if (!isObject(value)) return undefined
  // `streamText`'s abort part carries only the message of the signal's reason: "The operation timed out." for
  // AbortSignal.timeout(), "Provider timed out: …" for CombinedModelsTimeoutError.
  const abortReason = read(value, "reason")
  if (read(value, "type") === "abort" && typeof abortReason === "string" && /\btimed out\b/i.test(abortReason)) {
    return { reason: "timeout", message: redact(abortReason, MESSAGE_LENGTH) }
  }
  const name = read(value, "name")
  // DOMException from AbortSignal.timeout(), and OpenCode's own header / SSE read timeouts.
  if (name === "TimeoutError" || name === "ProviderHeaderTimeoutError") {
    return { reason: "timeout", message: redact(messageOf(value) ?? "Timed out", MESSAGE_LENGTH) }
  }
  if (name === "ProviderResponseStreamError" && /timed out/i.test(messageOf(value) ?? "")) {
    return { reason: "timeout", message: redact(messageOf(value) ?? "Stream timed out", MESSAGE_LENGTH) }
  }
  return undefined
}

function isAbort(value: unknown): boolean {
  if (!isObject(value)) return false
  const name = read(value, "name")
  if (name === "AbortError" || name === "MessageAbortedError") return true
  // The AI SDK's `{type: "abort", reason?}` fullStream part.
  return read(value, "type") === "abort" && !("error" in value)
}

function abortMessage(value: unknown): string {
  const partReason = isObject(value) ? read(value, "reason") : undefined
  if (typeof partReason === "string" && partReason !== "") return partReason
  return messageOf(value) ?? "Aborted"
}

// ---------------------------------------------------------------------------------------------------------------
// Unwrapping

/** The error and what it wraps, outermost first, without revisiting (cause chains can be circular). */
function unwrap(error: unknown): unknown[] {
  const layers: unknown[] = []
  const seen = new Set<unknown>()
  const visit = (value: unknown, depth: number): void => {
    if (value === undefined || value === null || depth > CHAIN_LIMIT || layers.length >= CHAIN_LIMIT) return
    if (typeof value === "object") {
      if (seen.has(value)) return
      seen.add(value)
    }
    if (hasAiSdkMarker(value, "AI_RetryError")) {
      // The last attempt is the one that decides; earlier ones are older news about the same provider.
      visit(read(value, "lastError"), depth + 1)
      layers.push(value)
      return
    }
    layers.push(value)
    if (!isObject(value)) return
    if (read(value, "type") === "error" && "error" in value) visit(read(value, "error"), depth + 1)
    visit(responseFailure(value), depth + 1)
    if (TypeValidationError.isInstance(value)) visit(value.value, depth + 1)
    visit(read(value, "cause"), depth + 1)
  }
  visit(error, 0)
  return layers
}

// ---------------------------------------------------------------------------------------------------------------
// Evidence: what one layer says, in one shape whatever it came from

interface Evidence {
  status?: number
  headers: Record<string, string>
  body?: unknown
  bodyText?: string
  message?: string
  codes: string[]
  /** Gemini `QuotaFailure` ids such as `GenerateRequestsPerDayPerProjectPerModel-FreeTier`. */
  quotaIds: string[]
  /** Socket-level code from Bun / Node (`ECONNRESET`, `ConnectionRefused`). */
  networkCode?: string
  /** What a typed source already knows; `strong` hints are final. */
  hint?: { reason: FailureReason; strong: boolean }
  retryAfterMs?: number
  resetAt?: number
  url?: string
}

function evidenceOf(layer: unknown): Evidence | undefined {
  if (typeof layer === "string") return evidenceFromText(layer)
  if (!isObject(layer)) return undefined
  if (APICallError.isInstance(layer)) return evidenceFromApiCallError(layer)
  if (LoadAPIKeyError.isInstance(layer)) return withHint(emptyEvidence(layer.message), "auth", true)
  if (BedrockStreamException.isInstance(layer)) return evidenceFromBedrockStream(layer)
  if (GoogleStreamError.isInstance(layer)) {
    // Gemini's in-stream error is its HTTP error body: status, QuotaFailure and RetryInfo read as from a response.
    const evidence = emptyEvidence(layer.body.error.message)
    addBody(evidence, layer.body)
    return evidence
  }
  if (isLLMError(layer)) return evidenceFromLLMReason(read(layer, "reason"))
  if (isLLMReason(layer)) return evidenceFromLLMReason(layer)
  const named = evidenceFromOpenCodeError(layer)
  if (named) return named

  const networkCode = socketCode(layer)
  if (networkCode) return { ...emptyEvidence(messageOf(layer)), networkCode }

  return evidenceFromObject(layer)
}

function emptyEvidence(message?: string): Evidence {
  return { headers: {}, codes: [], quotaIds: [], message }
}

function withHint(evidence: Evidence, reason: FailureReason, strong: boolean): Evidence {
  evidence.hint = { reason, strong }
  return evidence
}

function evidenceFromApiCallError(error: APICallError): Evidence {
  const evidence = emptyEvidence(error.message)
  evidence.status = validStatus(error.statusCode)
  evidence.headers = lowerCaseHeaders(error.responseHeaders)
  evidence.url = typeof error.url === "string" ? error.url : undefined
  addBody(evidence, error.responseBody)
  if (evidence.body === undefined && isObject(error.data)) addBody(evidence, error.data)
  // "Cannot connect to API: …" carries the socket error as its cause and no status.
  if (evidence.status === undefined) evidence.networkCode = socketCode(error.cause)
  return evidence
}

/** A modeled exception inside a Bedrock stream: its type is the code; a model error carries the model's status. */
function evidenceFromBedrockStream(error: BedrockStreamException): Evidence {
  const evidence = emptyEvidence(error.message)
  evidence.codes.push(error.exceptionType)
  evidence.status = validStatus(error.originalStatusCode)
  return evidence
}

/** Plain objects: in-stream error parts, provider SDK errors (`status`, `headers`, `error`), parsed JSON bodies. */
function evidenceFromObject(value: object): Evidence | undefined {
  const evidence = emptyEvidence(
    typeof read(value, "message") === "string" ? (read(value, "message") as string) : undefined,
  )
  // Bedrock's event-typed stream errors reach the caller as the bare inner object: the model's status is
  // `originalStatusCode`.
  evidence.status =
    validStatus(read(value, "statusCode")) ?? validStatus(read(value, "status")) ?? validStatus(read(value, "originalStatusCode"))
  const headers = read(value, "responseHeaders") ?? read(value, "headers")
  evidence.headers = lowerCaseHeaders(headers)
  const responseBody = read(value, "responseBody") ?? read(value, "body")
  if (typeof responseBody === "string" || isObject(responseBody)) addBody(evidence, responseBody)
  // The object itself is the body for stream parts and parsed JSON.
  if (evidence.body === undefined) addBody(evidence, value)
  // Messages that are serialized bodies: `Error('{"type":"error","error":{…}}')`, or state a status: "HTTP 503".
  if (evidence.message && evidence.codes.length === 0) mergeEmbeddedJson(evidence, evidence.message)
  if (evidence.message && evidence.status === undefined) {
    evidence.status = labelledStatus(evidence.message)
  }
  const informative =
    evidence.status !== undefined ||
    evidence.codes.length > 0 ||
    evidence.message !== undefined ||
    bodyMessage(evidence.body) !== undefined
  return informative ? evidence : undefined
}

function evidenceFromText(text: string): Evidence {
  const evidence = emptyEvidence(text)
  mergeEmbeddedJson(evidence, text)
  if (evidence.status === undefined) {
    evidence.status = labelledStatus(text)
  }
  return evidence
}

function mergeEmbeddedJson(evidence: Evidence, text: string): void {
  const json = parseEmbeddedJson(text)
  if (json === undefined) return
  addBody(evidence, json)
}

function addBody(evidence: Evidence, body: unknown): void {
  if (typeof body === "string") {
    evidence.bodyText = body.length > BODY_SCAN_LIMIT ? body.slice(0, BODY_SCAN_LIMIT) : body
    body = body.length <= BODY_SCAN_LIMIT ? parseJson(body) : undefined
  }
  if (!isObject(body)) return
  evidence.body = body
  const found = collectCodes(body)
  evidence.codes.push(...found.codes)
  evidence.quotaIds.push(...found.quotaIds)
  // OpenRouter and Gemini repeat the status as `error.code`; in a stream it is the only status there is.
  if (evidence.status === undefined && found.status !== undefined) evidence.status = found.status
}

/** OpenCode's `NamedError` objects (`{name, data}`), plain or as class instances. */
function evidenceFromOpenCodeError(value: object): Evidence | undefined {
  const name = read(value, "name")
  const data = read(value, "data")
  if (typeof name !== "string" || !isObject(data)) return undefined
  const message = typeof read(data, "message") === "string" ? (read(data, "message") as string) : undefined
  switch (name) {
    case "APIError": {
      const evidence = emptyEvidence(message)
      evidence.status = validStatus(read(data, "statusCode"))
      evidence.headers = lowerCaseHeaders(read(data, "responseHeaders"))
      const responseBody = read(data, "responseBody")
      if (typeof responseBody === "string") addBody(evidence, responseBody)
      if (evidence.codes.length === 0 && message) mergeEmbeddedJson(evidence, message)
      const metadata = read(data, "metadata")
      const metaCode = isObject(metadata) ? read(metadata, "code") : undefined
      if (typeof metaCode === "string") {
        if (metaCode === "ProviderHeaderTimeoutError") return withHint(evidence, "timeout", true)
        if (metaCode === "ProviderResponseStreamError") {
          return withHint(evidence, /timed out/i.test(message ?? "") ? "timeout" : "network", true)
        }
        if (NETWORK_CODES.has(metaCode.toUpperCase()) || metaCode === "ZlibError") evidence.networkCode = metaCode
      }
      const url = isObject(metadata) ? read(metadata, "url") : undefined
      if (typeof url === "string") evidence.url = url
      return evidence
    }
    case "ContextOverflowError": {
      const evidence = emptyEvidence(message)
      const responseBody = read(data, "responseBody")
      if (typeof responseBody === "string") addBody(evidence, responseBody)
      return withHint(evidence, "context_overflow", true)
    }
    case "ProviderAuthError":
      return withHint(emptyEvidence(message), "auth", true)
    case "MessageOutputLengthError":
      return withHint(emptyEvidence(message ?? "Output length exceeded"), "invalid_request", true)
    case "StructuredOutputError":
    case "ContentFilterError":
      return withHint(emptyEvidence(message), "invalid_request", true)
    case "UnknownError":
      // OpenCode stores unrecognised stream errors as `JSON.stringify(error)` here; read them again.
      return message === undefined ? undefined : evidenceFromText(message)
  }
  return undefined
}

// The native runtime (`@opencode-ai/llm`): `LLMError { reason: { _tag, message, http?, retryAfterMs?, … } }`.

const LLM_REASON_TAGS = new Set([
  "InvalidRequest",
  "NoRoute",
  "Authentication",
  "RateLimit",
  "QuotaExceeded",
  "ContentPolicy",
  "ProviderInternal",
  "Transport",
  "InvalidProviderOutput",
  "UnknownProvider",
])

function isLLMError(value: object): boolean {
  return read(value, "_tag") === "LLM.Error" && isObject(read(value, "reason"))
}

function isLLMReason(value: object): boolean {
  const tag = read(value, "_tag")
  return typeof tag === "string" && LLM_REASON_TAGS.has(tag) && typeof read(value, "message") === "string"
}

function evidenceFromLLMReason(reason: unknown): Evidence | undefined {
  if (!isObject(reason)) return undefined
  const tag = read(reason, "_tag")
  const message = typeof read(reason, "message") === "string" ? (read(reason, "message") as string) : undefined
  const evidence = emptyEvidence(message)
  const http = read(reason, "http")
  const response = isObject(http) ? read(http, "response") : undefined
  evidence.status =
    validStatus(isObject(response) ? read(response, "status") : undefined) ?? validStatus(read(reason, "status"))
  evidence.headers = lowerCaseHeaders(isObject(response) ? read(response, "headers") : undefined)
  const body = isObject(http) ? read(http, "body") : undefined
  if (typeof body === "string") addBody(evidence, body)
  const retryAfterMs = read(reason, "retryAfterMs")
  if (typeof retryAfterMs === "number" && Number.isFinite(retryAfterMs) && retryAfterMs >= 0)
    evidence.retryAfterMs = retryAfterMs
  switch (tag) {
    case "RateLimit":
      return withHint(evidence, "rate_limit", false)
    case "QuotaExceeded":
      return withHint(evidence, "quota", true)
    case "Authentication":
      return withHint(evidence, "auth", true)
    case "InvalidRequest":
      if (read(reason, "classification") === "context-overflow") return withHint(evidence, "context_overflow", true)
      return withHint(evidence, "invalid_request", false)
    case "ContentPolicy":
      return withHint(evidence, "invalid_request", true)
    case "ProviderInternal":
      return withHint(evidence, "server_error", false)
    case "Transport":
      return withHint(evidence, read(reason, "kind") === "Timeout" ? "timeout" : "network", true)
    case "InvalidProviderOutput":
      // The provider answered with something unreadable: its fault, and another provider may do better.
      return withHint(evidence, "server_error", true)
    case "NoRoute":
      return withHint(evidence, "unknown", true)
    default:
      return withHint(evidence, "unknown", false)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Provider codes and phrases

const QUOTA_CODES = new Set([
  "insufficient_quota",
  "quota_exceeded",
  "billing_error",
  "billing_hard_limit_reached",
  "billing_not_active",
  "usage_limit_reached",
  "usage_not_included",
  "insufficient_credits",
  "insufficient_balance",
  "payment_required",
  "servicequotaexceededexception",
  "freeusagelimiterror",
  "gousagelimiterror",
])
const QUOTA_PHRASES = [
  /insufficient[_ ]quota/i,
  /exceeded your current quota/i,
  /you have no quota/i,
  /\bquota (?:has been |was )?exceeded\b/i,
  /insufficient (?:credits?|balance|funds)/i,
  /requires more credits/i,
  /out of credits/i,
  /(?:reached|hit|exceeded|used up) (?:your|the) (?:\w+ )?(?:usage|spending|monthly|weekly|daily) (?:limit|cap|allowance)/i,
  /usage limit (?:has been |was )?reached/i,
  /premium request (?:allowance|limit)/i,
  /monthly (?:chat messages )?(?:quota|limit)/i,
  /budget (?:has been )?exceeded/i,
  /\b(?:FreeUsageLimitError|GoUsageLimitError)\b/,
]
/** A rate limit stated per day or month does not clear in seconds. */
const LONG_WINDOW_PHRASES = /\bper[ _-]?(?:day|month)\b|\bdaily\b|\bmonthly\b|\((?:RPD|TPD)\)/i
/** Gemini quota ids spell the window in CamelCase: `GenerateRequestsPerDayPerProjectPerModel-FreeTier`. */
const LONG_WINDOW_QUOTA_ID = /per_?day|per_?month|daily|monthly/i

const OVERFLOW_CODES = new Set([
  "context_length_exceeded",
  "model_context_window_exceeded",
  "request_too_large",
  "string_above_max_length",
])
/** OpenCode's own list (`packages/llm/src/provider-error.ts` at the pin), so both agree on what overflow is. */
const OVERFLOW_PHRASES = [
  /prompt is too long/i,
  /request_too_large/i,
  /input is too long for requested model/i,
  /exceeds the context window/i,
  /exceeds (?:the )?(?:model'?s )?maximum context length(?: of [\d,]+ tokens?|\s*\([\d,]+\))/i,
  /input token count.*exceeds the maximum/i,
  /tokens in request more than max tokens allowed/i,
  /maximum prompt length is \d+/i,
  /reduce the length of the messages/i,
  /maximum context length is \d+ tokens/i,
  /exceeds (?:the )?maximum allowed input length of [\d,]+ tokens?/i,
  /input \(\d+ tokens\) is longer than the model'?s context length \(\d+ tokens\)/i,
  /exceeds the limit of \d+/i,
  /exceeds the available context size/i,
  /greater than the context length/i,
  /context window exceeds limit/i,
  /exceeded model token limit/i,
  /context[_ ]length[_ ]exceeded/i,
  /request entity too large/i,
  /context length is only \d+ tokens/i,
  /input length.*exceeds.*context length/i,
  /prompt too long; exceeded (?:max )?context length/i,
  /too large for model with \d+ maximum context length/i,
  /prompt has [\d,]+ tokens?, but the configured context size is [\d,]+ tokens?/i,
  /model_context_window_exceeded/i,
  /too many tokens/i,
  /token limit exceeded/i,
]
const OVERFLOW_EXCLUSIONS = [
  /^(?:throttling error|service unavailable):/i,
  /rate limit/i,
  /too many requests/i,
  /please wait/i,
]

const RATE_CODES = new Set([
  "rate_limit_error",
  "rate_limit_exceeded",
  "rate_limited",
  "ratelimited",
  "ratelimitexceeded",
  "too_many_requests",
  "throttlingexception",
  "throttled",
  "model_rate_limited",
  "user_rate_limited",
])
const RATE_PHRASES = [
  /\brate[ _-]?limit(?:ed|s|ing)?\b/i,
  /\btoo many requests\b/i,
  /\bthrottl(?:ed|ing)\b/i,
  /please wait before trying again/i,
  /rate increased too quickly/i,
]

const OVERLOADED_CODES = new Set(["overloaded_error", "server_is_overloaded", "overloaded", "slow_down"])
const OVERLOADED_PHRASES = [/\boverloaded\b/i, /\bover capacity\b/i, /\bat capacity\b/i]

const AUTH_CODES = new Set([
  "authentication_error",
  "permission_error",
  "invalid_api_key",
  "api_key_invalid",
  "unauthenticated",
  "permission_denied",
  "unauthorized",
  "accessdeniedexception",
  "unrecognizedclientexception",
  "expiredtokenexception",
  "invalid_token",
  "token_expired",
])
const AUTH_PHRASES = [
  /\binvalid (?:x-)?api[ _-]?key\b/i,
  /\bincorrect api key\b/i,
  /\bapi key (?:not valid|is invalid|expired)\b/i,
  /\bauthentication (?:failed|error|required)\b/i,
]
/** A Copilot 403 that says this is about credentials or licences is a real auth failure, not the transient kind. */
const COPILOT_LASTING_403 =
  /token (?:has )?expired|invalid (?:token|credentials)|not authori[sz]ed|requires? an? (?:enterprise|organization)|not (?:enabled|licensed)|no (?:active )?(?:copilot )?(?:subscription|license|access)|personal access tokens? (?:are|is) not supported/i

const MODERATION_CODES = new Set(["content_filter", "content_policy_violation", "moderation", "flagged", "safety"])
const MODERATION_PHRASES = [
  /\bflagged by (?:the )?moderation\b/i,
  /\bcontent (?:management )?polic(?:y|ies)\b/i,
  /\bcontent[_ ]filter\b/i,
]

const TIMEOUT_CODES = new Set([
  "timeout_error",
  "deadline_exceeded",
  "request_timeout",
  "timeout",
  "und_err_headers_timeout",
  "und_err_body_timeout",
])
const TIMEOUT_PHRASES = [
  /^timeout$/i,
  /\b(?:request|response|connection|network|stream|read|gateway|upstream)\s+(?:timeout|timed out|time out)\b/i,
  /\boperation timed out\b/i,
]

const SERVER_CODES = new Set([
  "api_error",
  "server_error",
  "internal_error",
  "internal_server_error",
  "internal",
  "unavailable",
  "service_unavailable",
  "bad_gateway",
  "internalserverexception",
  "modelstreamerrorexception",
  "serviceunavailableexception",
  "modelnotreadyexception",
  "modelerrorexception",
])

/** Status texts that stand in for a status when an error arrives as a bare string (openai-compatible streams). */
const SERVER_PHRASES = [
  /\binternal server error\b/i,
  // OpenAI's 500 body, which chat-completions SDKs pass on as the bare message inside a stream.
  /\bserver had an error\b/i,
  /\bprovider returned error\b/i,
  /\bservice (?:temporarily )?unavailable\b/i,
  /\bbad gateway\b/i,
]

const INVALID_CODES = new Set([
  "invalid_request_error",
  "not_found_error",
  "invalid_argument",
  "not_found",
  "failed_precondition",
  "validationexception",
  "resourcenotfoundexception",
  "model_not_found",
  "model_not_supported",
  "invalid_prompt",
  "unsupported_value",
  "unsupported_parameter",
])

/** Socket-level failures as Bun and Node name them. */
const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "CONNECTIONREFUSED",
  "CONNECTIONCLOSED",
  "FAILEDTOOPENSOCKET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_NONAME",
  // A connect() that timed out means the host is unreachable, like a refusal; slow answers are `timeout`.
  "ETIMEDOUT",
  "EPIPE",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "ZLIBERROR",
])
const SOCKET_TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"])
const NETWORK_PHRASES = [
  /socket connection was closed unexpectedly/i,
  /\bfetch failed\b/i,
  /\bfailed to fetch\b/i,
  /\bunable to connect\b/i,
  /\bsocket hang up\b/i,
  /\bconnection (?:reset|refused|closed|lost|error)\b/i,
  /\bgetaddrinfo\b/i,
  /\bnetwork error\b/i,
  /\b(?:ECONNRESET|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)\b/,
  /\breset before headers\b/i,
  /\bcannot connect to api\b/i,
]

// ---------------------------------------------------------------------------------------------------------------
// Decision

function decide(evidence: Evidence, context: ClassifyContext, now: number): ClassifiedError | undefined {
  const picked = pickReason(evidence, context)
  if (!picked) return undefined
  let { reason } = picked
  const wait = waitOf(evidence, reason, now)
  if (
    reason === "rate_limit" &&
    (LONG_WINDOW_PHRASES.test(scanText(evidence)) || (wait !== undefined && wait >= QUOTA_MIN_WAIT_MS))
  ) {
    reason = "quota"
  }
  const result: ClassifiedError = { reason, message: messageFor(evidence, reason, picked.note) }
  if (evidence.status !== undefined) result.statusCode = evidence.status
  const code = reportedCode(evidence)
  if (code !== undefined) result.code = code
  if (!NO_WAIT_REASONS.has(reason)) {
    // A rate limit read as quota keeps the wait its own window states; a quota signalled outright does not borrow
    // the per-minute windows' resets.
    const waitMs = reason === "quota" && picked.reason === "quota" ? quotaWait(evidence, now) : wait
    if (waitMs !== undefined) result.retryAfterMs = waitMs
    if (reason === "quota") {
      const resetAt = evidence.resetAt ?? (waitMs !== undefined ? now + waitMs : undefined)
      if (resetAt !== undefined) result.resetAt = resetAt
    }
  }
  return result
}

const NO_WAIT_REASONS = new Set<FailureReason>(["aborted", "context_overflow", "invalid_request"])

interface Pick {
  reason: FailureReason
  note?: "copilot_403"
}

function pickReason(evidence: Evidence, context: ClassifyContext): Pick | undefined {
  const { status, hint } = evidence
  if (hint?.strong) return { reason: hint.reason }
  if (evidence.networkCode) {
    return { reason: SOCKET_TIMEOUT_CODES.has(evidence.networkCode.toUpperCase()) ? "timeout" : "network" }
  }
  const codes = new Set(evidence.codes.map((code) => code.toLowerCase()))
  const hasCode = (set: ReadonlySet<string>) => [...codes].some((code) => set.has(code))
  const text = scanText(evidence)
  const says = (phrases: readonly RegExp[]) => phrases.some((phrase) => phrase.test(text))
  const noStatus = status === undefined
  const rateSignal = hasCode(RATE_CODES) || says(RATE_PHRASES)

  if (status === 401) return { reason: "auth" }

  // Gemini says "You exceeded your current quota" for per-minute limits too; the quota id tells the window.
  if (codes.has("resource_exhausted")) {
    const daily = evidence.quotaIds.some((id) => LONG_WINDOW_QUOTA_ID.test(id))
    return { reason: daily ? "quota" : "rate_limit" }
  }
  // A phrase never overrides a status it contradicts: "budget exceeded" on a 400 is a refused request, not a
  // provider-wide quota. Only the wire's own billing body (Anthropic's 400) says quota at 400.
  const quotaStatus = noStatus || status === 402 || status === 403 || status === 429
  if (status === 402 || hasCode(QUOTA_CODES) || (quotaStatus && says(QUOTA_PHRASES)) || isAnthropicBillingFailure(evidence.body))
    return { reason: "quota" }

  if (status === 413 || hasCode(OVERFLOW_CODES)) return { reason: "context_overflow" }
  const overflowPossible = status === undefined || status === 400 || status === 422 || status >= 500
  if (overflowPossible && !rateSignal && isContextOverflowText(text)) return { reason: "context_overflow" }

  if (status === 429 || hasCode(RATE_CODES)) return { reason: "rate_limit" }
  if (says(RATE_PHRASES) && (noStatus || status >= 500 || status === 403)) return { reason: "rate_limit" }

  if (status === 403) {
    if (hasCode(MODERATION_CODES) || says(MODERATION_PHRASES)) return { reason: "invalid_request" }
    if (isCopilot(context.providerID, evidence.url) && !COPILOT_LASTING_403.test(text)) {
      return { reason: "rate_limit", note: "copilot_403" }
    }
    return { reason: "auth" }
  }
  if (hasCode(AUTH_CODES) || (noStatus && says(AUTH_PHRASES))) return { reason: "auth" }

  if (status === 529 || hasCode(OVERLOADED_CODES)) return { reason: "overloaded" }
  if ((noStatus || status >= 500) && says(OVERLOADED_PHRASES)) return { reason: "overloaded" }

  if (status === 408 || status === 504 || status === 524 || hasCode(TIMEOUT_CODES)) return { reason: "timeout" }
  if (noStatus && says(TIMEOUT_PHRASES)) return { reason: "timeout" }

  if ((status !== undefined && status >= 500) || hasCode(SERVER_CODES)) return { reason: "server_error" }
  if (noStatus && says(SERVER_PHRASES)) return { reason: "server_error" }
  // 409 is what the AI SDK retries: a conflict on the provider's side, not a fault in our request.
  if (status === 409) return { reason: "server_error" }
  if (noStatus && says(NETWORK_PHRASES)) return { reason: "network" }

  if (hasCode(MODERATION_CODES) || (noStatus && says(MODERATION_PHRASES))) return { reason: "invalid_request" }
  if ((status !== undefined && status >= 400) || hasCode(INVALID_CODES)) return { reason: "invalid_request" }

  if (hint) return { reason: hint.reason }
  return undefined
}

function isContextOverflowText(text: string): boolean {
  if (text === "") return false
  if (OVERFLOW_EXCLUSIONS.some((pattern) => pattern.test(text))) return false
  return (
    OVERFLOW_PHRASES.some((pattern) => pattern.test(text)) || /^4(?:00|13)\s*(?:status code)?\s*\(no body\)/i.test(text)
  )
}

function isCopilot(providerID: string | undefined, url: string | undefined): boolean {
  if (providerID?.includes("github-copilot")) return true
  if (!url) return false
  try {
    const host = new URL(url).hostname
    return host === "githubcopilot.com" || host.endsWith(".githubcopilot.com")
  } catch {
    return false
  }
}

/** Everything a phrase may be found in: the message, the body's message and the raw body, bounded. */
function scanText(evidence: Evidence): string {
  const parts = [evidence.message, bodyMessage(evidence.body), evidence.bodyText]
  const raw = rawUpstream(evidence.body)
  if (raw) parts.push(raw)
  return parts
    .filter((part): part is string => typeof part === "string" && part !== "")
    .join("\n")
    .slice(0, BODY_SCAN_LIMIT)
}

// ---------------------------------------------------------------------------------------------------------------
// Waiting: Retry-After and reset times

function waitOf(evidence: Evidence, reason: FailureReason, now: number): number | undefined {
  return (
    retryAfterHeader(evidence.headers, now) ??
    evidence.retryAfterMs ??
    waitFromBody(evidence, now) ??
    (reason === "rate_limit" || reason === "quota" ? resetHeaderWait(evidence.headers, now) : undefined)
  )
}

/** Rate-limit reset headers describe per-minute windows; a short one says nothing about when a quota comes back. */
function quotaWait(evidence: Evidence, now: number): number | undefined {
  const explicit = retryAfterHeader(evidence.headers, now) ?? evidence.retryAfterMs ?? waitFromBody(evidence, now)
  if (explicit !== undefined) return explicit
  const reset = resetHeaderWait(evidence.headers, now)
  return reset !== undefined && reset >= QUOTA_MIN_WAIT_MS ? reset : undefined
}

function retryAfterHeader(headers: Record<string, string>, now: number): number | undefined {
  const ms = headers["retry-after-ms"]
  if (ms !== undefined) {
    const parsed = Number(ms.trim())
    if (ms.trim() !== "" && Number.isFinite(parsed) && parsed >= 0) return Math.ceil(parsed)
  }
  const value = headers["retry-after"]?.trim()
  if (!value) return undefined
  if (/^\d+(?:\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000)
  const date = Date.parse(value)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now)
}

/**
 * The latest reset among exhausted windows: `x-ratelimit-reset-{requests,tokens}` (OpenAI durations like "6m0s"),
 * `anthropic-ratelimit-*-reset` (ISO dates, or epoch seconds for the subscription `unified` windows) and plain
 * `x-ratelimit-reset` (delta seconds or epoch). A window whose `remaining` is above zero or whose `status` is not
 * `rejected` did not cause this failure and is skipped.
 */
function resetHeaderWait(headers: Record<string, string>, now: number): number | undefined {
  let wait: number | undefined
  for (const [name, value] of Object.entries(headers)) {
    const isReset =
      (name.startsWith("x-ratelimit-reset") || (name.startsWith("anthropic-ratelimit-") && name.endsWith("-reset"))) &&
      !name.includes("remaining")
    if (!isReset) continue
    const remaining = headers[name.replace("reset", "remaining")]
    if (remaining !== undefined && Number(remaining) > 0) continue
    const status = name.endsWith("-reset") ? headers[name.replace(/reset$/, "status")] : undefined
    if (status !== undefined && status !== "rejected") continue
    const ms = parseResetValue(value, now)
    if (ms !== undefined) wait = Math.max(wait ?? 0, ms)
  }
  return wait
}

function parseResetValue(raw: string, now: number): number | undefined {
  const value = raw.trim()
  if (value === "") return undefined
  if (/^\d+(?:\.\d+)?$/.test(value)) {
    const number = Number(value)
    if (number > 1e12) return positive(number - now)
    if (number > 1e9) return positive(number * 1000 - now)
    return Math.ceil(number * 1000)
  }
  const duration = parseDuration(value)
  if (duration !== undefined) return duration
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : positive(date - now)
}

function positive(ms: number): number | undefined {
  return Number.isFinite(ms) && ms > 0 ? Math.ceil(ms) : undefined
}

/** Waits stated in bodies: Gemini `RetryInfo.retryDelay`, Codex `resets_in_seconds`/`resets_at`, "try again in 20s". */
function waitFromBody(evidence: Evidence, now: number): number | undefined {
  const body = evidence.body
  if (isObject(body)) {
    const error = isObject(read(body, "error")) ? (read(body, "error") as object) : body
    for (const details of [read(error, "details"), read(body, "details")]) {
      if (!Array.isArray(details)) continue
      for (const detail of details) {
        const delay = isObject(detail) ? read(detail, "retryDelay") : undefined
        if (typeof delay === "string") {
          const ms = parseDuration(delay.trim())
          if (ms !== undefined) return ms
        }
      }
    }
    for (const source of [error, body]) {
      const seconds = read(source, "resets_in_seconds")
      if (typeof seconds === "number" && Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000)
      const resetsAt = read(source, "resets_at")
      if (typeof resetsAt === "number" && Number.isFinite(resetsAt)) {
        const at = resetsAt > 1e12 ? resetsAt : resetsAt * 1000
        evidence.resetAt = at
        return positive(at - now)
      }
    }
    // OpenRouter forwards the upstream limit headers inside the body.
    const metadata = read(error, "metadata")
    const forwarded = isObject(metadata) ? read(metadata, "headers") : undefined
    if (isObject(forwarded)) {
      const wait =
        retryAfterHeader(lowerCaseHeaders(forwarded), now) ?? resetHeaderWait(lowerCaseHeaders(forwarded), now)
      if (wait !== undefined) return wait
    }
  }
  const text = [evidence.message, bodyMessage(body)].filter(Boolean).join("\n")
  const match =
    /\b(?:try again|retry) (?:in|after) (\d+(?:\.\d+)?(?:h|ms|m|s)(?:\d+(?:\.\d+)?(?:ms|m|s))*|\d+(?:\.\d+)? ?(?:seconds?|secs?|minutes?|mins?|hours?))\b/i.exec(
      text,
    )
  if (!match?.[1]) return undefined
  const spoken = /^(\d+(?:\.\d+)?) ?(seconds?|secs?|minutes?|mins?|hours?)$/i.exec(match[1])
  if (spoken?.[1] && spoken[2]) {
    const unit = spoken[2].toLowerCase().startsWith("h")
      ? 3_600_000
      : spoken[2].toLowerCase().startsWith("m")
        ? 60_000
        : 1000
    return Math.ceil(Number(spoken[1]) * unit)
  }
  return parseDuration(match[1])
}

// ---------------------------------------------------------------------------------------------------------------
// Reading bodies

interface FoundCodes {
  codes: string[]
  quotaIds: string[]
  status?: number
}

const CODE_KEYS = ["code", "type", "status", "__type", "error_type", "errorType"] as const
const IDENTIFIER = /^[A-Za-z][\w.#:/-]{0,79}$/

/**
 * Error codes in the order a reader trusts them: the nested `error` object first (`error.code` before
 * `error.type`, since OpenAI puts "tokens" in `type` and `rate_limit_exceeded` in `code`), then the top level, then
 * Gemini `details[].reason`, Bedrock's `{throttlingException: {...}}` keys and OpenRouter's forwarded upstream body.
 */
function collectCodes(body: object, depth = 0): FoundCodes {
  const found: FoundCodes = { codes: [], quotaIds: [] }
  if (depth > 3) return found
  const error = read(body, "error")
  if (isObject(error)) merge(found, collectCodes(error, depth + 1))
  for (const key of CODE_KEYS) {
    const value = read(body, key)
    if (typeof value === "string" && value !== "error" && IDENTIFIER.test(value)) found.codes.push(normaliseCode(value))
    if (typeof value === "number" && (key === "code" || key === "status") && found.status === undefined) {
      found.status = validStatus(value)
    }
  }
  const details = read(body, "details")
  if (Array.isArray(details)) {
    for (const detail of details.slice(0, 10)) {
      if (!isObject(detail)) continue
      const reason = read(detail, "reason")
      if (typeof reason === "string" && IDENTIFIER.test(reason)) found.codes.push(reason)
      const violations = read(detail, "violations")
      if (!Array.isArray(violations)) continue
      for (const violation of violations.slice(0, 10)) {
        if (!isObject(violation)) continue
        for (const key of ["quotaId", "quotaMetric"]) {
          const id = read(violation, key)
          if (typeof id === "string") found.quotaIds.push(id)
        }
      }
    }
  }
  for (const key of Object.keys(body).slice(0, 20)) {
    if (/^[a-z]\w*Exception$/.test(key)) found.codes.push(key)
  }
  const raw = rawUpstream(body)
  if (raw && depth < 3) {
    const upstream = parseJson(raw)
    if (isObject(upstream)) {
      const inner = collectCodes(upstream, depth + 1)
      found.codes.push(...inner.codes)
      found.quotaIds.push(...inner.quotaIds)
    }
  }
  return found
}

function merge(into: FoundCodes, from: FoundCodes): void {
  into.codes.push(...from.codes)
  into.quotaIds.push(...from.quotaIds)
  if (into.status === undefined) into.status = from.status
}

/** `com.amazon.coral.service#ThrottlingException`, `ThrottlingException:http://…` → `ThrottlingException`. */
function normaliseCode(value: string): string {
  const afterHash = value.includes("#") ? value.slice(value.lastIndexOf("#") + 1) : value
  return afterHash.split(":")[0] ?? afterHash
}

/** OpenRouter's "Provider returned error" keeps the upstream answer in `error.metadata.raw`. */
function rawUpstream(body: unknown): string | undefined {
  if (!isObject(body)) return undefined
  const error = read(body, "error")
  const metadata = isObject(error) ? read(error, "metadata") : read(body, "metadata")
  const raw = isObject(metadata) ? read(metadata, "raw") : undefined
  return typeof raw === "string" ? raw.slice(0, BODY_SCAN_LIMIT) : undefined
}

function bodyMessage(body: unknown): string | undefined {
  if (!isObject(body)) return undefined
  const error = read(body, "error")
  if (isObject(error)) {
    const message = read(error, "message")
    if (typeof message === "string" && message !== "") return message
  }
  if (typeof error === "string" && error !== "") return error
  for (const key of ["message", "detail", "Message"]) {
    const value = read(body, key)
    if (typeof value === "string" && value !== "") return value
  }
  for (const key of Object.keys(body).slice(0, 20)) {
    if (!/Exception$/.test(key)) continue
    const inner = read(body, key)
    const message = isObject(inner) ? read(inner, "message") : undefined
    if (typeof message === "string") return message
  }
  return undefined
}

function reportedCode(evidence: Evidence): string | undefined {
  const fromBody = evidence.codes[0]
  if (fromBody) return fromBody
  const amazon = evidence.headers["x-amzn-errortype"]
  if (amazon) return normaliseCode(amazon)
  return evidence.networkCode
}

function parseJson(text: string): unknown {
  const trimmed = text.trim()
  if (!trimmed.startsWith("{") && !trimmed.startsWith("[")) return undefined
  try {
    return JSON.parse(trimmed)
  } catch {
    return undefined
  }
}

/** A JSON object inside a sentence: `Server error: 402 {"error":{…}}`, `HTTP 429: {…}`. */
function parseEmbeddedJson(text: string): object | undefined {
  if (text.length > BODY_SCAN_LIMIT) return undefined
  const direct = parseJson(text)
  if (isObject(direct)) return direct
  const start = text.indexOf("{")
  const end = text.lastIndexOf("}")
  if (start < 0 || end <= start) return undefined
  const inner = parseJson(text.slice(start, end + 1))
  return isObject(inner) ? inner : undefined
}

const STATUS_PHRASES: Record<number, string> = {
  400: "bad request",
  401: "unauthorized",
  402: "payment required",
  403: "forbidden",
  404: "not found",
  408: "request timeout",
  413: "(?:payload|content|request entity) too large",
  422: "unprocessable (?:entity|content)",
  429: "too many requests",
  500: "internal server error",
  502: "bad gateway",
  503: "service unavailable",
  504: "gateway timeout",
  529: "overloaded",
}

/**
 * A status stated as a status: "HTTP 429", "status code 503", "status: 500", or a status line "429 Too Many
 * Requests". A number that merely appears in a sentence is not one.
 */
function labelledStatus(text: string): number | undefined {
  const labelled = /\b(?:HTTP(?:\/\d(?:\.\d)?)?|status(?: ?code)?:?)\s+([1-5]\d\d)\b/i.exec(text)
  if (labelled?.[1]) return validStatus(Number(labelled[1]))
  const line = /\b([45]\d\d)\s+([A-Za-z][A-Za-z ]{2,40})/.exec(text)
  if (line?.[1] && line[2]) {
    const status = Number(line[1])
    const phrase = STATUS_PHRASES[status]
    if (phrase && new RegExp(`^${phrase}\\b`, "i").test(line[2])) return status
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Messages

const DEFAULT_MESSAGES: Record<FailureReason, string> = {
  rate_limit: "Rate limited by the provider",
  quota: "Provider quota or credit exhausted",
  overloaded: "Provider overloaded",
  server_error: "Provider server error",
  network: "Network error",
  timeout: "Timed out",
  auth: "Authentication failed",
  context_overflow: "Input exceeds the model's context window",
  invalid_request: "Invalid request",
  aborted: "Aborted",
  unknown: "Unknown error",
}

function messageFor(evidence: Evidence, reason: FailureReason, note: Pick["note"]): string {
  let text = bodyMessage(evidence.body) ?? readableMessage(evidence.message)
  if (evidence.networkCode && text && !text.includes(evidence.networkCode)) text = `${text} (${evidence.networkCode})`
  if (!text && evidence.networkCode) text = `Connection failed (${evidence.networkCode})`
  if (note === "copilot_403")
    text = `GitHub Copilot refused the request (403${text ? `: ${text}` : ""}); usually transient`
  const redacted = redact(text ?? "", MESSAGE_LENGTH)
  return redacted || DEFAULT_MESSAGES[reason]
}

/** Serialized bodies are not messages; their `message` field is. */
function readableMessage(message: string | undefined): string | undefined {
  if (!message) return undefined
  const json = parseJson(message)
  if (isObject(json)) return bodyMessage(json)
  return message
}

function messageOf(value: unknown): string | undefined {
  if (typeof value === "string") return value === "" ? undefined : readableMessage(value)
  if (!isObject(value)) return undefined
  const message = read(value, "message")
  if (typeof message === "string" && message !== "") return readableMessage(message)
  const data = read(value, "data")
  const dataMessage = isObject(data) ? read(data, "message") : undefined
  if (typeof dataMessage === "string" && dataMessage !== "") return readableMessage(dataMessage)
  return bodyMessage(value)
}

function describe(value: unknown): string {
  if (isObject(value)) {
    const name = read(value, "name")
    return typeof name === "string" && name !== "" ? name : "Unknown error"
  }
  if (value === undefined || value === null || typeof value === "function") return "Unknown error"
  return `Non-error value thrown: ${String(value)}`
}

// ---------------------------------------------------------------------------------------------------------------
// Small readers that never throw

function isObject(value: unknown): value is object {
  return typeof value === "object" && value !== null
}

function read(value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key]
  } catch {
    return undefined
  }
}

/** `RetryError` lives in `ai`, not `@ai-sdk/provider`; its marker is enough to recognise it from any copy. */
function hasAiSdkMarker(value: unknown, name: string): boolean {
  const marker = Symbol.for(`vercel.ai.error.${name}`)
  return isObject(value) && marker in value && (value as Record<symbol, unknown>)[marker] === true
}

function validStatus(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 100 && value <= 599 ? value : undefined
}

function socketCode(value: unknown): string | undefined {
  const seen = new Set<unknown>()
  let current = value
  for (let depth = 0; depth < 5 && isObject(current) && !seen.has(current); depth++) {
    seen.add(current)
    const code = read(current, "code")
    if (typeof code === "string" && NETWORK_CODES.has(code.toUpperCase())) return code
    if (typeof code === "string" && SOCKET_TIMEOUT_CODES.has(code.toUpperCase())) return code
    current = read(current, "cause")
  }
  return undefined
}

function lowerCaseHeaders(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (!isObject(headers)) return out
  try {
    const entries: Array<[string, unknown]> = []
    if (typeof Headers !== "undefined" && headers instanceof Headers)
      headers.forEach((value, name) => entries.push([name, value]))
    else entries.push(...Object.entries(headers))
    for (const [name, value] of entries) {
      if (typeof value === "string") out[name.toLowerCase()] = value
      else if (typeof value === "number") out[name.toLowerCase()] = String(value)
    }
  } catch {
    // Headers we cannot read are headers we do without.
  }
  return out
}
