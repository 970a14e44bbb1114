import { afterEach, beforeEach, describe, expect, test } from "bun:test"
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises"
import { existsSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { FileLockTimeoutError, withFileLock } from "../src/file-lock.ts"
import { DEFAULT_COOLDOWNS } from "../src/config.ts"
import { HealthRegistry, type CooldownEntry } from "../src/health.ts"
import {
  createFileHealthStore,
  defaultHealthPath,
  mergeEntries,
  parseHealthFile,
  serializeEntries,
} from "../src/health-store.ts"
import type { MemberRef } from "../src/types.ts"
import { renameReplacing, settleStateFiles } from "../src/state-file.ts"

/** Writes go out off the caller's path: what another process would read is on disk once the writer settles. */
const landed = () => settleStateFiles()

const SONNET_ANTHROPIC: MemberRef = { providerID: "anthropic", modelID: "claude-sonnet-4-5" }
const SONNET_COPILOT: MemberRef = { providerID: "github-copilot", modelID: "claude-sonnet-4.5" }
const START = 1_700_000_000_000

let dir: string
let path: string
let now: number
const clock = () => now

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "combined-models-health-"))
  path = defaultHealthPath(dir)
  now = START
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

function entry(overrides: Partial<CooldownEntry> = {}): CooldownEntry {
  return {
    providerID: "anthropic",
    modelID: "claude-sonnet-4-5",
    reason: "rate_limit",
    since: START,
    until: START + 30_000,
    failures: 1,
    message: "429 Too Many Requests",
    statusCode: 429,
    ...overrides,
  }
}

function registryOn(file: string, refreshIntervalMs = 1_000) {
  return new HealthRegistry({
    cooldowns: DEFAULT_COOLDOWNS,
    clock,
    random: () => 0.5,
    store: createFileHealthStore(file, { clock }),
    refreshIntervalMs,
    // Each change on disk before the call returns: these tests read the file (or a second registry) right after.
    writes: "immediate",
  })
}

describe("file format", () => {
  test("defaultHealthPath is <stateDir>/combined-models/health.json", () => {
    expect(defaultHealthPath("/home/u/.local/state/opencode")).toBe("/home/u/.local/state/opencode/combined-models/health.json")
  })

  test("round trip keeps Infinity, written as null", async () => {
    const store = createFileHealthStore(path, { clock })
    const auth = entry({ modelID: "*", reason: "auth", until: Number.POSITIVE_INFINITY, statusCode: 401 })
    store.save([auth])
    // The saving store shows it at once; the file has it once the writer ran.
    expect(store.load()).toEqual([auth])
    await landed()
    const raw = JSON.parse(await readFile(path, "utf8"))
    expect(raw).toEqual({ version: 1, entries: [{ ...auth, until: null }] })
    expect(createFileHealthStore(path, { clock }).load()).toEqual([auth])
  })

  const broken: Array<[string, string]> = [
    ["empty", ""],
    ["truncated", serializeEntries([entry()]).slice(0, 40)],
    ["not JSON", "<html>502 Bad Gateway</html>"],
    ["wrong version", JSON.stringify({ version: 2, entries: [entry()] })],
    ["an array", JSON.stringify([entry()])],
    ["foreign shape", JSON.stringify({ version: 1, entries: { anthropic: 1 } })],
    ["null", "null"],
  ]
  test.each(broken)("a file that is %s reads as no cooldowns, with a reason", async (_, text) => {
    await mkdir(join(dir, "combined-models"), { recursive: true })
    await writeFile(path, text)
    const problems: string[] = []
    const store = createFileHealthStore(path, { clock, onProblem: (problem) => problems.push(problem) })
    expect(store.load()).toEqual([])
    expect(store.problem).toBeString()
    expect(problems).toEqual([store.problem!])
  })

  test("malformed entries are skipped, good ones kept", () => {
    const good = entry()
    const result = parseHealthFile(
      JSON.stringify({
        version: 1,
        entries: [good, { ...good, reason: "sunspots" }, { providerID: "x" }, 7, { ...good, until: "soon" }],
      }),
    )
    expect(result.entries).toEqual([good])
    expect(result.problem).toBe("skipped 4 malformed health entries")
  })

  test("a missing file is simply empty, no problem", () => {
    const store = createFileHealthStore(path, { clock })
    expect(store.load()).toEqual([])
    expect(store.problem).toBeUndefined()
  })
})

