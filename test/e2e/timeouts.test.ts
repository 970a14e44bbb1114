/**
 * combined_models.timeouts apply to requests failover routes, and only to those: the same slow provider answers a
 * model picked directly, as in stock OpenCode, and is failed over from when it serves a combined model. Needs
 * OPENCODE_SRC or OPENCODE_PREPARED (see harness.ts); without them every test here is skipped by name.
 */
import { expect, test } from "bun:test"
import { startSimulator } from "../../packages/combined-models/src/simulator/index.ts"
import { createEnv, describeRun, e2e, isMainRequest, mainRequests, opencodeConfig, PRIORITY, scriptMain, WIRES } from "./harness.ts"

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

test.skipIf(skip)(
  "an OpenCode Zen member times out too (OpenCode names the session to it in x-opencode-session)",
  async () => {
    await using sim = await startSimulator()
    for (const id of PRIORITY) sim.addProvider(id, WIRES[id])
    // Zen serves Claude over Anthropic's wire (the catalog's Claude models on opencode use @ai-sdk/anthropic). Its
    // Sonnet 4.5 is not loaded at the pin, so the combined model here is Sonnet 4.6.
    sim.addProvider("opencode", "anthropic")
    const base = opencodeConfig(sim)
    await using env = await createEnv({
      simulator: sim,
      config: {
        ...timeouts,
        provider_priority: ["opencode", "github-copilot"],
        provider: {
          ...(base.provider as Record<string, unknown>),
          opencode: { options: { baseURL: sim.baseURL("opencode"), apiKey: "zen-loopback" } },
        },
      },
    })
    sim.script("opencode", [SLOW, SLOW], { match: isMainRequest })
    scriptMain(sim, "github-copilot", [{ text: "Copilot, on time." }])

    const run = await env.run("Quickly, please.", { model: "combined/claude-sonnet-4-6", timeoutMs: 90_000 })
    expect(run.code, describeRun(run)).toBe(0)
    const zen = sim.requests("opencode").filter(isMainRequest)
    expect(zen.length, `${describeRun(run)}\nrequests to opencode: ${sim.requests("opencode").length}`).toBeGreaterThan(0)
    expect(zen[0]!.headers["x-opencode-session"]).toBeDefined()
    expect(run.stdout).toContain("Copilot, on time.")
    expect(run.output).toMatch(/↪.*opencode timed out/)
  },
  200_000,
)
