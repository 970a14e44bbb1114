/**
 * A refused credential, fixed: a 401 from Anthropic moves the turn to Copilot and keeps Anthropic out while the key is
 * the same; `opencode combined` says what brings it back; a new key in opencode.json brings it back on the next run.
 * Needs OPENCODE_SRC or OPENCODE_PREPARED (see harness.ts); without them every test here is skipped by name.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { readFileSync, writeFileSync } from "node:fs"
import { faults } from "../../packages/combined-models/src/simulator/index.ts"
import { createEnv, describeRun, e2e, mainRequests, scriptMain, type Env } from "./harness.ts"

const skip = !e2e.enabled

describe("credentials fixed", () => {
  let env: Env

  beforeAll(async () => {
    if (skip) return
    env = await createEnv()
    scriptMain(env.sim, "anthropic", [{ fault: faults.auth() }, { text: "Anthropic is back with the new key." }])
    scriptMain(env.sim, "github-copilot", [{ text: "Copilot after the 401." }, { text: "Copilot while the key is unchanged." }])
  }, 90_000)
  afterAll(async () => {
    await env?.dispose()
  })

  test.skipIf(skip)(
    "a 401 keeps anthropic out for that key; opencode combined names the fix; a new apiKey brings it back",
    async () => {
      const first = await env.run("First.", { timeoutMs: 60_000 })
      expect(first.code, describeRun(first)).toBe(0)
      expect(first.stdout).toContain("Copilot after the 401.")
      expect(mainRequests(env.sim, "anthropic")).toHaveLength(1)

      const status = await env.opencode(["combined"], { timeoutMs: 30_000 })
      expect(status.code, describeRun(status)).toBe(0)
      expect(status.output).toMatch(/anthropic\/claude-sonnet-4-5.*cooling down \(anthropic rejected the credentials/)
      expect(status.output).toContain("back sooner with opencode auth login anthropic")
      expect(status.output).toContain("provider.anthropic.options.apiKey in opencode.json")

      const unchanged = await env.run("Second.", { timeoutMs: 60_000 })
      expect(unchanged.code, describeRun(unchanged)).toBe(0)
      expect(unchanged.stdout).toContain("Copilot while the key is unchanged.")
      expect(mainRequests(env.sim, "anthropic")).toHaveLength(1)

      // The user puts a new key in opencode.json.
      const config = JSON.parse(readFileSync(env.configPath, "utf8"))
      config.provider.anthropic.options.apiKey = "sk-ant-fixed"
      writeFileSync(env.configPath, JSON.stringify(config, null, 2))
      const fixed = await env.run("Third.", { timeoutMs: 60_000 })
      expect(fixed.code, describeRun(fixed)).toBe(0)
      expect(fixed.stdout).toContain("Anthropic is back with the new key.")
      expect(mainRequests(env.sim, "anthropic")).toHaveLength(2)
    },
    200_000,
  )
})
