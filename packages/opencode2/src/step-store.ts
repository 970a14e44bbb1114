/**
 * Each session's served steps on disk (`<state>/combined-models/steps-opencode2.json`), so the status view of another
 * process (`opencode api … status` after `opencode run`, a second TUI) shows which member served each step of a
 * session, with its tokens and cost. Written through the engine's one state-file writer (off the step's path, merged
 * under the file's lock with what other processes wrote); bounded to the newest `STEPS_KEPT` steps of the newest
 * `SESSIONS_KEPT` sessions. Like the other state files it is advisory: a file that does not read (corrupt, another
 * version, a step of the wrong shape) reads as nothing, never as an error.
 */
import { statSync } from "node:fs"
import { readStateFile, stateFilePath, updateStateFile, type MemberRef } from "combined-models"
import { z } from "zod"
import type { StepUsage } from "./usage.ts"

export const STEPS_FILE_VERSION = 1
/** Steps kept per session (the newest). */
export const STEPS_KEPT = 50
/** Sessions kept (those with the newest steps). */
export const SESSIONS_KEPT = 200

/** One served step of a session, with the switches it took to get there. */
export interface StepRecord {
  /** Unique to the step: two steps of one member in the same millisecond are two steps, a write retried is one. */
  id: string
  groupID: string
  member: MemberRef
  at: number
  /** Switch notices of this step, in order (empty: the first member tried served it). */
  switches: string[]
  /** The step's tokens as the provider reported them in its stream (absent: it reported none). */
  usage?: StepUsage
  /** USD at the member's catalog price when it served (absent: no usage, or no price in the catalog). */
  cost?: number
}

export function stepsFile(stateDir: string): string {
  return stateFilePath(stateDir, "steps-opencode2.json")
}

const count = z.number().int().nonnegative()
const stepSchema = z.object({
  id: z.string(),
  groupID: z.string(),
  member: z.object({ providerID: z.string(), modelID: z.string() }),
  at: z.number().finite(),
  switches: z.array(z.string()),
  usage: z.object({ input: count, output: count, cacheRead: count.optional(), cacheWrite: count.optional() }).optional(),
  cost: z.number().finite().nonnegative().optional(),
})
const sessionSchema = z.object({ sessionID: z.string(), steps: z.array(z.unknown()) })
const fileSchema = z.object({ version: z.literal(STEPS_FILE_VERSION), sessions: z.array(z.unknown()) })

/** Session ID → its steps, oldest first; a session or step that does not read is left out, a file that does not read is empty. */
export function parseSteps(text: string | undefined): Map<string, StepRecord[]> {
  const sessions = new Map<string, StepRecord[]>()
  let raw: unknown
  try {
    raw = JSON.parse(text ?? "")
  } catch {
    return sessions
  }
  const file = fileSchema.safeParse(raw)
  if (!file.success) return sessions
  for (const entry of file.data.sessions) {
    const session = sessionSchema.safeParse(entry)
    if (!session.success) continue
    const steps = session.data.steps.flatMap((step) => {
      const parsed = stepSchema.safeParse(step)
      return parsed.success ? [parsed.data as StepRecord] : []
    })
    if (steps.length) sessions.set(session.data.sessionID, steps)
  }
  return sessions
}

export function readSteps(file: string): Map<string, StepRecord[]> {
  return parseSteps(readStateFile(file))
}

const parsed = new Map<string, { stamp: string; sessions: Map<string, StepRecord[]> }>()

/**
 * `readSteps`, parsed again only when the file changed (its time and size): a session's first step in a process
 * reads it on the request's path (`sticky` across processes), and a full file takes some 20 ms to parse.
 */
export function readStepsCached(file: string): Map<string, StepRecord[]> {
  let stamp: string
  try {
    const stat = statSync(file)
    stamp = `${stat.mtimeMs}:${stat.size}`
  } catch {
    return new Map()
  }
  const known = parsed.get(file)
  if (known?.stamp === stamp) return known.sessions
  const sessions = readSteps(file)
  parsed.set(file, { stamp, sessions })
  return sessions
}

/** A new step's id. */
export function stepID(): string {
  return crypto.randomUUID()
}

/** Both lists as one, oldest first, without repeats, the newest `keep`. */
export function mergeSteps(stored: readonly StepRecord[], added: readonly StepRecord[], keep: number = STEPS_KEPT): StepRecord[] {
  const seen = new Set<string>()
  const merged = [...stored, ...added].filter((step) => !seen.has(step.id) && !!seen.add(step.id))
  merged.sort((a, b) => a.at - b.at)
  return merged.slice(Math.max(0, merged.length - keep))
}

/** The file's text with one more step of a session, bounded (pure: it runs under the lock on whatever is there). */
export function withStep(text: string | undefined, sessionID: string, step: StepRecord): string {
  const sessions = parseSteps(text)
  sessions.set(sessionID, mergeSteps(sessions.get(sessionID) ?? [], [step]))
  const newest = [...sessions]
    .sort(([, a], [, b]) => a.at(-1)!.at - b.at(-1)!.at)
    .slice(-SESSIONS_KEPT)
    .map(([id, steps]) => ({ sessionID: id, steps }))
  return JSON.stringify({ version: STEPS_FILE_VERSION, sessions: newest })
}

/** One more step into the file, in the background (never throws; a write that cannot land is said in the log). */
export function appendStep(file: string, sessionID: string, step: StepRecord): void {
  updateStateFile(file, { what: "a served step", change: (text) => withStep(text, sessionID, step) })
}
