/**
 * The one writer of the state files: locked read-modify-writes off the caller's path, bounded attempts, the last
 * writes at exit. Several real processes write the same files at once.
 */
import { afterEach, beforeEach, expect, test } from "bun:test"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { limitsPath, readLimitsFile, rotationPath } from "../src/limits-store.ts"
import { readSwitches, switchesPath } from "../src/switch-store.ts"
import { MAX_WRITE_ATTEMPTS, resetStateFiles, settleStateFiles, takeStateFileNotices, updateStateFile } from "../src/state-file.ts"

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "combined-models-state-"))
  resetStateFiles()
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const WRITERS = 6
const TURNS = 40

test(`${WRITERS} processes writing the rotation counter, switches and readings at once lose no update`, async () => {
  const startAt = Date.now() + 1_500
  const writers = Array.from({ length: WRITERS }, (_, index) =>
    Bun.spawn([process.execPath, join(import.meta.dir, "stress/state-writer.ts"), dir, String(index), String(TURNS), String(startAt)], {
      stdout: "pipe",
      stderr: "pipe",
    }),
  )
  for (const writer of writers) expect(await writer.exited, await new Response(writer.stderr).text()).toBe(0)

  // Every turn of every process counted: an unlocked read-modify-write loses some of these.
  expect(JSON.parse(readFileSync(rotationPath(dir), "utf8")).groups["claude-sonnet-4-5"]).toBe(WRITERS * TURNS)
  expect(readSwitches(switchesPath(dir))).toHaveLength(WRITERS * TURNS)
  // Each process's latest reading of its own allowance.
  const readings = [...readLimitsFile(limitsPath(dir)).values()]
  expect(readings.map((reading) => [reading.providerID, reading.tokens?.remaining]).sort()).toEqual(
    Array.from({ length: WRITERS }, (_, index) => [`p${index}`, TURNS - 1]),
  )
  // Nothing left behind: no temp file, no lock.
  expect(existsSync(`${rotationPath(dir)}.lock`)).toBe(false)
}, 60_000)

test("a write returns before anything touches the disk, even while another process holds the file's lock", async () => {
  const file = join(dir, "combined-models", "counter.json")
  mkdirSync(`${file}.lock`, { recursive: true })
  // Held by a live process (our parent), recently: not stale.
  writeFileSync(join(`${file}.lock`, "owner"), JSON.stringify({ pid: process.ppid, at: Date.now() }))
  let landed: boolean | undefined
  updateStateFile(file, { what: "a count", change: (text) => String(Number(text ?? 0) + 1), settled: (ok) => (landed = ok) })
  expect(existsSync(file)).toBe(false)
  expect(landed).toBeUndefined()
  // The holder lets go while the writer is still trying: the change lands.
  setTimeout(() => rmSync(`${file}.lock`, { recursive: true, force: true }), 50)
  await settleStateFiles()
  expect(landed).toBe(true)
  expect(readFileSync(file, "utf8")).toBe("1")
})

test("a write that cannot land stops after a bounded number of attempts and is said once, naming what was dropped", async () => {
  // A regular file where the directory should be: no write can land, even as root.
  writeFileSync(join(dir, "combined-models"), "not a directory")
  const file = join(dir, "combined-models", "switches.json")
  let attempts = 0
  const outcomes: boolean[] = []
  const change = (text: string | undefined) => {
    attempts++
    return `${text ?? ""}x`
  }
  // The change runs only under the lock, which no attempt gets here.
  updateStateFile(file, { what: "a provider switch", change, settled: (ok) => outcomes.push(ok) })
  updateStateFile(file, { what: "a provider switch", change, settled: (ok) => outcomes.push(ok) })
  await settleStateFiles()
  expect(outcomes).toEqual([false, false])
  expect(attempts).toBe(0)
  const notices = takeStateFileNotices()
  expect(notices).toHaveLength(1)
  expect(notices[0]).toContain(`${file} not written after ${MAX_WRITE_ATTEMPTS} attempts (`)
  expect(notices[0]).toContain("dropped: a provider switch ×2")
  // Said once: a later failure of the same file is not said again...
  updateStateFile(file, { what: "a provider switch", change })
  await settleStateFiles()
  expect(takeStateFileNotices()).toEqual([])
  // ...until a write lands again.
  rmSync(join(dir, "combined-models"))
  updateStateFile(file, { what: "a provider switch", change })
  await settleStateFiles()
  expect(readFileSync(file, "utf8")).toBe("x")
  rmSync(dirname(file), { recursive: true, force: true })
  writeFileSync(join(dir, "combined-models"), "not a directory")
  updateStateFile(file, { what: "a rate-limit reading", change })
  await settleStateFiles()
  expect(takeStateFileNotices()).toEqual([expect.stringContaining("dropped: a rate-limit reading")])
}, 30_000)

test("what is still queued when the process exits is written by the exit flush", async () => {
  const file = join(dir, "combined-models", "counter.json")
  const script = `
    const { updateStateFile } = await import(${JSON.stringify(join(import.meta.dir, "../src/state-file.ts"))})
    for (let i = 0; i < 3; i++) updateStateFile(${JSON.stringify(file)}, { what: "a count", change: (text) => String(Number(text ?? 0) + 1) })
    process.exit(0)
  `
  const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" })
  expect(await child.exited, await new Response(child.stderr).text()).toBe(0)
  expect(readFileSync(file, "utf8")).toBe("3")
})
