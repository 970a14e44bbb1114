import { afterAll, beforeAll, expect, test } from "bun:test"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseHealthFile, parseStoredEntry } from "../src/health-store.ts"
import type { CooldownEntry } from "../src/health.ts"
import { redisAvailable, startRedis } from "./redis-server.ts"
import { RedisClient } from "bun"

const WRITERS = 20
const DURATION_MS = 3_000
let dir: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "combined-models-stress-"))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test(
  `${WRITERS} processes writing, forgetting and reading one health file: exactly the expected entries, none resurrected, one wave counted once`,
  async () => {
    const file = join(dir, "health.json")
    const waveStartedAt = Date.now()
    // Started together once every process has loaded.
    const startAt = Date.now() + 1_500
    const results = await resultsOf(spawnWriters(() => file, startAt, waveStartedAt))

    const { entries, problem } = parseHealthFile(readFileSync(file, "utf8"))
    expect(problem).toBeUndefined()
    expectWritersAgree(results, entries)
  },
  30_000,
)

function spawnWriters(file: (index: number) => string, startAt: number, waveStartedAt: number, redisUrl?: string) {
  return Array.from({ length: WRITERS }, (_, index) =>
    Bun.spawn(
      [process.execPath, join(import.meta.dir, "stress/health-writer.ts"), file(index), String(index), String(startAt), String(DURATION_MS), String(waveStartedAt), ...(redisUrl ? [redisUrl] : [])],
      { stdout: "pipe", stderr: "pipe" },
    ),
  )
}

async function resultsOf(writers: ReturnType<typeof spawnWriters>) {
  return await Promise.all(
    writers.map(async (writer) => {
      const [out, err, code] = await Promise.all([new Response(writer.stdout).text(), new Response(writer.stderr).text(), writer.exited])
      expect(code, err).toBe(0)
      return JSON.parse(out) as { provider: string; rounds: number; active: string[] }
    }),
  )
}

function expectWritersAgree(results: { provider: string; active: string[] }[], entries: readonly CooldownEntry[]) {
    const expected = results.flatMap((result) => result.active.map((modelID) => `${result.provider}/${modelID}`)).sort()
    const stored = entries.filter((entry) => entry.providerID !== "shared").map((entry) => `${entry.providerID}/${entry.modelID}`).sort()
    // A lost write would be missing here; a forgotten entry written back would be extra.
    expect(stored).toEqual(expected)
    const wave = entries.filter((entry) => entry.providerID === "shared")
    expect(wave).toHaveLength(1)
    expect(wave[0]!.failures).toBe(1)
}

test.skipIf(!redisAvailable)(
  `${WRITERS} machines (processes with their own state directories) sharing one Redis: the same guarantees`,
  async () => {
    const redis = await startRedis()
    try {
      const waveStartedAt = Date.now()
      const startAt = Date.now() + 2_500
      const results = await resultsOf(spawnWriters((index) => join(dir, `machine-${index}`, "health.json"), startAt, waveStartedAt, redis.url))
      const client = new RedisClient(redis.url)
      await client.connect()
      const keys = (await client.send("KEYS", ["combined-models:v1:cd:*"])) as string[]
      const values = keys.length ? ((await client.send("MGET", keys)) as string[]) : []
      client.close()
      expectWritersAgree(results, values.map((value) => parseStoredEntry(JSON.parse(value))!))
    } finally {
      await redis.stop()
    }
  },
  60_000,
)
