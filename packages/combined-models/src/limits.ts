/**
 * Limits read ahead: what a provider said it has left, from the rate-limit headers of its latest response. Routing
 * sends a step elsewhere before it is refused when the step needs more tokens than a member has left before its
 * window resets, and `least_limited` orders members by what they have left. Pure reading, plus a small table that
 * keeps the latest reading per allowance: a provider's credential and the limit class its headers describe (Anthropic
 * limits each model class, OpenAI each model, a gateway the key), so a title request on the small model does not
 * overwrite what the main model has left.
 */
import { parseResetValue } from "./classify/waits.ts"
import type { MemberRef } from "./types.ts"

/** One window of an allowance: what is left of it and when it is full again (epoch ms). */
export interface LimitWindow {
  remaining: number
  limit?: number
  resetAt?: number
  /**
   * Cache reads do not count against this window: Anthropic's input-token (and combined token) limits count only
   * uncached input, so a step that reads a long cached prefix spends little of it.
   */
  excludesCacheReads?: boolean
}

/**
 * How far one allowance reaches, as the provider whose headers were read defines it: Anthropic limits per model class
 * (Sonnet 4.x shares one, Haiku 4.5 has its own), OpenAI and the APIs that copy its headers per model, a gateway's
 * bare `x-ratelimit-*` per key.
 */
export type LimitScheme = "anthropic" | "per_model" | "account"

/** What a provider's response said it has left. */
export interface Headroom {
  tokens?: LimitWindow
  requests?: LimitWindow
  /** Whose headers they were: how widely the allowance is shared. */
  scheme?: LimitScheme
  /** When the headers were read (epoch ms). */
  seenAt: number
}

export type HeaderSource = Headers | Record<string, string | undefined>

function headerOf(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined
  return headers[name] ?? undefined
}

function count(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === "") return undefined
  const number = Number(value)
  return Number.isFinite(number) && number >= 0 ? number : undefined
}

function windowOf(
  headers: HeaderSource,
  names: { remaining: string; limit: string; reset: string },
  now: number,
  extra: Partial<LimitWindow> = {},
): LimitWindow | undefined {
  const remaining = count(headerOf(headers, names.remaining))
  if (remaining === undefined) return undefined
  const limit = count(headerOf(headers, names.limit))
  const reset = headerOf(headers, names.reset)
  const wait = reset === undefined ? undefined : parseResetValue(reset, now)
  return { remaining, ...(limit !== undefined ? { limit } : {}), ...(wait !== undefined ? { resetAt: now + wait } : {}), ...extra }
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
 *   time); the tighter of its tokens and input-tokens windows counts, and neither counts cache reads. The
 *   output-tokens window is not read: the estimate is of what a step sends, and what it answers is the model's to
 *   decide;
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
      kind === "requests" ? {} : { excludesCacheReads: true },
    )
  const openai = (kind: string) =>
    windowOf(headers, { remaining: `x-ratelimit-remaining-${kind}`, limit: `x-ratelimit-limit-${kind}`, reset: `x-ratelimit-reset-${kind}` }, now)
  const anthropicTokens = tighter(anthropic("tokens"), anthropic("input-tokens"))
  const anthropicRequests = anthropic("requests")
  const openaiTokens = openai("tokens")
  const openaiRequests = openai("requests")
  const tokens = tighter(anthropicTokens, openaiTokens)
  const requests =
    tighter(anthropicRequests, openaiRequests) ??
    windowOf(headers, { remaining: "x-ratelimit-remaining", limit: "x-ratelimit-limit", reset: "x-ratelimit-reset" }, now)
  if (!tokens && !requests) return undefined
  const scheme: LimitScheme = anthropicTokens || anthropicRequests ? "anthropic" : openaiTokens || openaiRequests ? "per_model" : "account"
  return { ...(tokens ? { tokens } : {}), ...(requests ? { requests } : {}), scheme, seenAt: now }
}

/**
 * The limit class a model falls in under a scheme: readings of one class are one allowance. Anthropic's classes are
 * a family and major version (`claude-sonnet-4-5-20250929` and `claude-sonnet-4-0` share `claude-sonnet-4`); a
 * per-model allowance is the model without its date (`gpt-4o-2024-08-06` is `gpt-4o`); a key's allowance has one
 * class. A gateway's vendor prefix (`anthropic/…`) is left out.
 */
