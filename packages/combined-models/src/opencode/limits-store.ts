/**
 * The latest rate-limit readings on disk, so `opencode combined` (a process of its own, which has made no request)
 * shows what each provider said it has left, and the order `least_limited` gives now.
 * `<state>/combined-models/limits.json`: `{ "version": 1, "providers": { "<id>": Headroom } }`. Advisory like the
 * switches file: anything unreadable reads as "nothing known", and a failed write only loses the reading.
 */
import { readFileSync } from "node:fs"
import { z } from "zod"
import { replaceStateFile, stateFilePath } from "../state-file.ts"
import { isLive, type Headroom, type LimitsView } from "../limits.ts"

export const LIMITS_FILE_VERSION = 1

/** Next to the health file. */
export function limitsPath(stateDir: string): string {
  return stateFilePath(stateDir, "limits.json")
}

const Count = z.number().finite().nonnegative()
const Window = z.object({ remaining: Count, limit: Count.optional(), resetAt: Count.optional() })
const Reading = z.object({ tokens: Window.optional(), requests: Window.optional(), seenAt: Count })
const LimitsFile = z.object({ version: z.literal(LIMITS_FILE_VERSION), providers: z.record(z.string(), z.unknown()) })

/** Readings kept in the file at most. */
const MAX_PROVIDERS = 256

/** The stored readings by provider; a reading that does not parse is left out, a file that does not is empty. */
export function readLimitsFile(path: string): Map<string, Headroom> {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, "utf8"))
  } catch {
    return new Map()
  }
  const file = LimitsFile.safeParse(raw)
  if (!file.success) return new Map()
  const readings = new Map<string, Headroom>()
  for (const [providerID, value] of Object.entries(file.data.providers)) {
    const reading = Reading.safeParse(value)
    if (reading.success) readings.set(providerID, reading.data)
  }
  return readings
}

/** One provider's reading into the file (undefined: nothing known now): read, replace, write a temp file, rename it in. */
export function writeLimitsReading(path: string, providerID: string, headroom: Headroom | undefined): void {
  const readings = readLimitsFile(path)
  readings.delete(providerID)
  if (headroom) readings.set(providerID, headroom)
  const kept = [...readings].slice(-MAX_PROVIDERS)
  replaceStateFile(path, JSON.stringify({ version: LIMITS_FILE_VERSION, providers: Object.fromEntries(kept) }))
}

/** `round_robin`'s turn counters, next to the health file. */
export function rotationPath(stateDir: string): string {
  return stateFilePath(stateDir, "rotation.json")
}

const RotationFile = z.object({ version: z.literal(1), groups: z.record(z.string(), z.number().int().nonnegative()) })

/**
 * This turn's place in a group's rotation, and the next turn's written back. Not locked: two processes starting a
 * turn at the same moment may share a place, which costs one turn of spread, never a request.
 */
export function takeRotation(path: string, groupID: string): number {
  let groups: Record<string, number> = {}
  try {
    const parsed = RotationFile.safeParse(JSON.parse(readFileSync(path, "utf8")))
    if (parsed.success) groups = parsed.data.groups
  } catch {}
  const turn = groups[groupID] ?? 0
  replaceStateFile(path, JSON.stringify({ version: 1, groups: { ...groups, [groupID]: turn + 1 } }))
  return turn
}

/** The file's readings as routing reads them: a reading whose windows have all reset says nothing. */
export function fileLimitsView(path: string): LimitsView {
  const readings = readLimitsFile(path)
  return {
    headroomOf(providerID, now) {
      const reading = readings.get(providerID)
      return reading && isLive(reading, now) ? reading : undefined
    },
  }
}
