/**
 * Many sessions failing at once on one provider: the registry keeps one cooldown per member, every session
 * finishes on the next provider, and nothing sent afterwards goes to the cooled one.
 */
import { expect, test } from "bun:test"
import { resolveConfig } from "../packages/combined-models/src/config.ts"
import { startRehearsal } from "../packages/combined-models/src/driver/rehearsal.ts"
import { faults } from "../packages/combined-models/src/simulator/index.ts"
import { sonnetGroup } from "../packages/combined-models/test/fixtures.ts"

test("20 concurrent sessions hit one rate-limit wave: one cooldown, every session answered", async () => {
  const resolved = resolveConfig({ provider_priority: ["anthropic", "github-copilot", "openrouter"] })
  if (!resolved.ok) throw new Error("config")
  const full = sonnetGroup()
  const group = { ...full, members: full.members.filter((m) => m.providerID !== "amazon-bedrock") }
  await using stage = await startRehearsal({ groups: [group], config: resolved.config, sleep: async () => {} })
  stage.sim.script("anthropic", Array.from({ length: 20 }, () => ({ fault: faults.rateLimit({ retryAfter: 30 }) })))
  stage.sim.script(
    "github-copilot",
    Array.from({ length: 20 }, (_, index) => ({ text: `Answer ${index}.`, chunkDelayMs: index % 3 })),
  )

  const sessions = Array.from({ length: 20 }, () => stage.session(group.id))
  const results = await Promise.all(sessions.map((session, index) => session.runTurn({ messages: [{ role: "user", content: `q${index}` }] })))

  expect(results.every((result) => result.status === "answered")).toBe(true)
  expect(new Set(results.map((result) => result.servedBy?.providerID))).toEqual(new Set(["github-copilot"]))
  // Each answer is one provider's whole answer.
  expect(results.map((result) => result.text).every((text) => /^Answer \d+\.$/.test(text))).toBe(true)
  const entries = stage.health.entries()
  expect(entries).toHaveLength(1)
  expect(entries[0]).toMatchObject({ providerID: "anthropic", reason: "rate_limit", failures: 1 })

  // Every session's next turn skips anthropic without a request.
  const before = stage.sim.requests("anthropic").length
  await Promise.all(sessions.map((session) => session.runTurn({ messages: [{ role: "user", content: "again" }] })))
  expect(stage.sim.requests("anthropic").length).toBe(before)
})
