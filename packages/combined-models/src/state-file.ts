/**
 * The small advisory files next to the health file (switches, rate-limit readings, round_robin's counter): written
 * whole to a temp file and renamed in, so a reader never sees half a file. A failed write loses only what it held
 * (history, a reading), never a request: it is reported by the return value, never thrown.
 */
import { mkdirSync, unlinkSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { defaultHealthPath, renameReplacing } from "./health-store.ts"

/** A state file's path: next to the health file, `<state>/combined-models/<name>`. */
export function stateFilePath(stateDir: string, name: string): string {
  return join(dirname(defaultHealthPath(stateDir)), name)
}

export function replaceStateFile(path: string, text: string): boolean {
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  try {
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(temp, text)
    renameReplacing(temp, path)
    return true
  } catch {
    try {
      unlinkSync(temp)
    } catch {
      // Nothing was written, or it is already gone.
    }
    return false
  }
}
