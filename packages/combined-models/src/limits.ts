/**
 * Limits read ahead: what a provider said it has left, from the rate-limit headers of its latest response. Routing
 * sends a step elsewhere before it is refused when the step needs more tokens than a member has left before its
 * window resets, and `least_limited` orders members by what they have left. Pure reading, plus a small table that
 * keeps the latest reading per provider (one provider is one account, one allowance).
 */
import { parseResetValue } from "./classify/waits.ts"

/** One window of an allowance: what is left of it and when it is full again (epoch ms). */
export interface LimitWindow {
  remaining: number
  limit?: number
  resetAt?: number
}

/** What a provider's response said it has left. */
export interface Headroom {
  tokens?: LimitWindow
  requests?: LimitWindow
  /** When the headers were read (epoch ms). */
  seenAt: number
}

type HeaderSource = Headers | Record<string, string | undefined>

function headerOf(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined
  return headers[name] ?? undefined
}

function count(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === "") return undefined
  const number = Number(value)
  return Number.isFinite(number) && number >= 0 ? number : undefined
}

function windowOf(headers: HeaderSource, names: { remaining: string; limit: string; reset: string }, now: number): LimitWindow | undefined {
  const remaining = count(headerOf(headers, names.remaining))
  if (remaining === undefined) return undefined
  const limit = count(headerOf(headers, names.limit))
  const reset = headerOf(headers, names.reset)
  const wait = reset === undefined ? undefined : parseResetValue(reset, now)
  return { remaining, ...(limit !== undefined ? { limit } : {}), ...(wait !== undefined ? { resetAt: now + wait } : {}) }
}

/** The tighter of two windows: the one with less left (it refuses first). */
function tighter(a: LimitWindow | undefined, b: LimitWindow | undefined): LimitWindow | undefined {
  if (!a) return b
  if (!b) return a
  return b.remaining < a.remaining ? b : a
}

/**
 * The headroom a response's headers state, or undefined when they state none. Read:
 * - Anthropic: `anthropic-ratelimit-{requests,tokens,input-tokens}-{remaining,limit,reset}` (reset as an RFC 3339
 *   time); the tighter of its tokens and input-tokens windows counts. The output-tokens window is not read: the
 *   estimate is of what a step sends, and what it answers is the model's to decide;
 * - OpenAI and the many APIs that copy it (Groq, Azure, xAI, Cerebras, …): `x-ratelimit-{remaining,limit,reset}-
 *   {requests,tokens}` (reset as a duration, "6m0s");
 * - OpenRouter and other gateways: `x-ratelimit-{remaining,limit,reset}` (requests, reset as epoch ms).
 */
export function readHeadroom(headers: HeaderSource, now: number): Headroom | undefined {
  const anthropic = (kind: string) =>
    windowOf(
      headers,
      { remaining: `anthropic-ratelimit-${kind}-remaining`, limit: `anthropic-ratelimit-${kind}-limit`, reset: `anthropic-ratelimit-${kind}-reset` },
      now,
    )
  const openai = (kind: string) =>
    windowOf(headers, { remaining: `x-ratelimit-remaining-${kind}`, limit: `x-ratelimit-limit-${kind}`, reset: `x-ratelimit-reset-${kind}` }, now)
  const tokens = tighter(tighter(anthropic("tokens"), anthropic("input-tokens")), openai("tokens"))
  const requests =
    tighter(anthropic("requests"), openai("requests")) ??
    windowOf(headers, { remaining: "x-ratelimit-remaining", limit: "x-ratelimit-limit", reset: "x-ratelimit-reset" }, now)
  if (!tokens && !requests) return undefined
  return { ...(tokens ? { tokens } : {}), ...(requests ? { requests } : {}), seenAt: now }
}

/**
 * How long a reading holds at most: rate-limit windows are a minute at most for tokens and requests, so a reset
 * further away (a misread epoch, a bare number of seconds) is taken as this, and a reading without a reset time lasts
 * this long from when it was seen.
 */