describe("merging", () => {
  test("per key the later since wins; expired entries go; forget rules apply to stored ones", () => {
    const older = entry({ since: START - 10_000, until: START + 20_000 })
    const newer = entry({ since: START, until: START + 60_000, failures: 2 })
    const expired = entry({ providerID: "openrouter", until: START - 1 })
    const quota = entry({ providerID: "openai", modelID: "*", reason: "quota", until: START + 3_600_000 })
    expect(mergeEntries([newer, expired], [older], { now: START })).toEqual([newer])
    expect(mergeEntries([older, quota], [newer], { now: START, forget: [{ providerID: "openai", sinceAtMost: START }] })).toEqual([
      newer,
    ])
  })

  test("save merges with what another process wrote", async () => {
    const mine = createFileHealthStore(path, { clock })
    const theirs = createFileHealthStore(path, { clock })
    theirs.save([entry({ providerID: "github-copilot", modelID: "claude-sonnet-4.5" })])
    mine.save([entry()])
    await landed()
    expect(mine.load().map((stored) => stored.providerID).sort()).toEqual(["anthropic", "github-copilot"])
    expect(theirs.load()).toHaveLength(2)
  })

  test("writes are atomic: nothing but health.json is left in the directory", async () => {
    const store = createFileHealthStore(path, { clock })
    for (let i = 0; i < 5; i++) store.save([entry({ since: START + i })])
    await landed()
    expect(await readdir(join(dir, "combined-models"))).toEqual(["health.json"])
  })

  test("load returns the same array while the file is unchanged, and re-reads after another write", async () => {
    const reader = createFileHealthStore(path, { clock })
    const writer = createFileHealthStore(path, { clock })
    writer.save([entry()])
    await landed()
    const first = reader.load()
    expect(reader.load()).toBe(first)
    writer.save([entry({ providerID: "openrouter" })])
    await landed()
    const second = reader.load()
    expect(second).not.toBe(first)
    expect(second).toHaveLength(2)
  })

  test("an unwritable place keeps the registry working in memory: bounded attempts, said once", async () => {
    // A regular file where the directory should be: fails even for root, unlike chmod.
    await writeFile(join(dir, "combined-models"), "not a directory")
    const problems: string[] = []
    const store = createFileHealthStore(path, { clock, onProblem: (problem) => problems.push(problem) })
    const health = new HealthRegistry({ cooldowns: DEFAULT_COOLDOWNS, clock, store, writes: "immediate" })
    expect(health.report(SONNET_ANTHROPIC, { reason: "rate_limit", message: "429" })).toBeDefined()
    expect(health.cooldownOf(SONNET_ANTHROPIC)).toBeDefined()
    // A bounded number of attempts, then dropped from the writer's queue and said once.
    await landed()
    expect(store.problem).toContain("cannot write health file")
    expect(problems).toHaveLength(1)
    // The in-memory entry is not mistaken for one another process cleared.
    now += 5_000
    expect(health.cooldownOf(SONNET_ANTHROPIC)).toBeDefined()
  })
})

