/**
 * Where cooldowns outlive a process and cross between processes: several OpenCode processes (TUI, `opencode run`,
 * the server) share one small JSON file, so a rate limit seen by one is skipped by all.
 *
 * File format: `{ "version": 1, "entries": [CooldownEntry…] }`, with `until: null` for Infinity (JSON has none). An
 * entry without `scope` (written before cooldowns were scoped) reads as its reach was then: `modelID` "*" is the
 * credential's (auth and quota were the only provider-wide reasons), anything else the member's.
 * Anything else on disk (missing, empty, truncated, not JSON, another version, another shape) reads as "no
 * cooldowns" plus a reason in `problem`: health is advisory, a bad file must never stop a request.
 */
import { readFileSync, statSync } from "node:fs"
import type { CooldownEntry, CooldownScope } from "./health.ts"
import { stateFilePath, updateStateFile } from "./state-file.ts"
import { FAILURE_REASONS, type FailureReason } from "./types.ts"

export const HEALTH_FILE_VERSION = 1

/**
 * Drop stored entries that match, e.g. "every auth/quota entry of provider X recorded up to now" after the
 * credentials changed. `sinceAtMost` keeps a newer failure (recorded by another process after ours) alive.
 */
export interface ForgetRule {
  providerID?: string
  modelID?: string
  /** Exactly this entry of the provider (its `entrySlot`): a success lifts the entries it proves wrong, no others. */
  slot?: string
  reasons?: readonly FailureReason[]
  /** Only entries a credential change ends: the credential's own, and any that carries a credential fingerprint. */
  credentialBound?: boolean
  /** Only entries whose `since` is at or before this (epoch ms). */
  sinceAtMost: number
}

export interface SaveOptions {
  forget?: readonly ForgetRule[]
  /**
   * Per entry key, the `since` of the stored entry the writer's decision was built on (`null`: it knew none). A stored
   * active entry the writer did not know is a failure another process recorded in the same wave: the writer's entry
   * joins it instead of counting the wave twice.
   */
  basis?: ReadonlyMap<string, number | null>
}

/**
 * Contract: `save` MERGES `entries` into what is stored (per key the later `since` wins, expired entries go, `forget`
 * rules apply to what was stored), so a caller passes only what it changed. It returns at once and never waits on a
 * disk or a lock; `load` reflects the change from then on, whether or not it has reached other processes yet. `load`
 * returns the active entries; it may return the very same array as last time when nothing changed, which callers use
 * to skip work.
 */
export interface HealthStore {
  load(): CooldownEntry[]
  save(entries: CooldownEntry[], options?: SaveOptions): void
}

/** `<stateDir>/combined-models/health.json`; the caller passes OpenCode's state dir. */
export function defaultHealthPath(stateDir: string): string {
  return stateFilePath(stateDir, "health.json")
}

/** What a stored entry reaches: its `scope`, or for an entry from before scopes, what its `modelID` said then. */
export function entryScope(entry: Pick<CooldownEntry, "modelID" | "scope">): CooldownScope {
  return entry.scope ?? (entry.modelID === "*" ? "credential" : "model")
}

/**
 * Where an entry sits among its provider's: the model id for a member's, `*@<fingerprint>` for a credential's (`*` when
 * the credential was not known), `@endpoint` for the endpoint's. Two credentials of one provider cool apart.
 */
export function entrySlot(entry: Pick<CooldownEntry, "modelID" | "scope" | "credential">): string {
  const scope = entryScope(entry)
  if (scope === "model") return entry.modelID
  if (scope === "endpoint") return "@endpoint"
  return entry.credential ? `*@${entry.credential}` : "*"
}

/** One cooldown per provider and slot (see `entrySlot`). */
export function entryKey(entry: Pick<CooldownEntry, "providerID" | "modelID" | "scope" | "credential">): string {
  return slotKey(entry.providerID, entrySlot(entry))
}

export function slotKey(providerID: string, slot: string): string {
  // NUL cannot appear in ids that came through JSON config or URLs; model ids do contain "/" and ":".
  return `${providerID}\u0000${slot}`
}

