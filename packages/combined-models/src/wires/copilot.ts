/**
 * GitHub Copilot's failures, as its API sends them to OpenCode's Copilot plugin (Claude models over `/v1/messages`
 * through `@ai-sdk/anthropic`, the rest through OpenCode's own `@ai-sdk/github-copilot`):
 * - 400 `{"error":{"code":"model_not_supported","message":"The requested model is not supported.",…}}`: the user's
 *   plan does not include this model. The generic reading already makes it `model_unavailable` (its code), and the
 *   notice says "on this plan" (label.ts).
 * - 403 "Forbidden" / "Access to this endpoint is forbidden": sent intermittently for minutes at a time, and signing
 *   in again does not help, so one that does not name a credential or licence problem is a short `rate_limit`, not
 *   `auth` (out until re-login).
 * - 402, and 429 with `x-ratelimit-exceeded: global-chat:…` or `quota_exceeded`: limits of the user across every model
 *   (premium requests, the 5-hour usage window), so the whole credential waits, not just this model.
 */
import { sentTo, type WireReader } from "./failure.ts"

const COPILOT_HOST = /(?:^|\.)githubcopilot\.com$/

/** A Copilot 403 that says this is about credentials or licences is a real auth failure, not the transient kind. */
export const COPILOT_LASTING_403 =
  /token (?:has )?expired|invalid (?:token|credentials)|not authori[sz]ed|requires? an? (?:enterprise|organization)|not (?:enabled|licensed)|no (?:active )?(?:copilot )?(?:subscription|license|access)|personal access tokens? (?:are|is) not supported/i

/** `x-ratelimit-exceeded` names the limit hit; the `global-…` ones count the user's use of every model. */
const USER_WIDE_LIMIT = /^global[-_]/i

export const readCopilotFailure: WireReader = (facts) => {
  if (!sentTo(facts, "github-copilot", COPILOT_HOST)) return undefined
  const { status, codes, text } = facts
  if (status === 402) return { reason: "quota", scope: "credential" }
  if (status === 429 && (USER_WIDE_LIMIT.test(facts.headers["x-ratelimit-exceeded"] ?? "") || codes.has("quota_exceeded")))
    return { scope: "credential" }
  // The generic reading already took moderation, quota and rate-limit wording at 403 for what they say.
  if (status === 403 && facts.reason === "auth" && !COPILOT_LASTING_403.test(text)) return { reason: "rate_limit", scope: "model", note: "copilot_403" }
  return undefined
}