describe("registries sharing one file", () => {
  test("a cooldown recorded in one is seen by the other", async () => {
    const first = registryOn(path)
    const second = registryOn(path)
    const recorded = first.report(SONNET_ANTHROPIC, { reason: "rate_limit", statusCode: 429, message: "429" })
    await landed()
    now += 1_000 // past the refresh interval
    expect(second.cooldownOf(SONNET_ANTHROPIC)).toEqual(recorded)
    expect(second.entries()).toEqual([recorded!])
  })

  test("subscribers hear about entries from other processes", async () => {
    const first = registryOn(path)
    const second = registryOn(path)
    const heard: number[] = []
    second.subscribe((entries) => heard.push(entries.length))
    first.report(SONNET_COPILOT, { reason: "auth", statusCode: 401, message: "401" })
    await landed()
    now += 1_000
    second.entries()
    expect(heard).toEqual([1])
  })

  test("auth survives a restart within its bound; clearProvider elsewhere lifts it", async () => {
    registryOn(path).report(SONNET_COPILOT, { reason: "auth", statusCode: 401, message: "401" })
    await landed()
    now += 30 * 60_000
    const restarted = registryOn(path)
    expect(restarted.cooldownOf(SONNET_COPILOT)?.reason).toBe("auth")
    const other = registryOn(path)
    other.clearProvider("github-copilot")
    await landed()
    now += 1_000
    expect(restarted.cooldownOf(SONNET_COPILOT)).toBeUndefined()
  })

  test("a newer failure elsewhere replaces ours, and a later clear there does not erase a newer one here", async () => {
    const first = registryOn(path, 0)
    const second = registryOn(path, 0)
    first.report(SONNET_ANTHROPIC, { reason: "quota", message: "quota" })
    await landed()
    now += 10
    second.clearProvider("anthropic")
    await landed()
    expect(first.cooldownOf(SONNET_ANTHROPIC)).toBeUndefined()
    now += 10
    const again = second.report(SONNET_ANTHROPIC, { reason: "quota", message: "quota again" })
    await landed()
    expect(first.cooldownOf(SONNET_ANTHROPIC)).toEqual(again)
  })

  test("a truncated file: the registry starts empty, then writes a good file", async () => {
    await mkdir(join(dir, "combined-models"), { recursive: true })
    await writeFile(path, serializeEntries([entry()]).slice(0, 25))
    const health = registryOn(path)
    expect(health.entries()).toEqual([])
    health.report(SONNET_ANTHROPIC, { reason: "overloaded", statusCode: 529, message: "overloaded" })
    await landed()
    expect(parseHealthFile(await readFile(path, "utf8"))).toEqual({ entries: health.entries() })
  })
})

describe("one wave across processes", () => {
  test("an entry the writer did not know joins the stored wave: its start and count stay", () => {
    const stored = entry({ since: START, until: START + 30_000, failures: 2 })
    const incoming = entry({ since: START + 100, until: START + 40_000, failures: 1 })
    const key = "anthropic\u0000claude-sonnet-4-5"
    const unseen = mergeEntries([stored], [incoming], { now: START + 100, basis: new Map([[key, null]]) })
    expect(unseen).toEqual([{ ...stored, until: START + 40_000 }])
    // A writer that built on the stored entry (an escalation it decided knowing it) wins as before.
    const known = mergeEntries([stored], [incoming], { now: START + 100, basis: new Map([[key, START]]) })
    expect(known).toEqual([incoming])
  })

  test("a failure whose attempt began before this process saw another's entry is part of that wave", async () => {
    const first = registryOn(path, 0)
    const second = registryOn(path, 60_000)
    const recorded = first.report(SONNET_ANTHROPIC, { reason: "overloaded", statusCode: 529, message: "529" }, { attemptStartedAt: now - 10 })!
    await landed()
    // The second process started its request after the first recorded the wave, before it could have read it.
    now += 100
    const attemptStartedAt = now
    now += 100
    const mine = second.report(SONNET_ANTHROPIC, { reason: "overloaded", statusCode: 529, message: "529" }, { attemptStartedAt })!
    expect(mine.failures).toBe(1)
    expect(mine.since).toBe(recorded.since)
    // Once seen, a later attempt that fails again is a new, escalated event.
    now += 100
    const again = second.report(SONNET_ANTHROPIC, { reason: "overloaded", statusCode: 529, message: "529" }, { attemptStartedAt: now })!
    expect(again.failures).toBe(2)
  })
})

