/**
 * Which members are known to be failing, and until when. Every session of every process shares this, so a member
 * that just rate-limited one session is skipped by the others before they send anything.
 *
 * Decisions (see design/failover.md, "Decisions the engine makes"):
 * - Scope: the classification says how far a failure reaches (`scope`, see types.ts) and that is what cools: the
 *   member (`provider/model`), the credential (`provider/*@fingerprint`: every model this key reaches) or the endpoint
 *   (every model of the provider); a request-scoped failure (a key that never loaded, a bad request) cools nothing
 *   and writes nothing to the shared store. "Every member is cooling" is never stored: routing derives it.
 * - Length: the provider's own word wins (`resetAt`, else `retryAfterMs`, even when longer than our base and not
 *   capped). Otherwise the configured base per reason; transient reasons grow with consecutive failures
 *   (base × 2^(failures−1), ±20% jitter so processes do not return in lockstep, capped at `maxCooldownMs` unless the
 *   configured base itself is longer). Quota: base, no growth. Auth: `cooldowns.auth` (default 1 h), and an
 *   account-wide entry carries the failed credential's fingerprint: a process with another credential is not kept out.
 * - Consecutive failures: a success whose attempt began after the cooldown was recorded resets the count (and lifts the
 *   cooldown). A failure long after the last cooldown ended (more than FORGET_AFTER_FACTOR × the longer of that
 *   cooldown and the reason's base) starts again at 1.
 * - Waves: a failure whose attempt began at or before the `since` of the active entry is the same event seen by
 *   another session (one 429 wave hits every session at once). It does not escalate or stack; it may only extend
 *   `until` when it carries an explicit wait from the provider. A report without `attemptStartedAt` while an entry is
 *   active counts as part of the wave too: the state machine skips cooled members, so a failure on one is nearly
 *   always a request already in flight, and escalating on guesses would lock a provider out for up to an hour.
 */
import {
  createMemoryHealthStore,
  STORED_CODE,
  entryKey,
  entryScope,
  entrySlot,
  matchesForgetRule,
  newerEntry,
  type ForgetRule,
  type HealthStore,
} from "./health-store.ts"
import type { ResolvedConfig } from "./config.ts"
import type { FailoverAction } from "./machine.ts"
import { redact } from "./redact.ts"
import { flushStateFilesSync } from "./state-file.ts"
import { FAILURE_REASONS, NO_COOLDOWN, scopeOf, type ClassifiedError, type FailureReason, type FailureScope, type MemberRef } from "./types.ts"

/** What a cooldown can reach: a request-scoped failure cools nothing. */
export type CooldownScope = Exclude<FailureScope, "request">

export interface CooldownEntry {
  providerID: string
  /** The member's model id; "*" for the credential's and the endpoint's (every model of the provider they reach). */
  modelID: string
  /** What it keeps out. Entries from before scopes have none: see `entryScope`. */
  scope?: CooldownScope
  reason: FailureReason
  /** Epoch ms when recorded. */
  since: number
  /** Epoch ms; always finite for entries this version writes (older files may hold `null`, read as bounded). */
  until: number
  /** Consecutive failures that built this cooldown. */
  failures: number
  /** Redacted, short, one line. */
  message: string
  statusCode?: number
  /** The provider's error code (`model_not_supported`): what the views name the refusal by. */
  code?: string
  /**
   * For the credential's entries, and a member's that another credential may not share (auth, quota, a model not on
   * the plan): a fingerprint (a hash, never the secret) of the credential that failed. A process holding another
   * credential for that provider is not kept out by it: the user fixed the key or signed in again.
   */
  credential?: string
}

/** Whose credential a report, a success or a lookup is about (its fingerprint); undefined when unknown. */
export interface CredentialOption {
  credential?: string
}

export interface HealthView {
  cooldownOf(member: MemberRef, now: number): CooldownEntry | undefined
}

/** Which entry a failure goes to. */
type Slot = Pick<CooldownEntry, "providerID" | "modelID" | "credential"> & { scope: CooldownScope }

/** Whether an entry keeps this member out: its own, or its provider's credential or endpoint. */
function covers(entry: CooldownEntry, member: MemberRef): boolean {
  return entry.providerID === member.providerID && (entryScope(entry) !== "model" || entry.modelID === member.modelID)
}

