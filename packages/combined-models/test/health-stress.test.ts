import { afterAll, beforeAll, expect, test } from "bun:test"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseHealthFile } from "../src/health-store.ts"

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
    const writers = Array.from({ length: WRITERS }, (_, index) =>
      Bun.spawn([process.execPath, join(import.meta.dir, "stress/health-writer.ts"), file, String(index), String(startAt), String(DURATION_MS), String(waveStartedAt)], {
        stdout: "pipe",
        stderr: "pipe",
      }),
    )
    const results = await Promise.all(
      writers.map(async (writer) => {
        const [out, err, code] = await Promise.all([new Response(writer.stdout).text(), new Response(writer.stderr).text(), writer.exited])
        expect(code, err).toBe(0)
        return JSON.parse(out) as { provider: string; rounds: number; active: string[] }
      }),
    )

    const { entries, problem } = parseHealthFile(readFileSync(file, "utf8"))
    expect(problem).toBeUndefined()
    const expected = results.flatMap((result) => result.active.map((modelID) => `${result.provider}/${modelID}`)).sort()
    const stored = entries.filter((entry) => entry.providerID !== "shared").map((entry) => `${entry.providerID}/${entry.modelID}`).sort()
    // A lost write would be missing here; a forgotten entry written back would be extra.
    expect(stored).toEqual(expected)
    const wave = entries.filter((entry) => entry.providerID === "shared")
    expect(wave).toHaveLength(1)
    expect(wave[0]!.failures).toBe(1)
  },
  30_000,
)
