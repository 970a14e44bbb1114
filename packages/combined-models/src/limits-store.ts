/**
 * The latest rate-limit readings on disk, so `opencode combined` (a process of its own, which has made no request)
 * shows what each provider said it has left, and the order `least_limited` gives now.
 * `<state>/combined-models/limits.json`: `{ "version": 2, "readings": { "<key>": LimitReading } }`, one reading per
 * allowance (provider, credential fingerprint, limit class). Advisory like the switches file: anything unreadable
 * reads as "nothing known", and a failed write only loses the reading. A version 1 file (one reading per provider,
 * written before readings had a class) reads as nothing known: its readings were good for a minute or so anyway.
 */
import { z } from "zod"
import { findReading, LimitsTable, placeReading, type HeaderSource, type LimitReading, type LimitSource, type LimitsView } from "./limits.ts"
import type { MemberRef } from "./types.ts"
import { readStateFile, stateFilePath, updateStateFile } from "./state-file.ts"

export const LIMITS_FILE_VERSION = 2

/** Next to the health file. */
export function limitsPath(stateDir: string): string {
  return stateFilePath(stateDir, "limits.json")
}

const Count = z.number().finite().nonnegative()
const Window = z.object({ remaining: Count, limit: Count.optional(), resetAt: Count.optional(), excludesCacheReads: z.boolean().optional() })
const Reading = z.object({
  tokens: Window.optional(),
  requests: Window.optional(),
  scheme: z.enum(["anthropic", "per_model", "account"]).optional(),
  seenAt: Count,
  providerID: z.string().min(1),
  limitClass: z.string(),
  credential: z.string().optional(),
})
const LimitsFile = z.object({ version: z.literal(LIMITS_FILE_VERSION), readings: z.record(z.string(), z.unknown()) })

/** The stored readings by key; a reading that does not parse is left out, a file that does not is empty. */
export function readLimitsFile(path: string): Map<string, LimitReading> {
  const text = readStateFile(path)
  return parseLimits(text)
}

function parseLimits(text: string | undefined): Map<string, LimitReading> {
  const readings = new Map<string, LimitReading>()
  let raw: unknown
  try {
    raw = text === undefined ? undefined : JSON.parse(text)
  } catch {
    return readings
  }
  const file = LimitsFile.safeParse(raw)
  if (!file.success) return readings
  for (const [key, value] of Object.entries(file.data.readings)) {
    const reading = Reading.safeParse(value)
    if (reading.success) readings.set(key, reading.data)
  }
  return readings
}

/**
 * The file's text with the latest reading of `source`'s allowance in place of what it held for that allowance
 * (undefined: nothing known of it now). A pure merge of whatever the file holds, so it may run on another process's
 * latest write.
 */
export function withLimitsReading(current: string | undefined, source: LimitSource, reading: LimitReading | undefined): string {
  const readings = parseLimits(current)
  placeReading(readings, source, reading)
  return JSON.stringify({ version: LIMITS_FILE_VERSION, readings: Object.fromEntries(readings) })
}

/**
 * The latest reading of `source`'s allowance into the file (undefined: nothing known of it now). Queued for the
 * state-file writer: the response that carried it is not held up, and the merge runs under the file's lock on what
 * other processes wrote meanwhile.
 */
export function writeLimitsReading(path: string, source: LimitSource, reading: LimitReading | undefined): void {
  updateStateFile(path, { what: "a rate-limit reading", change: (current) => withLimitsReading(current, source, reading) })
}

/** `round_robin`'s turn counters, next to the health file. */
export function rotationPath(stateDir: string): string {
  return stateFilePath(stateDir, "rotation.json")
}

const RotationFile = z.object({ version: z.literal(1), groups: z.record(z.string(), z.number().int().nonnegative()) })

function parseRotation(text: string | undefined): Record<string, number> {
  try {
    const parsed = RotationFile.safeParse(JSON.parse(text ?? ""))
    if (parsed.success) return parsed.data.groups
  } catch {}
  return {}
}

/**
 * Where a group's next turn starts, without taking it: the counter as the file has it, plus this process's increments
 * still on their way (what `takeRotation` would return now).
 */
export function peekRotation(path: string, groupID: string): number {
  return (parseRotation(readStateFile(path))[groupID] ?? 0) + (rotationsOnTheWay.get(`${path}\u0000${groupID}`) ?? 0)
}