/** An entry recorded for one credential says nothing about another one. */
function otherCredential(entry: CooldownEntry, credential: string | undefined): boolean {
  return entry.credential !== undefined && credential !== undefined && entry.credential !== credential
}

export interface HealthRegistryOptions {
  cooldowns: ResolvedConfig["cooldowns"]
  /** Default Date.now. */
  clock?: () => number
  /** Default Math.random; drives the ±20% jitter. */
  random?: () => number
  /** Cap for grown transient cooldowns (default 1 h); quota, auth and explicit provider waits are not capped. */
  maxCooldownMs?: number
  /** Persistence shared with other processes; default none (memory only). */
  store?: HealthStore
  /**
   * Reads of the store (cooldownOf, entries) happen at most once per this many ms of `clock`. A file store check is
   * one stat (~0.5 µs measured), so this only bounds the cost on slow (network) home dirs; 250 ms of staleness
   * between processes is invisible next to cooldowns of seconds. 0 = check on every read. Reports always re-read.
   */
  refreshIntervalMs?: number
  /**
   * `deferred` (default): a change reaches the store after the current call stack, batched, so a failure handled
   * inside the retry schedule never waits on the disk or another process's lock; pending writes are flushed on exit.
   * `immediate`: each change is saved before the call returns (tools that run once and exit).
   */
  writes?: "deferred" | "immediate"
}

export const PROVIDER_WIDE = "*"
export const DEFAULT_MAX_COOLDOWN_MS = 3_600_000
export const DEFAULT_REFRESH_INTERVAL_MS = 250
/** A failure this many cooldown lengths after the previous cooldown ended no longer counts as consecutive. */
export const FORGET_AFTER_FACTOR = 10
export const JITTER = 0.2
const MAX_MESSAGE_LENGTH = 200
/** Member entries that belong to the credential they failed with (another account may be on another plan). */
const CREDENTIAL_BOUND: readonly FailureReason[] = ["auth", "quota", "model_unavailable"]
/** Reasons that say "this will pass soon": they grow on repetition and are capped. */
const TRANSIENT_REASONS: readonly FailureReason[] = [
  "rate_limit",
  "overloaded",
  "server_error",
  "network",
  "timeout",
  "unknown",
]
const FALLBACK_BASE_MS = 30_000

const KNOWN_REASONS: ReadonlySet<string> = new Set(FAILURE_REASONS)

function normalizeReason(reason: unknown): FailureReason {
  return typeof reason === "string" && KNOWN_REASONS.has(reason) ? (reason as FailureReason) : "unknown"
}

function isMember(member: unknown): member is MemberRef {
  if (typeof member !== "object" || member === null) return false
  const { providerID, modelID } = member as Record<string, unknown>
  return typeof providerID === "string" && providerID !== "" && typeof modelID === "string" && modelID !== ""
}

const finiteOrUndefined = (value: unknown) => (typeof value === "number" && Number.isFinite(value) ? value : undefined)

/**
 * The message is already redacted by the classifier; this is a second net because it is written to disk: it drops
 * anything that looks like a key or bearer token and keeps one short line.
 */
export function shortMessage(message: unknown): string {
  return typeof message === "string" ? redact(message, MAX_MESSAGE_LENGTH) : ""
}

function baseCooldownOf(cooldowns: ResolvedConfig["cooldowns"], reason: FailureReason): number {
  const table = cooldowns as Partial<Record<FailureReason, number>>
  const base = table[reason] ?? table.unknown
  // `Infinity` is meaningful (auth); NaN or negative from a hand-built config is not.
  return typeof base === "number" && base >= 0 ? base : FALLBACK_BASE_MS
}

/**
 * How long a failure cools its scope, as a pure function. `failures` is the consecutive count including this one;
 * `random` in [0, 1).
 */
