/**
 * combined_models.timeouts apply to requests failover routes, and only to those: the same slow provider answers a
 * model picked directly, as in stock OpenCode, and is failed over from when it serves a combined model. Needs
 * OPENCODE_SRC or OPENCODE_PREPARED (see harness.ts); without them every test here is skipped by name.
 */
import { expect, test } from "bun:test"
import { createEnv, describeRun, e2e, mainRequests, scriptMain } from "./harness.ts"

const skip = !e2e.enabled
const timeouts = { combined_models: { timeouts: { first_byte: "1500ms", stall: "1500ms" } } }
const SLOW = { text: "Slow but sure.", chunkDelayMs: 2_500 }

test.skipIf(skip)(
  "a model picked directly waits for its slow provider; the combined model fails over from the same provider",
  async () => {
    await using env = await createEnv({ config: timeouts })
    scriptMain(env.sim, "anthropic", [SLOW, SLOW])
    scriptMain(env.sim, "github-copilot", [{ text: "Copilot, on time." }])

    const direct = await env.run("Take your time.", { model: "anthropic/claude-sonnet-4-5", timeoutMs: 90_000 })
    expect(direct.code, describeRun(direct)).toBe(0)
    expect(direct.stdout).toContain("Slow but sure.")
    expect(mainRequests(env.sim, "github-copilot")).toHaveLength(0)

    const combined = await env.run("Quickly, please.", { timeoutMs: 90_000 })
    expect(combined.code, describeRun(combined)).toBe(0)
    expect(combined.stdout).toContain("Copilot, on time.")
    expect(combined.output).toMatch(/↪.*anthropic timed out/)
  },
  200_000,
)