describe("writes off the caller's path", () => {
  test("a report returns before the disk is touched, even with another process holding the lock; the change lands after", async () => {
    // A live process (our parent) holds the file's lock: a blocking writer would stall this thread here.
    await mkdir(`${path}.lock`, { recursive: true })
    await writeFile(join(`${path}.lock`, "owner"), JSON.stringify({ pid: process.ppid, at: Date.now() }))
    const store = createFileHealthStore(path, { clock })
    const health = new HealthRegistry({ cooldowns: DEFAULT_COOLDOWNS, clock, store, writes: "immediate" })
    const recorded = health.report(SONNET_ANTHROPIC, { reason: "rate_limit", statusCode: 429, message: "429" })
    health.flush()
    expect(existsSync(path)).toBe(false)
    // This process sees it at once all the same.
    expect(store.load()).toEqual([recorded!])
    await rm(`${path}.lock`, { recursive: true, force: true })
    await landed()
    expect(parseHealthFile(await readFile(path, "utf8")).entries).toHaveLength(1)
  })

  test("a store that throws gets the change again a bounded number of times, then never again", () => {
    let saves = 0
    const broken = {
      load: () => [],
      save: () => {
        saves++
        throw new Error("disk on fire")
      },
    }
    const health = new HealthRegistry({ cooldowns: DEFAULT_COOLDOWNS, clock, store: broken })
    health.report(SONNET_ANTHROPIC, { reason: "rate_limit", statusCode: 429, message: "429" })
    for (let flush = 0; flush < 20; flush++) health.flush()
    expect(saves).toBe(5)
    // Memory keeps it.
    expect(health.cooldownOf(SONNET_ANTHROPIC)?.reason).toBe("rate_limit")
  })

  test("a write that does not land is kept and goes out with the next flush", async () => {
    const inner = createFileHealthStore(path, { clock })
    let failNext = true
    const flaky = {
      load: () => inner.load(),
      save: (...args: Parameters<typeof inner.save>) => {
        if (failNext) {
          failNext = false
          throw new Error("lock held")
        }
        inner.save(...args)
      },
    }
    const health = new HealthRegistry({ cooldowns: DEFAULT_COOLDOWNS, clock, store: flaky })
    health.report(SONNET_ANTHROPIC, { reason: "rate_limit", statusCode: 429, message: "429" })
    health.flush()
    expect(existsSync(path)).toBe(false)
    health.flush()
    await landed()
    expect(parseHealthFile(readFileSync(path, "utf8")).entries.map((e) => e.providerID)).toEqual(["anthropic"])
  })
})

describe("the lock and the rename", () => {
  test("a lock whose holder is gone is taken over; a live holder's makes the writer wait and then give up", async () => {
    await mkdir(`${path}.lock`, { recursive: true })
    await writeFile(join(`${path}.lock`, "owner"), JSON.stringify({ pid: 2 ** 22 + 12345, at: Date.now() }))
    expect(withFileLock(path, () => "ran")).toBe("ran")
    expect(existsSync(`${path}.lock`)).toBe(false)

    await mkdir(`${path}.lock`, { recursive: true })
    await writeFile(join(`${path}.lock`, "owner"), JSON.stringify({ pid: process.ppid, at: Date.now() }))
    expect(() => withFileLock(path, () => "ran", { timeoutMs: 30 })).toThrow(FileLockTimeoutError)
    // Older than staleMs: a crashed holder's, whatever the pid.
    expect(withFileLock(path, () => "ran", { staleMs: 0, timeoutMs: 30 })).toBe("ran")
  })

  test("a rename over a file a reader holds open (Windows: EPERM, EBUSY) is retried, then fails loudly", () => {
    let busy = 2
    const calls: string[] = []
    renameReplacing("a", "b", (from, to) => {
      calls.push(`${from}->${to}`)
      if (busy-- > 0) throw Object.assign(new Error("busy"), { code: "EPERM" })
    })
    expect(calls).toHaveLength(3)
    expect(() =>
      renameReplacing("a", "b", () => {
        throw Object.assign(new Error("busy"), { code: "EBUSY" })
      }),
    ).toThrow("busy")
    expect(() =>
      renameReplacing("a", "b", () => {
        throw Object.assign(new Error("gone"), { code: "ENOENT" })
      }),
    ).toThrow("gone")
  })
})