export function cooldownDuration(input: {
  error: Pick<ClassifiedError, "reason" | "retryAfterMs" | "resetAt">
  failures: number
  now: number
  cooldowns: ResolvedConfig["cooldowns"]
  maxCooldownMs: number
  random: () => number
}): number {
  const { error, now } = input
  const resetAt = finiteOrUndefined(error.resetAt)
  if (resetAt !== undefined) return Math.max(0, resetAt - now)
  const retryAfterMs = finiteOrUndefined(error.retryAfterMs)
  if (retryAfterMs !== undefined) return Math.max(0, retryAfterMs)

  const reason = normalizeReason(error.reason)
  const base = baseCooldownOf(input.cooldowns, reason)
  if (!TRANSIENT_REASONS.includes(reason)) return base
  const exponent = Math.min(Math.max(0, Math.floor(input.failures) - 1), 30)
  let draw = Number(input.random())
  if (!(draw >= 0 && draw < 1)) draw = 0.5
  const grown = base * 2 ** exponent * (1 - JITTER + 2 * JITTER * draw)
  // The cap tames growth; it does not cut a base the user chose to be longer than it.
  return Math.min(grown, Math.max(input.maxCooldownMs, base))
}

/**
 * Carry out what a transition says about health, at whichever edge runs the machine (the OpenCode session, the
 * rehearsal driver): failures become cooldowns, answers end failure streaks. Returns the cooldowns now in force.
 */
export function recordOutcomes(
  health: HealthRegistry,
  actions: readonly FailoverAction[],
  credentialOf: (providerID: string) => string | undefined = () => undefined,
): CooldownEntry[] {
  const cooldowns: CooldownEntry[] = []
  for (const action of actions) {
    if (action.type !== "cool_down" && action.type !== "recovered") continue
    const options = { attemptStartedAt: action.attemptStartedAt, credential: credentialOf(action.member.providerID) }
    if (action.type === "recovered") {
      health.recordSuccess(action.member, options)
      continue
    }
    const cooldown = health.report(action.member, action.error, options)
    if (cooldown) cooldowns.push(cooldown)
  }
  return cooldowns
}

/** Changes waiting for the store: entries by key, forget rules in order, and what each entry's writer knew. */
interface PendingWrite {
  entries: Map<string, CooldownEntry>
  forget: ForgetRule[]
  basis: Map<string, number | null>
}

/**
 * A store whose save throws (the file store never does: its writer retries and keeps what it drops) gets the change
 * again after this long, doubling, at most this many times; then the change stays in this registry's memory only.
 */
const RETRY_WRITE_MS = 250
const MAX_WRITE_ATTEMPTS = 5

/** Registries with changes not yet in their store: written before the process exits. */
const unflushed = new Set<HealthRegistry>()
let exitHook = false
function flushOnExit() {
  if (exitHook || typeof process === "undefined" || typeof process.on !== "function") return
  exitHook = true
  process.on("exit", () => {
    for (const registry of [...unflushed]) registry.flush({ final: true })
    // No event loop runs after this: what the writer still holds is written now.
    flushStateFilesSync()
  })
}

export class HealthRegistry implements HealthView {
  readonly #cooldowns: ResolvedConfig["cooldowns"]
  readonly #clock: () => number
  readonly #random: () => number
  readonly #maxCooldownMs: number
  readonly #refreshIntervalMs: number
  readonly #store: HealthStore | undefined
  /** Latest entry per key, kept after it expires so the next failure knows whether it is consecutive. */
  readonly #records = new Map<string, CooldownEntry>()
  readonly #listeners = new Set<(entries: CooldownEntry[]) => void>()
  /** What the store held the last time we looked: an active entry that disappears from it was cleared elsewhere. */
  #lastStored: readonly CooldownEntry[] | undefined
  #lastStoredKeys = new Map<string, number>()
  #lastRefreshAt = Number.NEGATIVE_INFINITY
  /** When this registry first held each entry (key → since → at): a failure whose attempt began earlier could not
   * have known of it, so it is part of the same wave even if the entry was recorded before the attempt began. */
  readonly #seenAt = new Map<string, { since: number; at: number }>()
  readonly #writes: "deferred" | "immediate"
  /** Changes not yet in the store. */
  #pending: PendingWrite | undefined
  #flushScheduled = false
  /** Saves in a row that threw; reset by one that did not. */
  #failedWrites = 0

