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
 * - 403 is `auth`, except when the body says quota, rate limit or content moderation (and except where a wire says
 *   otherwise: GitHub Copilot's transient 403, Bedrock's refusal of one model).
 * - Each failure also says how far it reaches (`scope`: the request, this model at this provider, the credential, the
 *   endpoint): the reason's default (`DEFAULT_SCOPE`), narrowed by the wire's own reader (`wires/`, after the generic
 *   ladder, so the ladder names no provider) or by what a typed source knows (a key that never loaded).
 * Layout: this module weighs the evidence (`pickReason`, `decide`) and writes the message; `classify/` reads it:
 * `unwrap` (RetryError, causes, stream parts), `evidence` (one shape per layer, bodies), `vocabulary` (codes and
 * phrases by reason), `waits` (Retry-After, reset headers, waits in bodies), `abort`, `read`; and `wires/` holds each
 * wire's own error shapes, read through zod schemas (Anthropic's billing body, Bedrock's stream exceptions, Gemini's
 * error body, OpenAI's `response.failed`).
 *
 * - `quota` means "will not clear for a long while": a quota/credit/billing code or phrase, HTTP 402, or a rate limit
 *   stated per day or per month. A 429 with a long Retry-After stays `rate_limit` (with that wait): it says when, not
 *   that the account ran out.
 * - `model_unavailable`: the provider does not serve this model to this account (Copilot's `model_not_supported`, a
 *   404 naming the model, Bedrock's access refusal for one model): another provider of it may.
 */
import { abortMessage, asTimeout, classifyAbortSignal, isAbort } from "./classify/abort.ts"
import { unwrap } from "./classify/unwrap.ts"
import {
  bodyMessage,
  evidenceOf,
  messageOf,
  rawUpstream,
  readableMessage,
  reportedCode,
  type Evidence,
} from "./classify/evidence.ts"
import {
  AUTH_CODES,
  AUTH_PHRASES,
  INVALID_CODES,
  LONG_WINDOW_PHRASES,
  MODEL_UNAVAILABLE_CODES,
  MODEL_UNAVAILABLE_PHRASES,
  MODERATION_CODES,
  MODERATION_PHRASES,
  NETWORK_PHRASES,
  OVERFLOW_CODES,
  OVERFLOW_EXCLUSIONS,
  OVERFLOW_PHRASES,
  OVERLOADED_CODES,
  OVERLOADED_PHRASES,
  QUOTA_CODES,
  QUOTA_PHRASES,
  RATE_CODES,
  RATE_PHRASES,
  SERVER_CODES,
  SERVER_PHRASES,
  SOCKET_TIMEOUT_CODES,
  TIMEOUT_CODES,
  TIMEOUT_PHRASES,
} from "./classify/vocabulary.ts"
import { QUOTA_MIN_WAIT_MS, quotaWait, waitOf } from "./classify/waits.ts"
import { BODY_SCAN_LIMIT, MESSAGE_LENGTH, isObject, read } from "./classify/read.ts"
import { StreamTruncatedError } from "./errors.ts"
import { WIRE_READERS, type FailureFacts, type WireReading } from "./wires/index.ts"
import { redact } from "./redact.ts"
import { refusesThinkingSignature } from "./wires/thinking.ts"
import { DEFAULT_SCOPE, type ClassifiedError, type FailureReason, type FailureScope } from "./types.ts"

export { QUOTA_MIN_WAIT_MS }

export interface ClassifyContext {
  /** Clock for HTTP-date and absolute reset headers; defaults to `Date.now()`. */
  now?: number
  /** The request's signal: once aborted, its reason tells a user abort from a timeout, whatever was thrown. */
  abortSignal?: AbortSignal
  /** Provider the failed request went to; lets each wire read its own bodies (GitHub Copilot's 403). */
  providerID?: string
}



export function classify(error: unknown, context: ClassifyContext = {}): ClassifiedError {
  try {
    return classifyUnchecked(error, context)
  } catch {
    // Exotic inputs (throwing getters, revoked proxies) must not turn error handling into a second failure.
    return { reason: "unknown", scope: "model", message: "Unreadable error" }
  }
}

function classifyUnchecked(error: unknown, context: ClassifyContext): ClassifiedError {
  const classified = readFailure(error, context)
  return classified.scope ? classified : { ...classified, scope: DEFAULT_SCOPE[classified.reason] }
}

function readFailure(error: unknown, context: ClassifyContext): ClassifiedError {
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
// Decision

function decide(evidence: Evidence, context: ClassifyContext, now: number): ClassifiedError | undefined {
  const generic = pickReason(evidence)
  if (!generic) return undefined
  const picked = { ...generic, ...wireReading(evidence, context, generic.reason) }
  let { reason } = picked
  const wait = waitOf(evidence, reason, now)
  // A limit stated per day or month does not clear in minutes: quota, still as far as the rate limit reached. A long
  // Retry-After alone does not make one: that is a rate limit with a long wait, and is named so.
  if (reason === "rate_limit" && LONG_WINDOW_PHRASES.test(scanText(evidence))) reason = "quota"
  const result: ClassifiedError = { reason, scope: picked.scope ?? genericScope(picked.reason, evidence), message: messageFor(evidence, reason, picked.note) }
  if (evidence.status !== undefined) result.statusCode = evidence.status
  const code = reportedCode(evidence)
  if (code !== undefined) result.code = code
  if (reason === "invalid_request" && refusesThinkingSignature(scanText(evidence))) result.refusedReasoning = true
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

interface Pick extends WireReading {
  reason: FailureReason
}

/** The first answer of the wire readers (`wires/`) for this failure, which may narrow the generic reading. */
function wireReading(evidence: Evidence, context: ClassifyContext, reason: FailureReason): WireReading | undefined {
  const facts: FailureFacts = {
    status: evidence.status,
    headers: evidence.headers,
    body: evidence.body,
    codes: new Set(evidence.codes.map((code) => code.toLowerCase())),
    quotaIds: evidence.quotaIds,
    text: scanText(evidence),
    providerID: context.providerID,
    url: evidence.url,
    reason,
  }
  for (const read of WIRE_READERS) {
    const reading = read(facts)
    if (reading) return reading
  }
  return undefined
}

/**
 * The reach of a failure no wire spoke for: what the evidence itself says (a typed source such as a key that never
 * loaded, a socket that never connected, a gateway's status), else the reason's default.
 */
function genericScope(reason: FailureReason, evidence: Evidence): FailureScope {
  if (evidence.scope) return evidence.scope
  if (evidence.networkCode && reason === "network") return "endpoint"
  // 502, 503 and 504 are the gateway's words about the service behind it, not about one model.
  if ((reason === "server_error" || reason === "timeout") && (evidence.status === 502 || evidence.status === 503 || evidence.status === 504))
    return "endpoint"
  return DEFAULT_SCOPE[reason]
}

function pickReason(evidence: Evidence): Pick | undefined {
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

  // A phrase never overrides a status it contradicts: "budget exceeded" on a 400 is a refused request, not a
  // provider-wide quota. Only a wire's own body says quota at 400 (Anthropic's credit balance, `wires/anthropic.ts`).
  const quotaStatus = noStatus || status === 402 || status === 403 || status === 429
  if (status === 402 || hasCode(QUOTA_CODES) || (quotaStatus && says(QUOTA_PHRASES))) return { reason: "quota" }

  if (status === 413 || hasCode(OVERFLOW_CODES)) return { reason: "context_overflow" }
  const overflowPossible = status === undefined || status === 400 || status === 422 || status >= 500
  if (overflowPossible && !rateSignal && isContextOverflowText(text)) return { reason: "context_overflow" }

  if (status === 429 || hasCode(RATE_CODES)) return { reason: "rate_limit" }
  if (says(RATE_PHRASES) && (noStatus || status >= 500 || status === 403)) return { reason: "rate_limit" }

  if (status === 403) {
    if (hasCode(MODERATION_CODES) || says(MODERATION_PHRASES)) return { reason: "invalid_request" }
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
  // The provider does not serve this model (to this account): another provider of it may. Its code at 400, or a 404
  // or 410 that names the model; a bare 404 (a wrong base URL) stays a refused request.
  const modelStatus = noStatus || status === 400 || status === 404 || status === 410 || status === 422
  if (modelStatus && hasCode(MODEL_UNAVAILABLE_CODES)) return { reason: "model_unavailable" }
  if ((status === 404 || status === 410) && says(MODEL_UNAVAILABLE_PHRASES)) return { reason: "model_unavailable" }
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
// Messages

const DEFAULT_MESSAGES: Record<FailureReason, string> = {
  rate_limit: "Rate limited by the provider",
  quota: "Provider quota or credit exhausted",
  overloaded: "Provider overloaded",
  server_error: "Provider server error",
  network: "Network error",
  timeout: "Timed out",
  auth: "Authentication failed",
  model_unavailable: "The provider does not serve this model",
  context_overflow: "Input exceeds the model's context window",
  invalid_request: "Invalid request",
  aborted: "Aborted",
  unknown: "Unknown error",
}

function messageFor(evidence: Evidence, reason: FailureReason, note: WireReading["note"]): string {
  let text = bodyMessage(evidence.body) ?? readableMessage(evidence.message)
  if (evidence.networkCode && text && !text.includes(evidence.networkCode)) text = `${text} (${evidence.networkCode})`
  if (!text && evidence.networkCode) text = `Connection failed (${evidence.networkCode})`
  if (note === "copilot_403")
    text = `GitHub Copilot refused the request (403${text ? `: ${text}` : ""}); usually transient`
  const redacted = redact(text ?? "", MESSAGE_LENGTH)
  return redacted || DEFAULT_MESSAGES[reason]
}

function describe(value: unknown): string {
  if (isObject(value)) {
    const name = read(value, "name")
    return typeof name === "string" && name !== "" ? name : "Unknown error"
  }
  if (value === undefined || value === null || typeof value === "function") return "Unknown error"
  return `Non-error value thrown: ${String(value)}`
}

