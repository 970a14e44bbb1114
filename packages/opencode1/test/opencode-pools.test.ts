/** Pools across OpenCode processes of one machine: `round_robin`'s turn counter and rate-limit readings in the state dir. */
import { afterEach, beforeEach, expect, test } from "bun:test"
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { readingOf } from "../../combined-models/src/limits.ts"
import { limitsPath, rotationPath, takeRotation, writeLimitsReading } from "combined-models"
import { resetRuntime, runtime } from "../src/runtime.ts"
import { resetSessions, routeStep } from "../src/session.ts"
import { settleStateFiles } from "../../combined-models/src/state-file.ts"
import { ocModel } from "./opencode-fixtures.ts"

const providers = () => ({
  anthropic: { id: "anthropic", name: "Anthropic", models: { "claude-sonnet-4-5": ocModel("anthropic", "claude-sonnet-4-5") } },
  "github-copilot": { id: "github-copilot", name: "GitHub Copilot", models: { "claude-sonnet-4.5": ocModel("github-copilot", "claude-sonnet-4.5") } },
})
const user = (id: string) => ({ id, model: { providerID: "combined", modelID: "claude-sonnet-4-5" } })
const sonnet = { providerID: "anthropic", modelID: "claude-sonnet-4-5" }

let stateDir: string
beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), "combined-pools-"))
  resetSessions()
})
afterEach(() => {
  resetRuntime()
  rmSync(stateDir, { recursive: true, force: true })
})

/** A fresh OpenCode process: a new runtime over the same state dir, once the last one's writes have landed. */
async function processWith(config: unknown) {
  await settleStateFiles()
  resetRuntime()
  resetSessions()
  runtime().configure({ config, providers: providers(), stateDir })
}

test("round_robin counts turns over processes: each `opencode run` starts at the next provider", async () => {
  const config = { provider_priority: ["anthropic", "github-copilot"], combined_models: { strategy: "round_robin" } }
  const served: string[] = []
  for (const turn of [1, 2, 3]) {
    await processWith(config)
    served.push(routeStep(`s${turn}`, user(`u${turn}`)).providerID)
  }
  expect(served).toEqual(["anthropic", "github-copilot", "anthropic"])
})

test("the turn counter survives a corrupt file, starting again at 0", async () => {
  const path = rotationPath(stateDir)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, "{]")
  expect(takeRotation(path, "g")).toBe(0)
  // The increment is still on its way: this process counts it all the same.
  expect(takeRotation(path, "g")).toBe(1)
  expect(takeRotation(path, "h")).toBe(0)
  await settleStateFiles()
  expect(takeRotation(path, "g")).toBe(2)
})

test("read-ahead in a new process knows what the last one read: it routes around the member near its limit", async () => {
  const config = { provider_priority: ["anthropic", "github-copilot"] }
  await processWith(config)
  const now = Date.now()
  runtime().recordLimits(sonnet, new Headers({ "anthropic-ratelimit-tokens-remaining": "3000", "anthropic-ratelimit-tokens-reset": new Date(now + 40_000).toISOString() }), now)
  await processWith(config)
  const route = routeStep("s1", user("u1"), { tokens: { input: 5_000 } }, { now })
  expect(route.providerID).toBe("github-copilot")
  expect(route.status?.message).toBe("anthropic near its limit, resets in 40 s → github-copilot")
  // A step that fits what is left stays.
  await processWith(config)
  expect(routeStep("s2", user("u2"), { tokens: { input: 1_000 } }, { now }).providerID).toBe("anthropic")
})

test("a newer reading another process wrote wins over this process's older one", async () => {
  const config = { provider_priority: ["anthropic", "github-copilot"] }
  await processWith(config)
  const now = Date.now()
  const reset = new Date(now + 40_000).toISOString()
  runtime().recordLimits(sonnet, new Headers({ "anthropic-ratelimit-tokens-remaining": "90000", "anthropic-ratelimit-tokens-reset": reset }), now)
  // Another process (its own memory, the same file) spends the allowance and writes what is left.
  writeLimitsReading(limitsPath(stateDir), sonnet, readingOf(sonnet, { "anthropic-ratelimit-tokens-remaining": "100", "anthropic-ratelimit-tokens-reset": reset }, now + 1_000))
  await settleStateFiles()
  expect(runtime().limits.headroomOf(sonnet, now + 2_000)?.tokens?.remaining).toBe(100)
  // An older one in the file does not undo this process's newer reading.
  runtime().recordLimits(sonnet, new Headers({ "anthropic-ratelimit-tokens-remaining": "50", "anthropic-ratelimit-tokens-reset": reset }), now + 3_000)
  writeLimitsReading(limitsPath(stateDir), sonnet, readingOf(sonnet, { "anthropic-ratelimit-tokens-remaining": "7", "anthropic-ratelimit-tokens-reset": reset }, now + 2_500))
  await settleStateFiles()
  expect(runtime().limits.headroomOf(sonnet, now + 4_000)?.tokens?.remaining).toBe(50)
})