  constructor(given: HealthRegistryOptions) {
    const options: Partial<HealthRegistryOptions> = given ?? {}
    this.#cooldowns = options.cooldowns ?? ({} as ResolvedConfig["cooldowns"])
    this.#clock = options.clock ?? Date.now
    this.#random = options.random ?? Math.random
    this.#maxCooldownMs =
      typeof options.maxCooldownMs === "number" && options.maxCooldownMs >= 0 ? options.maxCooldownMs : DEFAULT_MAX_COOLDOWN_MS
    this.#refreshIntervalMs =
      typeof options.refreshIntervalMs === "number" && options.refreshIntervalMs >= 0
        ? options.refreshIntervalMs
        : DEFAULT_REFRESH_INTERVAL_MS
    this.#store = options.store
    this.#writes = options.writes === "immediate" ? "immediate" : "deferred"
    if (this.#store) flushOnExit()
    this.#refresh(true)
  }

  /** Record a failure. Returns the active entry covering it, or undefined when the reason never cools anything. */
  report(
    member: MemberRef,
    error: ClassifiedError,
    options: { attemptStartedAt?: number } & CredentialOption = {},
  ): CooldownEntry | undefined {
    if (!isMember(member) || typeof error !== "object" || error === null) return undefined
    const reason = normalizeReason(error.reason)
    const reach = scopeOf({ reason, scope: error.scope })
    // Nothing was sent (a key missing here) or the request itself was at fault: nothing to keep out, nothing to share.
    if (reach === "request" || NO_COOLDOWN.includes(reason)) return undefined
    // Another process may have recorded this wave already: look before deciding whether ours is new.
    this.#refresh(true)
    const now = this.#now()
    const given = typeof options?.credential === "string" ? options.credential : undefined
    const credential = reach === "credential" || (reach === "model" && CREDENTIAL_BOUND.includes(reason)) ? given : undefined
    const scope: Slot = { providerID: member.providerID, modelID: reach === "model" ? member.modelID : PROVIDER_WIDE, scope: reach, credential }
    const key = entryKey(scope)
    const stored = this.#records.get(key)
    // A failure with another credential is a new event, not the wave the old one belonged to.
    const previous = stored && otherCredential(stored, credential) ? undefined : stored
    const startedAt = finiteOrUndefined(options?.attemptStartedAt)
    const duration = (failures: number) =>
      cooldownDuration({
        error: { ...error, reason },
        failures,
        now,
        cooldowns: this.#cooldowns,
        maxCooldownMs: this.#maxCooldownMs,
        random: this.#random,
      })

    let next: CooldownEntry
    const seen = previous && this.#seenAt.get(key)
    const knownSince = seen && seen.since === previous.since ? seen.at : previous?.since
    if (previous && previous.until > now && (startedAt === undefined || startedAt <= Math.max(previous.since, knownSince ?? 0))) {
      // Same wave: one event, one entry. Only the provider's explicit wait may push the end further out.
      const explicit = finiteOrUndefined(error.resetAt) !== undefined || finiteOrUndefined(error.retryAfterMs) !== undefined
      const until = explicit ? now + duration(previous.failures) : previous.until
      if (until <= previous.until) return previous
      next = Object.freeze({ ...previous, until })
    } else {
      const failures = previous && this.#isConsecutive(previous, now) ? previous.failures + 1 : 1
      const until = Math.max(now + duration(failures), previous && previous.until > now ? previous.until : now)
      next = this.#entry(scope, reason, error, { since: now, until, failures }, credential)
    }
    this.#records.set(key, next)
    this.#see(key, next, now)
    this.#prune(now)
    this.#persist([next], [], new Map([[key, stored?.since ?? null]]))
    this.#emit()
    return next.until > now ? next : undefined
  }

  /**
   * Hands what is pending to the store now (the file store queues it for its writer and returns). Never throws. A
   * store that throws gets it again a bounded number of times; then it stays in this registry's memory only.
   * `final`: the process is exiting, no retry will come.
   */
  flush(options: { final?: boolean } = {}): void {
    const pending = this.#pending
    if (!this.#store || !pending) return
    this.#pending = undefined
    try {
      this.#store.save([...pending.entries.values()], { forget: pending.forget, basis: pending.basis })
      this.#failedWrites = 0
      // What is stored now, so a later disappearance can be told from a write that never landed.
      this.#remember(this.#store.load())
      unflushed.delete(this)
    } catch {
      // The store said why (its problem). Memory keeps the change either way.
      if (options.final || ++this.#failedWrites >= MAX_WRITE_ATTEMPTS) {
        this.#failedWrites = 0
        unflushed.delete(this)
        return
      }
      this.#merge(pending)
      this.#schedule(RETRY_WRITE_MS * 2 ** (this.#failedWrites - 1))
    }
  }

  /**
   * The member answered. Lifts its cooldowns (its own and its provider's) only when the attempt began after they were
   * recorded: a long stream that started before a 429 wave proves nothing about now. Without `attemptStartedAt`, only
   * expired records are cleared (which resets the failure count, the usual path: cooldown ends, retry works).
   */
  recordSuccess(member: MemberRef, options: { attemptStartedAt?: number } & CredentialOption = {}): void {
    if (!isMember(member)) return
    const now = this.#now()
    const startedAt = finiteOrUndefined(options?.attemptStartedAt)
    const rules: ForgetRule[] = []
    for (const [key, record] of this.#records) {
      // An answer with a new key proves nothing about the old one another process may still hold.
      if (!covers(record, member) || otherCredential(record, options?.credential)) continue
      if (record.until <= now) this.#records.delete(key)
      else if (startedAt !== undefined && startedAt >= record.since) {
        this.#records.delete(key)
        rules.push({ providerID: member.providerID, slot: entrySlot(record), sinceAtMost: startedAt })
      }
    }
    if (rules.length === 0) return
    this.#persist([], rules)
    this.#emit()
  }

  /**
   * The active cooldown that keeps `member` out, if any: the longest of its own, its credential's and its endpoint's.
   * With the caller's `credential`, an entry recorded for another credential does not count.
   */
  cooldownOf(member: MemberRef, now?: number, options: CredentialOption = {}): CooldownEntry | undefined {
    if (!isMember(member)) return undefined
    this.#refresh(false)
    const at = finiteOrUndefined(now) ?? this.#now()
    let longest: CooldownEntry | undefined
    for (const record of this.#records.values()) {
      if (!covers(record, member) || otherCredential(record, options?.credential)) continue
      if (record.until > at && (!longest || record.until > longest.until)) longest = record
    }
    return longest
  }

  /** Active entries, soonest-ending first. */
  entries(now?: number): CooldownEntry[] {
    this.#refresh(false)
    return this.#active(finiteOrUndefined(now) ?? this.#now())
  }

  /** Credentials changed: what the old credential earned (its own entries, and members refused to it) goes. */
  clearProvider(providerID: string): void {
    if (typeof providerID !== "string") return
    this.#forget({ providerID, credentialBound: true, sinceAtMost: this.#now() })
  }

  /** Every cooldown goes, here and in the shared store (a "reset health" command). */
  clear(): void {
    this.#forget({ sinceAtMost: Number.POSITIVE_INFINITY })
  }

  /** Called with the active entries after every change (including ones read from other processes). */
  subscribe(listener: (entries: CooldownEntry[]) => void): () => void {
    if (typeof listener !== "function") return () => {}
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  #now(): number {
    const now = this.#clock()
    return typeof now === "number" && Number.isFinite(now) ? now : Date.now()
  }

  #active(now: number): CooldownEntry[] {
    return [...this.#records.values()].filter((entry) => entry.until > now).sort((a, b) => a.until - b.until)
  }

  /**
   * An entry without an end (written as `until: null` before auth cooldowns were bounded) ends after the reason's
   * configured cooldown instead: nothing keeps a provider out for ever.
   */
  #bounded(entry: CooldownEntry): CooldownEntry {
    if (Number.isFinite(entry.until)) return entry
    return Object.freeze({ ...entry, until: entry.since + baseCooldownOf(this.#cooldowns, entry.reason) })
  }

  #isConsecutive(previous: CooldownEntry, now: number): boolean {
    if (previous.until > now) return true
    const length = Math.max(previous.until - previous.since, baseCooldownOf(this.#cooldowns, previous.reason))
    return now - previous.until <= FORGET_AFTER_FACTOR * length
  }

  #entry(
    slot: Slot,
    reason: FailureReason,
    error: ClassifiedError,
    timing: { since: number; until: number; failures: number },
    credential: string | undefined,
  ): CooldownEntry {
    const entry: CooldownEntry = {
      providerID: slot.providerID,
      modelID: slot.modelID,
      scope: slot.scope,
      reason,
      ...timing,
      message: shortMessage(error.message),
    }
    const statusCode = finiteOrUndefined(error.statusCode)
    if (statusCode !== undefined) entry.statusCode = statusCode
    if (typeof error.code === "string" && STORED_CODE.test(error.code)) entry.code = error.code
    if (credential !== undefined) entry.credential = credential
    return Object.freeze(entry)
  }

  #forget(rule: ForgetRule) {
    let changed = false
    for (const [key, record] of this.#records) {
      if (matchesForgetRule(record, rule)) {
        this.#records.delete(key)
        changed = true
      }
    }
    this.#persist([], [rule])
    if (changed) this.#emit()
  }

  /** Drop expired records whose failure count no longer matters. */
  #prune(now: number) {
    for (const [key, record] of this.#records) if (!this.#isConsecutive(record, now)) this.#records.delete(key)
  }

  #persist(entries: CooldownEntry[], forget: ForgetRule[] = [], basis = new Map<string, number | null>()) {
    if (!this.#store) return
    this.#merge({ entries: new Map(entries.map((entry) => [entryKey(entry), entry])), forget, basis })
    if (this.#writes === "immediate") this.flush()
    else this.#schedule(0)
  }

  #merge(change: PendingWrite) {
    const pending: PendingWrite = (this.#pending ??= { entries: new Map(), forget: [], basis: new Map() })
    for (const rule of change.forget) {
      pending.forget.push(rule)
      // A forget issued after a pending entry was recorded drops it here too.
      for (const [key, entry] of pending.entries) if (matchesForgetRule(entry, rule)) pending.entries.delete(key)
    }
    for (const [key, entry] of change.entries) {
      pending.entries.set(key, entry)
      // The first basis wins: it is what the writer knew before any of the pending changes.
      if (!pending.basis.has(key) && change.basis.has(key)) pending.basis.set(key, change.basis.get(key)!)
    }
    unflushed.add(this)
  }

  #schedule(delayMs: number) {
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    const run = () => {
      this.#flushScheduled = false
      this.flush()
    }
    if (delayMs === 0) setImmediate(run)
    else setTimeout(run, delayMs).unref?.()
  }

  #see(key: string, entry: CooldownEntry, at: number) {
    const seen = this.#seenAt.get(key)
    if (!seen || seen.since !== entry.since) this.#seenAt.set(key, { since: entry.since, at })
  }

  #remember(stored: readonly CooldownEntry[]) {
    this.#lastStored = stored
    this.#lastStoredKeys = new Map(stored.map((entry) => [entryKey(entry), entry.since]))
  }

  /** Take in what other processes stored. `force` skips the throttle (before a report). */
  #refresh(force: boolean) {
    if (!this.#store) return
    const clockNow = this.#now()
    if (!force && clockNow - this.#lastRefreshAt < this.#refreshIntervalMs) return
    this.#lastRefreshAt = clockNow
    let stored: CooldownEntry[]
    try {
      stored = this.#store.load()
    } catch {
      return
    }
    if (!Array.isArray(stored) || stored === this.#lastStored) return
    const storedKeys = new Map<string, CooldownEntry>()
    for (const entry of stored) storedKeys.set(entryKey(entry), this.#bounded(entry))
    let changed = false
    for (const [key, entry] of storedKeys) {
      const held = this.#records.get(key)
      const winner = held ? newerEntry(held, entry) : entry
      if (winner !== held) {
        this.#records.set(key, winner)
        this.#see(key, winner, clockNow)
        changed = true
      }
    }
    for (const [key, record] of this.#records) {
      // Active, stored before, gone now: another process cleared it (success, new credentials, reset).
      if (record.until > clockNow && !storedKeys.has(key) && this.#lastStoredKeys.get(key) === record.since) {
        this.#records.delete(key)
        changed = true
      }
    }
    this.#remember(stored)
    if (changed) this.#emit()
  }

  #emit() {
    if (this.#listeners.size === 0) return
    const active = this.#active(this.#now())
    for (const listener of this.#listeners) {
      try {
        listener(active)
      } catch {
        // One broken subscriber (a status line) must not break failover.
      }
    }
  }
}

/** For callers that want the store semantics without a file (tests, sandboxed runs). */
export { createMemoryHealthStore }
