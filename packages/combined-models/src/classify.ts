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
 * Layout: this module weighs the evidence (`pickReason`, `decide`) and writes the message; `classify/` reads it:
 * `unwrap` (RetryError, causes, stream parts), `evidence` (one shape per layer, bodies), `vocabulary` (codes and
 * phrases by reason), `waits` (Retry-After, reset headers, waits in bodies), `abort`, `read`; and `wires/` holds each
 * wire's own error shapes, read through zod schemas (Anthropic's billing body, Bedrock's stream exceptions, Gemini's
 * error body, OpenAI's `response.failed`).
 *
 * - `quota` means "will not clear for a long while": a quota/credit/billing code or phrase, HTTP 402, a rate limit
 *   stated per day or per month, or a 429 whose wait is at least `QUOTA_MIN_WAIT_MS`.
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
  COPILOT_LASTING_403,
  INVALID_CODES,
  LONG_WINDOW_PHRASES,
  LONG_WINDOW_QUOTA_ID,
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
import { isAnthropicBillingFailure } from "./wires/anthropic.ts"
import { redact } from "./redact.ts"
import { refusesThinkingSignature } from "./wires/thinking.ts"
import type { ClassifiedError, FailureReason } from "./types.ts"

export { QUOTA_MIN_WAIT_MS }

export interface ClassifyContext {
  /** Clock for HTTP-date and absolute reset headers; defaults to `Date.now()`. */
  now?: number
  /** The request's signal: once aborted, its reason tells a user abort from a timeout, whatever was thrown. */
  abortSignal?: AbortSignal
  /** Provider the failed request went to; enables provider-specific readings (GitHub Copilot's 403). */
  providerID?: string
}



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
  if (status === 402 || hasCode(QUOTA_CODES) || (quotaStatus && says(QUOTA_PHRASES)) || (status === 400 && isAnthropicBillingFailure(evidence.body)))
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

function describe(value: unknown): string {
  if (isObject(value)) {
    const name = read(value, "name")
    return typeof name === "string" && name !== "" ? name : "Unknown error"
  }
  if (value === undefined || value === null || typeof value === "function") return "Unknown error"
  return `Non-error value thrown: ${String(value)}`
}