export function matchesForgetRule(entry: CooldownEntry, rule: ForgetRule): boolean {
  if (rule.providerID !== undefined && entry.providerID !== rule.providerID) return false
  if (rule.modelID !== undefined && entry.modelID !== rule.modelID) return false
  if (rule.slot !== undefined && entrySlot(entry) !== rule.slot) return false
  if (rule.credentialBound && entryScope(entry) !== "credential" && entry.credential === undefined) return false
  if (rule.reasons !== undefined && !rule.reasons.includes(entry.reason)) return false
  return entry.since <= rule.sinceAtMost
}

/** Of two entries for one key: the later failure; on a tie the longer cooldown (a wave report may extend `until`). */
export function newerEntry(a: CooldownEntry, b: CooldownEntry): CooldownEntry {
  if (a.since !== b.since) return a.since > b.since ? a : b
  return b.until > a.until ? b : a
}

/**
 * Pure merge used by every store: stored minus forgotten, plus incoming, later `since` per key, active only. An
 * incoming entry whose writer did not know the active stored one (`basis`) joins that one's wave: the stored start
 * and count stay, the end is the later of the two.
 */
export function mergeEntries(
  stored: readonly CooldownEntry[],
  incoming: readonly CooldownEntry[],
  options: { now: number; forget?: readonly ForgetRule[]; basis?: SaveOptions["basis"] },
): CooldownEntry[] {
  const forget = options.forget ?? []
  const byKey = new Map<string, CooldownEntry>()
  for (const entry of stored) {
    if (forget.some((rule) => matchesForgetRule(entry, rule))) continue
    const key = entryKey(entry)
    const held = byKey.get(key)
    byKey.set(key, held ? newerEntry(held, entry) : entry)
  }
  for (const entry of incoming) {
    const key = entryKey(entry)
    const held = byKey.get(key)
    const known = options.basis?.get(key)
    const unseen = held !== undefined && known !== undefined && known !== held.since && held.since !== entry.since
    if (held && unseen && held.until > options.now && held.credential === entry.credential) {
      byKey.set(key, entry.until > held.until ? Object.freeze({ ...held, until: entry.until }) : held)
      continue
    }
    byKey.set(key, held ? newerEntry(held, entry) : entry)
  }
  return [...byKey.values()].filter((entry) => entry.until > options.now)
}

const REASONS: ReadonlySet<string> = new Set(FAILURE_REASONS)
const STORED_SCOPES: ReadonlySet<string> = new Set(["model", "credential", "endpoint"])
/** What a provider's error code looks like (`model_not_supported`, `AccessDeniedException`); anything else is dropped. */
export const STORED_CODE = /^[A-Za-z][\w.-]{0,63}$/
/** What a stored fingerprint looks like (hex of a hash); anything else is dropped rather than trusted. */
const CREDENTIAL_FINGERPRINT = /^[0-9a-f]{8,64}$/

/** A stored entry back into a CooldownEntry, or undefined when it is not one (foreign or damaged data). */
export function parseStoredEntry(raw: unknown): CooldownEntry | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined
  const value = raw as Record<string, unknown>
  const { providerID, modelID, reason, since, until, failures, message, statusCode, credential, scope, code } = value
  if (typeof providerID !== "string" || providerID === "") return undefined
  if (typeof modelID !== "string" || modelID === "") return undefined
  if (typeof reason !== "string" || !REASONS.has(reason)) return undefined
  if (typeof since !== "number" || !Number.isFinite(since)) return undefined
  // null is how Infinity travels through JSON.
  const untilMs = until === null ? Number.POSITIVE_INFINITY : until
  if (typeof untilMs !== "number" || Number.isNaN(untilMs)) return undefined
  const entry: CooldownEntry = {
    providerID,
    modelID,
    reason: reason as FailureReason,
    since,
    until: untilMs,
    failures: typeof failures === "number" && Number.isInteger(failures) && failures >= 1 ? failures : 1,
    message: typeof message === "string" ? message : "",
  }
  if (typeof statusCode === "number" && Number.isInteger(statusCode)) entry.statusCode = statusCode
  if (typeof code === "string" && STORED_CODE.test(code)) entry.code = code
  if (typeof credential === "string" && CREDENTIAL_FINGERPRINT.test(credential)) entry.credential = credential
  // Without a scope (an older writer's) or with one this version does not know, `entryScope` reads what `modelID`
  // said before scopes. A provider-wide scope on one model's entry is damage: it stays that member's.
  if (typeof scope === "string" && STORED_SCOPES.has(scope) && (scope === "model" || modelID === "*")) entry.scope = scope as CooldownScope
  return Object.freeze(entry)
}

