/**
 * What the user reads: `model (provider)` labels, switch notices and the summary when every member failed.
 */
import { formatDuration } from "./duration.ts"
import type { CooldownEntry } from "./health.ts"
import { scopeOf, type ClassifiedError, type FailureReason, type FailureScope, type MemberRef } from "./types.ts"

/** `Claude Sonnet 4.5 (github-copilot)`; just the name until a member has answered. */
export { formatDuration }

export function label(selected: { name: string }, served?: Pick<MemberRef, "providerID">): string {
  return served ? `${selected.name} (${served.providerID})` : selected.name
}

const FAILED_AS: Record<FailureReason, string> = {
  rate_limit: "rate-limited",
  quota: "out of quota",
  overloaded: "overloaded",
  server_error: "failed with a server error",
  network: "could not be reached",
  timeout: "timed out",
  auth: "rejected the credentials",
  model_unavailable: "does not serve this model",
  context_overflow: "found the conversation too long",
  invalid_request: "rejected the request",
  aborted: "was stopped",
  unknown: "failed",
}

/** Why a provider does not serve a model, by the code it refused with, when the code says. */
const UNAVAILABLE_BECAUSE: Record<string, string> = {
  model_not_supported: " on this plan",
  accessdeniedexception: " to this account",
}

type Described = Pick<ClassifiedError, "reason" | "statusCode" | "code"> & { scope?: FailureScope; message?: string }

/**
 * `anthropic rate-limited` / `github-copilot failed with a server error (503)` / `github-copilot does not serve
 * claude-sonnet-4.5 on this plan` (with the member's `modelID`).
 */
export function describeFailure(providerID: string, error: Described, modelID?: string): string {
  if (error.reason === "model_unavailable")
    return `${providerID} does not serve ${modelID ?? "this model"}${UNAVAILABLE_BECAUSE[error.code?.toLowerCase() ?? ""] ?? ""}`
  // Nothing was sent: the key is not in this environment.
  if (error.reason === "auth" && scopeOf(error) === "request") return `${providerID} has no API key here`
  const status = error.reason === "server_error" && error.statusCode ? ` (${error.statusCode})` : ""
  return `${providerID} ${FAILED_AS[error.reason]}${status}`
}

/** A rate limit whose wait is this long is named with its wait (`rate-limited for 58 min`), not as a retry soon. */
const LONG_RATE_LIMIT_MS = 15 * 60_000

/** The hint that makes a failure actionable, when there is one. */
export function remedy(providerID: string, error: Described): string | undefined {
  if (error.reason === "auth" && scopeOf(error) === "request") return `set ${missingKeyName(error.message ?? "") ?? "its API key"} or run \`opencode auth login\``
  if (error.reason === "auth") return `run \`opencode auth login\` and sign in to ${providerID} again`
  if (error.reason === "quota") return `check the plan or billing of ${providerID}`
  if (error.reason === "model_unavailable") return `check which models the plan or account at ${providerID} includes`
  return undefined
}

/** The environment variable a missing-key message names (`… or the ANTHROPIC_API_KEY environment variable.`). */
export function missingKeyName(message: string): string | undefined {
  return /\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_(?:API_KEY|KEY|TOKEN))\b/.exec(message)?.[1]
}

/**
 * `anthropic rate-limited, retry in 30 s → github-copilot`. `cooldownMs` is how long the failed member stays
 * out; omitted when unknown.
 */
export function switchNotice(
  from: Pick<MemberRef, "providerID"> & { modelID?: string },
  error: Described,
  to: Pick<MemberRef, "providerID">,
  cooldownMs?: number,
): string {
  const described = describeFailure(from.providerID, error, from.modelID)
  // Nothing was sent and nothing cools: the next turn asks again, with the key if it is set by then.
  if (error.reason === "auth" && scopeOf(error) === "request") {
    const name = missingKeyName(error.message ?? "")
    return `${described}${name ? ` (${name} is not set)` : ""} → ${to.providerID}`
  }
  if (error.reason === "rate_limit" && cooldownMs !== undefined && cooldownMs >= LONG_RATE_LIMIT_MS)
    return `${from.providerID} rate-limited for ${formatDuration(cooldownMs)} → ${to.providerID}`
  const wait =
    cooldownMs === undefined || error.reason === "model_unavailable"
      ? ""
      : error.reason === "auth"
        ? // A refused credential is back when it changes; the cooldown is only the bound.
          `, out until its credential changes (at most ${formatDuration(cooldownMs)})`
        : `, retry in ${formatDuration(cooldownMs)}`
  return `${described}${wait} → ${to.providerID}`
}

