/**
 * One overload wave seen by eight `opencode run` processes started together: the shared health file counts it once,
 * with the reason's own cooldown, not an escalation per process. Needs OPENCODE_SRC or OPENCODE_PREPARED (see
 * harness.ts); without them every test here is skipped by name.
 */
import { expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { parseHealthFile } from "../../packages/combined-models/src/health-store.ts"
import { faults } from "../../packages/combined-models/src/simulator/index.ts"
import { createEnv, describeRun, e2e, scriptMain } from "./harness.ts"

const skip = !e2e.enabled
const RUNS = 8

test.skipIf(skip)(
  `${RUNS} processes in one overload wave: one entry, one failure, a cooldown of the reason's base`,
  async () => {
    await using env = await createEnv()
    scriptMain(env.sim, "anthropic", Array.from({ length: RUNS * 3 }, () => ({ fault: faults.overloaded() })))
    scriptMain(env.sim, "github-copilot", Array.from({ length: RUNS }, () => ({ text: "Copilot answered." })))

    // Each process its own data dir: OpenCode's SQLite session store is not made for eight writers starting at once
    // ("database is locked"); the state dir, where the health file lives, stays shared.
    const run = (i: number) => env.run(`Question ${i}.`, { timeoutMs: 150_000, env: { XDG_DATA_HOME: join(env.root, `data-${i}`) } })
    const results = await Promise.all(Array.from({ length: RUNS }, (_, i) => run(i)))
    for (const result of results) {
      expect(result.code, describeRun(result)).toBe(0)
      expect(result.stdout).toContain("Copilot answered.")
    }

    const file = join(env.vars.XDG_STATE_HOME!, "opencode", "combined-models", "health.json")
    const { entries, problem } = parseHealthFile(readFileSync(file, "utf8"))
    expect(problem).toBeUndefined()
    const anthropic = entries.filter((entry) => entry.providerID === "anthropic")
    expect(anthropic).toHaveLength(1)
    expect(anthropic[0]).toMatchObject({ reason: "overloaded", failures: 1 })
    // 30 s base with ±20% jitter, from the wave's first report.
    expect(anthropic[0]!.until - anthropic[0]!.since).toBeLessThanOrEqual(36_000)
  },
  240_000,
)