export const MAX_READING_MS = 3_600_000
const NO_RESET_MS = 60_000

/** When what a window said stops holding: its reset, at most an hour after the reading; a minute without one. */
function windowEnd(window: LimitWindow, seenAt: number): number {
  return window.resetAt === undefined ? seenAt + NO_RESET_MS : Math.min(window.resetAt, seenAt + MAX_READING_MS)
}

/** The window while what it said still holds, or undefined once it has reset (full again) or grown stale. */
function liveWindow(window: LimitWindow | undefined, seenAt: number, now: number): LimitWindow | undefined {
  return window && windowEnd(window, seenAt) > now ? window : undefined
}

/**
 * How much more than its estimate a step is taken to spend: the estimate is the conversation so far (the last
 * step's tokens), and the step adds the new message and its answer.
 */
export const STEP_MARGIN = 1.25

/** Why a member should not take a step of this size now, and until when; undefined when it has room. */
export function shortOf(headroom: Headroom | undefined, tokens: number | undefined, now: number): { resetAt: number } | undefined {
  if (!headroom) return undefined
  const back = (window: LimitWindow) => windowEnd(window, headroom.seenAt)
  const requests = liveWindow(headroom.requests, headroom.seenAt, now)
  // Without a reset time the reading cannot say when the member is back: it is only a ranking hint then.
  if (requests?.resetAt !== undefined && requests.remaining < 1) return { resetAt: back(requests) }
  const window = liveWindow(headroom.tokens, headroom.seenAt, now)
  if (window?.resetAt !== undefined && tokens !== undefined && window.remaining < tokens * STEP_MARGIN) return { resetAt: back(window) }
  return undefined
}

/**
 * How much a member has left, 0 (nothing) to 1 (all of it, or nothing known): the share of the tighter window, or,
 * without a stated limit, left in tokens against the step's size.
 */
export function headroomShare(headroom: Headroom | undefined, now: number, tokens = 1): number {
  if (!headroom) return 1
  const share = (window: LimitWindow | undefined, need: number) => {
    const live = liveWindow(window, headroom.seenAt, now)
    if (!live) return 1
    if (live.limit && live.limit > 0) return Math.min(1, live.remaining / live.limit)
    return Math.min(1, live.remaining / Math.max(1, need * 10))
  }
  return Math.min(share(headroom.tokens, tokens), share(headroom.requests, 1))
}

/** Whether any window of a reading still holds. */
export function isLive(headroom: Headroom, now: number): boolean {
  return liveWindow(headroom.tokens, headroom.seenAt, now) !== undefined || liveWindow(headroom.requests, headroom.seenAt, now) !== undefined
}

/** What routing reads: the latest headroom of a provider. */
export interface LimitsView {
  headroomOf(providerID: string, now: number): Headroom | undefined
}

/** Readings kept at most: one per provider (and account) this process talked to. */
const MAX_PROVIDERS = 256

/** The latest headroom per provider, in memory: a reading is only good until its window resets. */
export class LimitsTable implements LimitsView {
  readonly #latest = new Map<string, Headroom>()

  /**
   * A successful response of this provider came back: its headers are the latest reading, and headers without limits
   * say nothing is known now. (A refusal's headers go to its cooldown, through the classifier.)
   */
  record(providerID: string, headers: HeaderSource, now: number): Headroom | undefined {
    const headroom = readHeadroom(headers, now)
    this.#latest.delete(providerID)
    if (!headroom) return undefined
    this.#latest.set(providerID, headroom)
    for (const oldest of this.#latest.keys()) {
      if (this.#latest.size <= MAX_PROVIDERS) break
      this.#latest.delete(oldest)
    }
    return headroom
  }

  headroomOf(providerID: string, now: number): Headroom | undefined {
    const headroom = this.#latest.get(providerID)
    if (!headroom) return undefined
    return isLive(headroom, now) ? headroom : undefined
  }

  clear() {
    this.#latest.clear()
  }
}