/** This process's increments not in the file yet, by file and group: its own next turns count them. */
const rotationsOnTheWay = new Map<string, number>()

/**
 * This turn's place in a group's rotation: the counter as the file has it, plus this process's increments still on
 * their way. The increment is queued for the state-file writer, a +1 under the file's lock, so every process's turn
 * is counted; two processes starting a turn in the same instant may share a place, which costs one turn of spread,
 * never a request.
 */
export function takeRotation(path: string, groupID: string): number {
  const key = `${path}\u0000${groupID}`
  const text = readStateFile(path)
  const onTheWay = rotationsOnTheWay.get(key) ?? 0
  const turn = (parseRotation(text)[groupID] ?? 0) + onTheWay
  rotationsOnTheWay.set(key, onTheWay + 1)
  updateStateFile(path, {
    what: "a round_robin turn",
    change: (current) => {
      const groups = parseRotation(current)
      return JSON.stringify({ version: 1, groups: { ...groups, [groupID]: (groups[groupID] ?? 0) + 1 } })
    },
    settled: () => {
      const left = (rotationsOnTheWay.get(key) ?? 1) - 1
      if (left > 0) rotationsOnTheWay.set(key, left)
      else rotationsOnTheWay.delete(key)
    },
  })
  return turn
}

/** The file's readings as routing reads them, with a member's credential: a reading whose windows have all reset says nothing. */
export function fileLimitsView(path: string): { headroomOf(member: LimitSource, now: number): LimitReading | undefined } {
  const readings = [...readLimitsFile(path).values()]
  return { headroomOf: (member, now) => findReading(readings, member, now) }
}

/** The later of two readings of one allowance: another process may have spent it since this one read it. */
function newer(own: LimitReading | undefined, saved: LimitReading | undefined): LimitReading | undefined {
  if (!own || !saved) return own ?? saved
  return saved.seenAt > own.seenAt ? saved : own
}

/**
 * What a machine knows of the allowances its members draw on: this process's readings, else the latest another process
 * of this machine wrote to `limits.json` (one allowance, whichever process spends it; `opencode run` is a process a
 * turn, and without the file each would start knowing nothing). Both editions route on it (`least_limited`, read-ahead)
 * and `opencode combined` shows it.
 */
export class SharedLimits {
  readonly #table = new LimitsTable()
  readonly #path: string | undefined
  #saved: { view: ReturnType<typeof fileLimitsView>; readAt: number } | undefined

  /** `stateDir` undefined: this process's readings only. */
  constructor(stateDir: string | undefined) {
    this.#path = stateDir === undefined ? undefined : limitsPath(stateDir)
  }

  /** The live reading of the allowance `member` draws on with this credential, the newer of this process's and the file's. */
  headroomOf(member: MemberRef, now: number, credential?: string): LimitReading | undefined {
    const source = { ...member, ...(credential !== undefined ? { credential } : {}) }
    return newer(this.#table.headroomOf(member, now, credential), this.#savedLimits(now)?.headroomOf(source, now))
  }

  /** A view for routing, with each member's credential from `credentialOf`. */
  view(credentialOf: (member: MemberRef) => string | undefined): LimitsView {
    return { headroomOf: (member, now) => this.headroomOf(member, now, credentialOf(member)) }
  }

  /**
   * A response of `source` came back: keep what its rate-limit headers say of that allowance, and write it next to
   * the health file (headers without limits say nothing is known of it now, written only when something was).
   */
  record(source: LimitSource, headers: HeaderSource, now: number): LimitReading | undefined {
    const known = this.#table.headroomOf(source, now, source.credential) !== undefined
    const reading = this.#table.record(source, headers, now)
    if (this.#path && (reading || known)) writeLimitsReading(this.#path, source, reading)
    return reading
  }

  clear() {
    this.#table.clear()
    this.#saved = undefined
  }

  /** The file's readings, read again at most every 250 ms: a step reads it once per member at most. */
  #savedLimits(now: number) {
    if (!this.#path) return undefined
    if (!this.#saved || Math.abs(now - this.#saved.readAt) > 250) this.#saved = { view: fileLimitsView(this.#path), readAt: now }
    return this.#saved.view
  }
}
