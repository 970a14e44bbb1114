/**
 * `round_robin` across the processes of a machine: each combined model's turn counter in a small state file beside
 * the health file. OpenCode 2 resolves a turn's model before any hook of the turn runs, so the counter is read when
 * the catalog entry is pointed (at start, and after each served step) and moved on once a turn was served: the next
 * turn, in this process or the next `opencode run`, starts at the next provider of the order.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { defaultHealthPath } from "combined-models"

export function rotationFile(stateDir: string): string {
  return join(dirname(defaultHealthPath(stateDir)), "rotation-opencode2.json")
}

function read(file: string): Record<string, number> {
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as { version?: number; groups?: Record<string, unknown> }
    if (parsed?.version !== 1 || typeof parsed.groups !== "object" || parsed.groups === null) return {}
    return Object.fromEntries(Object.entries(parsed.groups).filter((entry): entry is [string, number] => Number.isSafeInteger(entry[1]) && (entry[1] as number) >= 0))
  } catch {
    return {}
  }
}

/** This turn's place in the group's rotation (0 before any turn was served). */
export function peekRotation(file: string, groupID: string): number {
  return read(file)[groupID] ?? 0
}

/**
 * A turn of the group was served: the next one starts a place further. Not locked: two processes finishing a turn at
 * the same moment may count once, which costs one turn of spread, never a request. Best effort: routing never fails
 * over a state file.
 */
export function advanceRotation(file: string, groupID: string): number {
  const groups = read(file)
  const next = (groups[groupID] ?? 0) + 1
  try {
    mkdirSync(dirname(file), { recursive: true })
    const temporary = `${file}.${process.pid}.tmp`
    writeFileSync(temporary, JSON.stringify({ version: 1, groups: { ...groups, [groupID]: next } }))
    renameSync(temporary, file)
  } catch {}
  return next
}