export function serializeEntries(entries: readonly CooldownEntry[]): string {
  const stored = entries.map((entry) => ({ ...entry, until: Number.isFinite(entry.until) ? entry.until : null }))
  return `${JSON.stringify({ version: HEALTH_FILE_VERSION, entries: stored }, null, 2)}\n`
}

/** File text → entries; `problem` says why the file was (partly) ignored. */
export function parseHealthFile(text: string): { entries: CooldownEntry[]; problem?: string } {
  if (text.trim() === "") return { entries: [], problem: "health file is empty" }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return { entries: [], problem: "health file is not valid JSON (truncated or damaged); starting with no cooldowns" }
  }
  if (typeof data !== "object" || data === null || Array.isArray(data))
    return { entries: [], problem: "health file is not an object; starting with no cooldowns" }
  const { version, entries } = data as { version?: unknown; entries?: unknown }
  if (version !== HEALTH_FILE_VERSION)
    return { entries: [], problem: `health file has version ${JSON.stringify(version)}, expected ${HEALTH_FILE_VERSION}; ignoring it` }
  if (!Array.isArray(entries)) return { entries: [], problem: "health file has no entries list; starting with no cooldowns" }
  const parsed = entries.map(parseStoredEntry)
  const valid = parsed.filter((entry): entry is CooldownEntry => entry !== undefined)
  const skipped = parsed.length - valid.length
  return skipped > 0 ? { entries: valid, problem: `skipped ${skipped} malformed health entr${skipped === 1 ? "y" : "ies"}` } : { entries: valid }
}

export interface FileHealthStoreOptions {
  clock?: () => number
  /** Called with each new problem (unreadable file, failed write); the store itself never logs or throws. */
  onProblem?: (problem: string) => void
}

export interface FileHealthStore extends HealthStore {
  readonly path: string
  /** Why the last load or save fell back (undefined when both went fine). */
  readonly problem: string | undefined
}

/** Identity of one version of the file: atomic writes rename a new inode in, so `ino` changes on every save. */
interface FileSignature {
  ino: number
  mtimeMs: number
  size: number
}

function sameSignature(a: FileSignature | undefined, b: FileSignature | undefined) {
  return a !== undefined && b !== undefined && a.ino === b.ino && a.mtimeMs === b.mtimeMs && a.size === b.size
}

function errorText(error: unknown) {
  if (error && typeof error === "object" && "code" in error && typeof error.code === "string") return error.code
  return error instanceof Error ? error.message : String(error)
}

/**
 * A JSON file shared by processes. `load` costs one `stat` when the file did not change (measured ~0.5 µs on
 * Linux/Bun) and a read + parse (~7 µs for 20 entries) when it did. Writes go to a temp file in the same directory,
 * flushed to disk, then `rename`d over the file, so readers never see half a file and a crash never leaves an empty
 * one. Read-merge-write holds a lock: a writer that read before another's forget cannot write the forgotten entry back.
 * Every write goes through the state-file writer (`state-file.ts`): off the caller's path, a bounded number of
 * attempts, then kept in this process's memory and said once; `load` shows this process's saves at once, on top of
 * what the file holds.
 */