export function limitClass(scheme: LimitScheme | undefined, modelID: string): string {
  if (scheme === undefined || scheme === "account") return ""
  const id = modelID.toLowerCase().split("/").at(-1)!
  if (scheme === "anthropic") {
    const modern = /claude-(opus|sonnet|haiku)-(\d+)/.exec(id)
    if (modern) return `claude-${modern[1]}-${modern[2]}`
    const older = /claude-(\d+)(?:-(\d))?-(opus|sonnet|haiku)/.exec(id)
    if (older) return `claude-${older[3]}-${older[1]}${older[2] ? `.${older[2]}` : ""}`
  }
  return id.replace(/-(\d{4}-\d{2}-\d{2}|\d{8})$/, "")
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
 * How much more than its estimate a step is taken to spend, unless the estimate says otherwise: in OpenCode the
 * estimate is the last step's request and answer (the step adds tool results, the new message and its answer), or for
 * a session's first step what every request carries (the new message and the answer come on top).
 */
export const STEP_MARGIN = 1.25

/**
 * The size of the request a step sends, in tokens: the whole of it (system prompt, tool definitions, history, new
 * message), and the prefix a member holds in its prompt cache from the last step (it served that step), which a window
 * that excludes cache reads does not count.
 */
export interface StepSize {
  tokens: number
  cached?: { member: MemberRef; tokens: number }
  /** How much more the step may spend than `tokens` (default `STEP_MARGIN`); 1 when `tokens` is the request itself. */
  margin?: number
}

/** The tokens a step spends of this window at this member: cache reads left out where the window leaves them out. */
function counted(window: LimitWindow, size: StepSize, member: MemberRef | undefined): number {
  const { cached } = size
  if (!window.excludesCacheReads || !cached || !member) return size.tokens
  const same = cached.member.providerID === member.providerID && cached.member.modelID === member.modelID
  return same ? Math.max(0, size.tokens - cached.tokens) : size.tokens
}

/** Why a member should not take a step of this size now, and until when; undefined when it has room. */
export function shortOf(
  headroom: Headroom | undefined,
  size: StepSize | number | undefined,
  now: number,
  member?: MemberRef,
): { resetAt: number } | undefined {
  if (!headroom) return undefined
  const back = (window: LimitWindow) => windowEnd(window, headroom.seenAt)
  const requests = liveWindow(headroom.requests, headroom.seenAt, now)
  // Without a reset time the reading cannot say when the member is back: it is only a ranking hint then.
  if (requests?.resetAt !== undefined && requests.remaining < 1) return { resetAt: back(requests) }
  const window = liveWindow(headroom.tokens, headroom.seenAt, now)
  if (window?.resetAt === undefined || size === undefined) return undefined
  const step: StepSize = typeof size === "number" ? { tokens: size } : size
  if (window.remaining < counted(window, step, member) * (step.margin ?? STEP_MARGIN)) return { resetAt: back(window) }
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

/** What routing reads: the latest headroom of the allowance a member draws on. */
export interface LimitsView {
  headroomOf(member: MemberRef, now: number): Headroom | undefined
}

/** Who spent an allowance: the provider, the model the request named, the credential it was sent with. */
export interface LimitSource {
  providerID: string
  modelID: string
  /** The credential's fingerprint (`credentials.ts`): another key's reading says nothing about this one. */
  credential?: string
}

/** A reading with the allowance it is of. */
export interface LimitReading extends Headroom {
  providerID: string
  /** `limitClass(scheme, model)` of the request that was answered. */
  limitClass: string
  credential?: string
}

/** The key a reading is kept under: one per provider, credential and limit class. */
export function readingKey(reading: Pick<LimitReading, "providerID" | "credential" | "limitClass">): string {
  return JSON.stringify([reading.providerID, reading.credential ?? null, reading.limitClass])
}

/** Whether a reading is of the allowance this member (with this credential) draws on. */
export function readingCovers(reading: LimitReading, source: LimitSource): boolean {
  return (
    reading.providerID === source.providerID &&
    (reading.credential ?? undefined) === (source.credential ?? undefined) &&
    limitClass(reading.scheme, source.modelID) === reading.limitClass
  )
}

/** A response of `source` came back with these headers: the reading it makes, undefined when they state no limits. */
export function readingOf(source: LimitSource, headers: HeaderSource, now: number): LimitReading | undefined {
  const headroom = readHeadroom(headers, now)
  if (!headroom) return undefined
  return {
    ...headroom,
    providerID: source.providerID,
    limitClass: limitClass(headroom.scheme, source.modelID),
    ...(source.credential !== undefined ? { credential: source.credential } : {}),
  }
}

/** The live reading of `source`'s allowance among these, the latest when several cover it. */
export function findReading(readings: Iterable<LimitReading>, source: LimitSource, now: number): LimitReading | undefined {
  let found: LimitReading | undefined
  for (const reading of readings)
    if (readingCovers(reading, source) && isLive(reading, now) && (!found || reading.seenAt > found.seenAt)) found = reading
  return found
}

/** Readings kept at most: one per allowance (provider, credential, limit class), in memory and in a state file. */
const MAX_READINGS = 256

/**
 * Puts the latest reading of `source`'s allowance in place of what `readings` held for it (undefined: nothing known of
 * it now), the oldest dropped past `MAX_READINGS`: one rule for a process's table and the file other processes read.
 */
export function placeReading(readings: Map<string, LimitReading>, source: LimitSource, reading: LimitReading | undefined): void {
  for (const [key, known] of readings) if (readingCovers(known, source)) readings.delete(key)
  if (reading) readings.set(readingKey(reading), reading)
  for (const oldest of readings.keys()) {
    if (readings.size <= MAX_READINGS) break
    readings.delete(oldest)
  }
}

/** The latest reading per allowance, in memory: a reading is only good until its window resets. */
export class LimitsTable {
  readonly #latest = new Map<string, LimitReading>()

  /**
   * A successful response of this provider, for this model and credential, came back: its headers are the latest
   * reading of that allowance, and headers without limits say nothing is known of it now. (A refusal's headers go to
   * its cooldown, through the classifier.)
   */
  record(source: LimitSource, headers: HeaderSource, now: number): LimitReading | undefined {
    const reading = readingOf(source, headers, now)
    placeReading(this.#latest, source, reading)
    return reading
  }

  /** The live reading of the allowance this member draws on, with this credential. */
  headroomOf(member: MemberRef, now: number, credential?: string): LimitReading | undefined {
    return findReading(this.#latest.values(), { ...member, ...(credential !== undefined ? { credential } : {}) }, now)
  }

  clear() {
    this.#latest.clear()
  }
}
