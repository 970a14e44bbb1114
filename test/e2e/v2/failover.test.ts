/**
 * The OpenCode 2 edition end to end: the released binary, the plugin installed with the README's command, each
 * provider on its own wire on the loopback. A failure of the first member is served by the next inside the same
 * step: `opencode run` exits 0, shows no error, and the answer is the next member's.
 */
import { describe, expect, test } from "bun:test"
import { faults } from "../../../packages/combined-models/src/simulator/index.ts"
import { skipReason, v2Env, withTools } from "./harness.ts"

/** One `opencode run` takes 1–3 s here; the budget is for a loaded CI machine. */
const TIMEOUT = 120_000
const suite = skipReason ? describe.skip : describe
const name = (title: string) => (skipReason ? `${title} (skipped: ${skipReason})` : title)

suite(name("OpenCode 2 plugin: same-step failover on the real binary"), () => {
  test("a 429 from Anthropic is served by OpenRouter in the same step, exit 0, no error", async () => {
    await using env = await v2Env()
    env.sim.script("anthropic", [{ fault: faults.rateLimit({ retryAfter: 30 }) }], { match: withTools })
    env.sim.script("openrouter", [{ text: "Served by the second member." }], { match: withTools })
    const result = await env.run("say hi")
    expect(result.errors).toEqual([])
    expect(result.exitCode).toBe(0)
    expect(result.texts.join("")).toBe("Served by the second member.")
    expect(env.requests("anthropic").filter(withTools)).toHaveLength(1)
    expect(env.requests("openrouter").filter(withTools)).toHaveLength(1)
    // Its own model id on its own wire.
    expect(env.requests("openrouter").filter(withTools)[0]!.model).toBe("anthropic/claude-sonnet-4.5")
  }, TIMEOUT)
})
