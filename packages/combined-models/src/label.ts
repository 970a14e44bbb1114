/**
 * What the user reads: `model (provider)` labels, switch notices and the summary when every member failed.
 */
import { formatDuration } from "./duration.ts"
import type { ClassifiedError, FailureReason, MemberRef } from "./types.ts"

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
  context_overflow: "found the conversation too long",
  invalid_request: "rejected the request",
  aborted: "was stopped",
  unknown: "failed",
}

/** `anthropic rate-limited` / `github-copilot failed with a server error (503)`. */
export function describeFailure(providerID: string, error: Pick<ClassifiedError, "reason" | "statusCode">): string {
  const status = error.reason === "server_error" && error.statusCode ? ` (${error.statusCode})` : ""
  return `${providerID} ${FAILED_AS[error.reason]}${status}`
}

/** The hint that makes a failure actionable, when there is one. */
export function remedy(providerID: string, error: Pick<ClassifiedError, "reason">): string | undefined {
  if (error.reason === "auth") return `run \`opencode auth login\` and sign in to ${providerID} again`
  if (error.reason === "quota") return `check the plan or billing of ${providerID}`
  return undefined
}

/**
 * `anthropic rate-limited, retry in 30 s → github-copilot`. `cooldownMs` is how long the failed member stays
 * out; omitted when unknown.
 */
export function switchNotice(
  from: Pick<MemberRef, "providerID">,
  error: Pick<ClassifiedError, "reason" | "statusCode">,
  to: Pick<MemberRef, "providerID">,
  cooldownMs?: number,
): string {
  const wait =
    cooldownMs === undefined
      ? ""
      : error.reason === "auth"
        ? // A refused credential is back when it changes; the cooldown is only the bound.
          `, out until its credential changes (at most ${formatDuration(cooldownMs)})`
        : `, retry in ${formatDuration(cooldownMs)}`
  return `${describeFailure(from.providerID, error)}${wait} → ${to.providerID}`
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
    return `- ${member.providerID}/${member.modelID}: ${describeFailure(member.providerID, error)}: ${error.message}${hint ? ` (${hint})` : ""}`
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
