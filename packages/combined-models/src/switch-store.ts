/**
 * The latest provider switches on disk, so a status view read from a fresh process (`opencode combined`, OpenCode 2's
 * status command) shows what the running sessions did. `<state>/combined-models/switches.json`: `{ "version": 1, "switches": [...] }`,
 * oldest first. Like the health file it is advisory: anything unreadable reads as "no switches", and a failed write
 * only loses history, never a request.
 */
import { isRecord } from "./record.ts"
import { readStateFile, stateFilePath, updateStateFile } from "./state-file.ts"
import type { SwitchRecord } from "./status-view.ts"
import { FAILURE_REASONS, type MemberRef } from "./types.ts"

export const SWITCHES_FILE_VERSION = 1

/** Next to the health file; each OpenCode edition keeps its own (`switches.json` for 1.x). */
export function switchesPath(stateDir: string, name = "switches.json"): string {
  return stateFilePath(stateDir, name)
}

const REASONS: ReadonlySet<string> = new Set(FAILURE_REASONS)

function isMemberRef(value: unknown): value is MemberRef {
  return isRecord(value) && typeof value.providerID === "string" && typeof value.modelID === "string"
}

function parseSwitch(raw: unknown): SwitchRecord | undefined {
  if (!isRecord(raw)) return undefined
  const { at, sessionID, groupID, from, to, reason, notice, depth } = raw
  if (typeof at !== "number" || !Number.isFinite(at)) return undefined
  if (typeof sessionID !== "string" || typeof groupID !== "string" || typeof notice !== "string") return undefined
  if (!isMemberRef(from) || !isMemberRef(to) || typeof reason !== "string" || !REASONS.has(reason)) return undefined
  return {
    at,
    sessionID,
    groupID,
    from: { providerID: from.providerID, modelID: from.modelID },
    to: { providerID: to.providerID, modelID: to.modelID },
    reason: reason as SwitchRecord["reason"],
    notice,
    ...(typeof depth === "number" && Number.isInteger(depth) && depth >= 0 ? { depth } : {}),
  }
}

/** The stored switches, oldest first; [] when the file is missing or unreadable. */
export function readSwitches(path: string): SwitchRecord[] {
  return parseSwitches(readStateFile(path))
}

function parseSwitches(text: string | undefined): SwitchRecord[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(text ?? "")
  } catch {
    return []
  }
  if (!isRecord(parsed) || parsed.version !== SWITCHES_FILE_VERSION || !Array.isArray(parsed.switches)) return []
  return parsed.switches.flatMap((raw) => parseSwitch(raw) ?? [])
}

function sameSwitch(a: SwitchRecord, b: SwitchRecord) {
  return a.at === b.at && a.sessionID === b.sessionID && a.groupID === b.groupID && a.to.providerID === b.to.providerID
}

/** Oldest first, without repeats, at most `keep` (the newest). */
export function mergeSwitches(stored: readonly SwitchRecord[], added: readonly SwitchRecord[], keep: number): SwitchRecord[] {
  const merged: SwitchRecord[] = []
  for (const record of [...stored, ...added]) if (!merged.some((known) => sameSwitch(known, record))) merged.push(record)
  merged.sort((a, b) => a.at - b.at)
  return merged.slice(Math.max(0, merged.length - keep))
}

/**
 * Add one switch to the file, through the state-file writer: off the switch's path, merged under the file's lock with
 * what other processes added meanwhile, so two processes switching in the same instant both keep theirs.
 */
export function appendSwitch(path: string, record: SwitchRecord, keep: number): void {
  updateStateFile(path, {
    what: "a provider switch",
    change: (text) => JSON.stringify({ version: SWITCHES_FILE_VERSION, switches: mergeSwitches(parseSwitches(text), [record], keep) }),
  })
}