/** `Claude Sonnet 4.5 has no provider left → GPT-5 (openai)`: the turn goes on with the next model of the chain. */
export function fallbackNotice(from: { name: string }, to: { name: string }, member: Pick<MemberRef, "providerID">): string {
  return `${from.name} has no provider left → ${to.name} (${member.providerID})`
}

export interface MemberFailure {
  member: MemberRef
  error: ClassifiedError
  at: number
}

/** One line per provider that failed this turn, with what to do about it; for the error the user finally sees. */
export function failureSummary(modelName: string, failures: readonly MemberFailure[]): string {
  if (failures.length === 0) return `No provider of ${modelName} is available right now.`
  const lines = failures.map(({ member, error }) => {
    const hint = remedy(member.providerID, error)
    return `- ${member.providerID}/${member.modelID}: ${describeFailure(member.providerID, error, member.modelID)}: ${error.message}${hint ? ` (${hint})` : ""}`
  })
  return [`Every provider of ${modelName} failed:`, ...lines].join("\n")
}

/** `200k`, `1M`: a window size as people say it. */
export function formatTokens(tokens: number): string {
  if (tokens >= 1_000_000) return `${Number((tokens / 1_000_000).toFixed(1))}M`
  if (tokens >= 1_000) return `${Math.round(tokens / 1_000)}k`
  return String(tokens)
}

/** `anthropic near its limit, resets in 40 s → github-copilot`: a step routed elsewhere before it is refused. */
export function nearLimitNotice(from: Pick<MemberRef, "providerID">, resetInMs: number, to: Pick<MemberRef, "providerID">): string {
  return `${from.providerID} near its limit, resets in ${formatDuration(resetInMs)} → ${to.providerID}`
}

/** `the conversation no longer fits anthropic (200k) → openrouter (1M)`: the context-window fallback. */
export function widerWindowNotice(
  from: Pick<MemberRef, "providerID">,
  fromWindow: number,
  to: Pick<MemberRef, "providerID">,
  toWindow: number,
  toModel?: { name: string },
): string {
  const target = toModel ? `${toModel.name} (${to.providerID}, ${formatTokens(toWindow)})` : `${to.providerID} (${formatTokens(toWindow)})`
  return `the conversation no longer fits ${from.providerID} (${formatTokens(fromWindow)}) → ${target}`
}

/**
 * One member kept out by a cooldown, for the error shown when every member is out: why, how long is left, and what
 * brings it back sooner (`github-copilot does not serve claude-sonnet-4.5 on this plan: The requested model is not
 * supported.; 5 h 59 min left, or sooner with another credential`).
 */
export function cooldownLine(
  member: MemberRef,
  entry: Pick<CooldownEntry, "reason" | "until" | "message" | "statusCode" | "scope" | "modelID" | "credential" | "code">,
  now: number,
): string {
  const why = describeFailure(member.providerID, { reason: entry.reason, statusCode: entry.statusCode, code: entry.code }, member.modelID)
  const message = entry.message ? `: ${entry.message}` : ""
  const left = Number.isFinite(entry.until) ? `${formatDuration(Math.max(0, entry.until - now))} left` : "no end set"
  return `${why}${message}; ${left}${backSooner(member.providerID, entry)}`
}

/** What ends a cooldown before its time: a credential change for what the credential earned. */
function backSooner(providerID: string, entry: Pick<CooldownEntry, "reason" | "scope">): string {
  if (entry.reason === "auth") return `, or as soon as its credential changes (opencode auth login ${providerID}, or a new key)`
  if (entry.reason === "quota" || entry.reason === "model_unavailable" || entry.scope === "credential") return ", or sooner with another credential"
  return ""
}
