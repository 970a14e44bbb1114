/**
 * Routing each step in OpenCode 2 as the 1.x edition routes it, end to end on the released binary: rate-limit headers
 * read ahead (a step that would not fit what a member has left goes to the next one before any 429), `least_limited`,
 * `sticky: "session"` across `opencode run --session` processes, and `round_robin` keeping a turn's tool steps on one
 * provider. The headers come from the loopback's token budgets, named as each wire's API names them.
 */
import { describe, expect, test } from "bun:test"
import { readFileSync, writeFileSync } from "node:fs"
import { faults } from "../../../packages/combined-models/src/simulator/index.ts"
import { skipReason, v2Env, withTools, type V2Env } from "./harness.ts"

const TIMEOUT = 240_000
const suite = skipReason ? describe.skip : describe
const name = (title: string) => (skipReason ? `${title} (skipped: ${skipReason})` : title)

/** The steps a provider was sent (not OpenCode's title requests). */
const steps = (env: V2Env, provider: "anthropic" | "openrouter") => env.requests(provider).filter(withTools)

/** The plugin's options in the config, changed between runs as a user edits them. */
function setOptions(env: V2Env, change: (combined: Record<string, unknown>) => void) {
  const config = JSON.parse(readFileSync(env.configFile, "utf8"))
  const entry = config.plugins.find((plugin: unknown) => typeof plugin === "object")
  entry.options.combined_models ??= {}
  change(entry.options.combined_models)
  writeFileSync(env.configFile, JSON.stringify(config, null, 2))
}

suite(name("OpenCode 2 plugin: each step routed by the engine on the real binary"), () => {
  test("read-ahead: a step that needs more than anthropic's headers say it has left goes to the next member before any 429, and the status view says why", async () => {
    await using env = await v2Env()
    env.sim.script("openrouter", [{ text: "OpenRouter took the step that would not fit." }], { match: withTools })
    const first = await env.run("Start.")
    expect({ exit: first.exitCode, errors: first.errors }).toEqual({ exit: 0, errors: [] })
    // What a step costs here (system prompt, tools, history), measured on the first one; then an allowance with room
    // for about one and a half more: the next step fits, the one after does not.
    const cost = Math.ceil(JSON.stringify(steps(env, "anthropic")[0]!.body).length / 4)
    env.sim.budget("anthropic", { tokens: Math.ceil(cost * 1.6), windowMs: 600_000 })

    const second = await env.run("Go on.", { session: first.sessionID })
    expect({ exit: second.exitCode, errors: second.errors }).toEqual({ exit: 0, errors: [] })
    expect(steps(env, "anthropic")).toHaveLength(2)

    // A process of its own: what anthropic has left comes from the reading the last one wrote.
    const third = await env.run("And on.", { session: first.sessionID })
    expect({ exit: third.exitCode, errors: third.errors }).toEqual({ exit: 0, errors: [] })
    expect(third.texts.join("")).toBe("OpenRouter took the step that would not fit.")
    expect(steps(env, "anthropic")).toHaveLength(2)
    expect(env.sim.refusals("anthropic")).toBe(0)
    expect(env.status(first.sessionID).text).toMatch(/anthropic near its limit, resets in \d+ (s|min) → openrouter/)
  }, TIMEOUT)

  test("least_limited: a new turn goes to the member whose headers say it has the most left, against the priority order", async () => {
    await using env = await v2Env({ options: { combined_models: { strategy: "round_robin" } } })
    // Anthropic's allowance is a tenth of OpenRouter's: after one step each, OpenRouter has the larger share left.
    env.sim.budget("anthropic", { tokens: 400_000, windowMs: 600_000 })
    env.sim.budget("openrouter", { tokens: 4_000_000, windowMs: 600_000 })
    env.sim.script("anthropic", [{ text: "Anthropic's turn." }], { match: withTools })
    env.sim.script("openrouter", [{ text: "OpenRouter's turn." }, { text: "OpenRouter has the most left." }], { match: withTools })
    // round_robin reads both members' headers: one turn each.
    expect((await env.run("One.")).texts.join("")).toBe("Anthropic's turn.")
    expect((await env.run("Two.")).texts.join("")).toBe("OpenRouter's turn.")

    setOptions(env, (combined) => void (combined.strategy = "least_limited"))
    const third = await env.run("Three.")
    expect({ exit: third.exitCode, errors: third.errors }).toEqual({ exit: 0, errors: [] })
    // priority would say anthropic, and so would round_robin's third turn.
    expect(third.texts.join("")).toBe("OpenRouter has the most left.")
    expect(steps(env, "anthropic")).toHaveLength(1)
  }, TIMEOUT)

  test('sticky "session": the session\'s next turn, a process of its own, stays on the member that served it though the first one is back', async () => {
    // retries_before_failover 0: a short Retry-After moves the step on instead of waiting for the same member.
    await using env = await v2Env({ options: { combined_models: { sticky: "session", retries_before_failover: 0 } } })
    env.sim.script("anthropic", [{ fault: faults.rateLimit({ retryAfter: 1 }) }, { text: "Anthropic, for a new session." }], { match: withTools })
    env.sim.script("openrouter", [{ text: "OpenRouter took over." }, { text: "OpenRouter again: the session sticks." }], { match: withTools })
    const first = await env.run("Start.")
    expect(first.texts.join("")).toBe("OpenRouter took over.")
    // Anthropic's Retry-After has passed: it is healthy again.
    await Bun.sleep(2_500)
    expect(env.status().text).not.toMatch(/anthropic\/claude-sonnet-4-5 .*rate-limited/)

    const second = await env.run("Go on.", { session: first.sessionID })
    expect({ exit: second.exitCode, errors: second.errors }).toEqual({ exit: 0, errors: [] })
    expect(second.texts.join("")).toBe("OpenRouter again: the session sticks.")
    expect(steps(env, "anthropic")).toHaveLength(1)
    // Another session starts where the order says.
    expect((await env.run("Something else.")).texts.join("")).toBe("Anthropic, for a new session.")
  }, TIMEOUT)

  test("round_robin: a turn's tool steps stay on the provider the turn started at; the next turn goes to the next one", async () => {
    await using env = await v2Env({ options: { combined_models: { strategy: "round_robin" } } })
    env.sim.script(
      "anthropic",
      [{ toolCall: { name: "shell", input: { command: "echo ran >> ran.txt", description: "append a line" } } }, { text: "Anthropic finished the turn." }],
      { match: withTools },
    )
    env.sim.script("openrouter", [{ text: "OpenRouter's turn." }], { match: withTools })
    const first = await env.run("Append a line to ran.txt.")
    expect({ exit: first.exitCode, errors: first.errors }).toEqual({ exit: 0, errors: [] })
    expect(first.texts.join("")).toBe("Anthropic finished the turn.")
    expect(steps(env, "anthropic")).toHaveLength(2)
    expect(steps(env, "openrouter")).toHaveLength(0)
    expect((await env.run("Next.", { session: first.sessionID })).texts.join("")).toBe("OpenRouter's turn.")
  }, TIMEOUT)
})