export function createFileHealthStore(path: string, options: FileHealthStoreOptions = {}): FileHealthStore {
  const clock = options.clock ?? Date.now
  let cached: { signature: FileSignature | undefined; entries: CooldownEntry[] } | undefined
  let problem: string | undefined
  let writeProblem: string | undefined
  /** Saves on their way to the file, oldest first; and saves that could not land, kept for this process's view. */
  const unwritten: Layer[] = []
  const kept: Layer[] = []
  let layersVersion = 0
  let layered: { base: CooldownEntry[]; version: number; entries: CooldownEntry[] } | undefined
  const withLayers = (base: CooldownEntry[]): CooldownEntry[] => {
    if (unwritten.length === 0 && kept.length === 0) return base
    if (layered && layered.base === base && layered.version === layersVersion) return layered.entries
    const now = clock()
    let entries = base
    for (const layer of [...kept, ...unwritten]) entries = mergeEntries(entries, layer.entries, { now, forget: layer.forget, basis: layer.basis })
    layered = { base, version: layersVersion, entries }
    return entries
  }

  const report = (next: string | undefined) => {
    if (next !== undefined && next !== problem) {
      try {
        options.onProblem?.(next)
      } catch {
        // A logger that throws must not take health down with it.
      }
    }
    problem = next
  }

  const signatureOf = (): FileSignature | undefined => {
    try {
      const stat = statSync(path, { throwIfNoEntry: false })
      return stat ? { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size } : undefined
    } catch {
      return undefined
    }
  }

  /** Fresh from disk, bypassing the cache; returns the signature read with it. */
  const readDisk = (): { signature: FileSignature | undefined; entries: CooldownEntry[]; problem?: string } => {
    const signature = signatureOf()
    if (!signature) return { signature, entries: [] }
    let text: string
    try {
      text = readFileSync(path, "utf8")
    } catch (error) {
      return { signature, entries: [], problem: `cannot read health file (${errorText(error)})` }
    }
    return { signature, ...parseHealthFile(text) }
  }

  return {
    path,
    get problem() {
      return problem
    },
    load() {
      const signature = signatureOf()
      if (!cached || !(sameSignature(cached.signature, signature) || (!signature && !cached.signature))) {
        const disk = readDisk()
        report(disk.problem ?? writeProblem)
        const now = clock()
        cached = { signature: disk.signature, entries: disk.entries.filter((entry) => entry.until > now) }
      }
      return withLayers(cached.entries)
    },
    save(entries, saveOptions = {}) {
      const layer: Layer = { entries, forget: saveOptions.forget ?? [], basis: saveOptions.basis }
      unwritten.push(layer)
      layersVersion++
      const changes = entries.length + layer.forget.length
      updateStateFile(path, {
        what: changes === 1 ? "1 cooldown change" : `${changes} cooldown changes`,
        // Under the lock, on what the file holds now (another process may have written since): the pure merge.
        change: (text) => {
          const stored = text === undefined ? [] : parseHealthFile(text).entries
          return serializeEntries(mergeEntries(stored, layer.entries, { now: clock(), forget: layer.forget, basis: layer.basis }))
        },
        settled: (landed) => {
          const at = unwritten.indexOf(layer)
          if (at !== -1) unwritten.splice(at, 1)
          if (landed) {
            // What landed later overrides what was kept from a dropped write, as it would have in the file.
            for (const keptLayer of kept) keptLayer.entries = mergeEntries([], keptLayer.entries, { now: clock(), forget: layer.forget })
            writeProblem = undefined
          } else {
            kept.push(layer)
            // A file that never takes a write (a read-only state dir) must not grow this without end.
            if (kept.length > MAX_KEPT_LAYERS) kept.splice(0, 2, foldLayers(kept[0]!, kept[1]!, clock()))
            writeProblem = "cannot write health file (a write did not land after several attempts); this process keeps its cooldowns in memory"
          }
          report(writeProblem)
          layersVersion++
        },
      })
    },
  }
}

/** A save not yet in the file (or dropped), applied on top of what the file holds. */
interface Layer {
  entries: CooldownEntry[]
  forget: readonly ForgetRule[]
  basis: SaveOptions["basis"]
}

const MAX_KEPT_LAYERS = 20
const MAX_KEPT_FORGETS = 200

/** Two dropped saves as one: the later one's entries and forgets over the earlier's, the newest forgets kept. */
function foldLayers(older: Layer, newer: Layer, now: number): Layer {
  return {
    entries: mergeEntries(older.entries, newer.entries, { now, forget: newer.forget, basis: newer.basis }),
    forget: [...older.forget, ...newer.forget].slice(-MAX_KEPT_FORGETS),
    basis: undefined,
  }
}

/** The same merge semantics without a file: for tests and for processes that must not touch disk. */
export function createMemoryHealthStore(options: { clock?: () => number } = {}): HealthStore {
  const clock = options.clock ?? Date.now
  let stored: CooldownEntry[] = []
  return {
    load: () => stored,
    save(entries, saveOptions = {}) {
      stored = mergeEntries(stored, entries, { now: clock(), forget: saveOptions.forget, basis: saveOptions.basis })
    },
  }
}
