/** Waiting: Retry-After, reset headers and waits stated in bodies. */
import { bodyMessage, type Evidence } from "./evidence.ts"
import { isObject, lowerCaseHeaders, read } from "./read.ts"
import { parseDuration } from "../duration.ts"
import type { FailureReason } from "../types.ts"

/** A 429 that will not clear within this long is a spent allowance, not a per-minute rate limit. */
export const QUOTA_MIN_WAIT_MS = 15 * 60_000
// Waiting: Retry-After and reset times

export function waitOf(evidence: Evidence, reason: FailureReason, now: number): number | undefined {
  return (
    retryAfterHeader(evidence.headers, now) ??
    evidence.retryAfterMs ??
    waitFromBody(evidence, now) ??
    (reason === "rate_limit" || reason === "quota" ? resetHeaderWait(evidence.headers, now) : undefined)
  )
}

/** Rate-limit reset headers describe per-minute windows; a short one says nothing about when a quota comes back. */
export function quotaWait(evidence: Evidence, now: number): number | undefined {
  const explicit = retryAfterHeader(evidence.headers, now) ?? evidence.retryAfterMs ?? waitFromBody(evidence, now)
  if (explicit !== undefined) return explicit
  const reset = resetHeaderWait(evidence.headers, now)
  return reset !== undefined && reset >= QUOTA_MIN_WAIT_MS ? reset : undefined
}

export function retryAfterHeader(headers: Record<string, string>, now: number): number | undefined {
  const ms = headers["retry-after-ms"]
  if (ms !== undefined) {
    const parsed = Number(ms.trim())
    if (ms.trim() !== "" && Number.isFinite(parsed) && parsed >= 0) return Math.ceil(parsed)
  }
  const value = headers["retry-after"]?.trim()
  if (!value) return undefined
  if (/^\d+(?:\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000)
  // Otherwise only an HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`) counts: Date.parse reads "-5" as a year (2001),
  // which would turn a malformed header into "retry now".
  if (!/[A-Za-z]{3}/.test(value)) return undefined
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
export function resetHeaderWait(headers: Record<string, string>, now: number): number | undefined {
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

export function parseResetValue(raw: string, now: number): number | undefined {
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

export function positive(ms: number): number | undefined {
  return Number.isFinite(ms) && ms > 0 ? Math.ceil(ms) : undefined
}

/** Waits stated in bodies: Gemini `RetryInfo.retryDelay`, Codex `resets_in_seconds`/`resets_at`, "try again in 20s". */
export function waitFromBody(evidence: Evidence, now: number): number | undefined {
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

