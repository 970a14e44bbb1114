/**
 * What each wire says about its own failure bodies, beyond the generic reading. The classifier reads every failure the
 * same way first (status, codes, phrases: `classify.ts`); then the reader of the wire the failure came from may
 * narrow it: a different reason for a body only that provider sends (Copilot's transient 403), or a different reach
 * (Bedrock's refusal that names one model, Gemini's per-model daily quota). A reader answers only for its own wire
 * and says nothing (undefined) about anything else.
 */
import type { FailureReason, FailureScope } from "../types.ts"

/** One failure as a wire's reader sees it: what the classifier gathered, lower-cased codes and the text it scans. */
export interface FailureFacts {
  status?: number
  /** Lower-case names. */
  headers: Readonly<Record<string, string>>
  body?: unknown
  /** Lower-case codes from the body, nested error first. */
  codes: ReadonlySet<string>
  /** Gemini `QuotaFailure` ids. */
  quotaIds: readonly string[]
  /** The message, the body's message and the raw body, bounded. */
  text: string
  /** The provider the request went to, when the caller knows it (an account id contains its provider's). */
  providerID?: string
  url?: string
  /** What the generic reading decided. */
  reason: FailureReason
}

export interface WireReading {
  reason?: FailureReason
  scope?: FailureScope
  /** How to word the message, when the provider's own is not what the user needs to read. */
  note?: "copilot_403"
}

export type WireReader = (facts: FailureFacts) => WireReading | undefined

/** Whether the request went to this provider: by its id (accounts of it included) or the host it was sent to. */
export function sentTo(facts: Pick<FailureFacts, "providerID" | "url">, providerID: string, host: RegExp): boolean {
  if (facts.providerID?.includes(providerID)) return true
  if (!facts.url) return false
  try {
    return host.test(new URL(facts.url).hostname)
  } catch {
    return false
  }
}
