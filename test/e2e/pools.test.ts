/**
 * Pools that route before they fail, in a real patched OpenCode: a second account of a provider
 * (`combined_models.accounts`), `round_robin`, limits read ahead from the rate-limit headers, and the opt-in
 * context-window fallback. Every provider through its own SDK: the account is Anthropic's, so it speaks Anthropic's
 * wire through `@ai-sdk/anthropic`. Needs OPENCODE_SRC or OPENCODE_PREPARED (see harness.ts); without them every test
 * here is skipped by name.
 */
import { expect, test } from "bun:test"
import { faults, startSimulator } from "../../packages/combined-models/src/simulator/index.ts"
import { createEnv, describeRun, e2e, lastAssistant, mainRequests, opencodeConfig, PRIORITY, scriptMain, WIRES } from "./harness.ts"

const skip = !e2e.enabled
const TURN_MS = 120_000

test.skipIf(skip)(
  "two accounts of one provider: the second serves when the first is rate-limited, and opencode combined shows both",
  async () => {
    await using sim = await startSimulator()
    for (const id of PRIORITY) sim.addProvider(id, WIRES[id])
    sim.addProvider("anthropic-work", "anthropic")
    const base = opencodeConfig(sim)
    await using env = await createEnv({
      simulator: sim,
      env: { ANTHROPIC_WORK_KEY: "sk-ant-work-loopback" },
      config: {
        provider_priority: ["anthropic", "anthropic-work", "github-copilot", "amazon-bedrock", "openrouter"],
        provider: {
          ...(base.provider as Record<string, unknown>),
          // The account's own key, the way OpenCode reads any provider's: here through its {env:…} substitution.
          "anthropic-work": { options: { baseURL: sim.baseURL("anthropic-work"), apiKey: "{env:ANTHROPIC_WORK_KEY}" } },
        },
        combined_models: { accounts: { "anthropic-work": { provider: "anthropic" } } },
      },
    })
    scriptMain(env.sim, "anthropic", [{ fault: faults.rateLimit({ retryAfter: 600 }) }])
    sim.script("anthropic-work", [{ text: "The work account answered." }], { match: (request) => Array.isArray((request.body as { tools?: unknown })?.tools) })

    const run = await env.run("Say something.", { timeoutMs: 90_000 })
    expect(run.code, describeRun(run)).toBe(0)
    expect(run.stdout).toContain("The work account answered.")
    expect(run.output).toContain("anthropic rate-limited, retry in 10 min → anthropic-work")
    expect(mainRequests(sim, "anthropic")).toHaveLength(1)
    // Only the account was asked next: Copilot, further down, got nothing.
    expect(mainRequests(sim, "github-copilot")).toHaveLength(0)
    const session = await env.exportSession(await env.latestSession())
    expect(lastAssistant(session).info.providerID).toBe("anthropic-work")

    const status = await env.opencode(["combined"], { timeoutMs: 60_000 })
    expect(status.code, describeRun(status)).toBe(0)
    expect(status.stdout).toMatch(/\d\. anthropic\/claude-sonnet-4-5 .*cooling down \(anthropic rate-limited/)
    expect(status.stdout).toMatch(/\d\. anthropic-work\/claude-sonnet-4-5 \(Anthropic \(anthropic-work\)\) +healthy/)
  },
  TURN_MS * 2,
)

test.skipIf(skip)(
  "round_robin: each turn starts at the next provider, across opencode run processes",
  async () => {
    await using env = await createEnv({
      config: { provider_priority: ["anthropic", "github-copilot"], combined_models: { strategy: "round_robin", exclude: ["amazon-bedrock", "openrouter"] } },
    })
    scriptMain(env.sim, "anthropic", [{ text: "Anthropic, turn one." }, { text: "Anthropic, turn three." }])
    scriptMain(env.sim, "github-copilot", [{ text: "Copilot, turn two." }])
    const texts: string[] = []
    for (const prompt of ["One.", "Two.", "Three."]) {
      const run = await env.run(prompt, { timeoutMs: 90_000 })
      expect(run.code, describeRun(run)).toBe(0)
      texts.push(run.stdout)
    }
    expect(texts[0]).toContain("Anthropic, turn one.")
    expect(texts[1]).toContain("Copilot, turn two.")
    expect(texts[2]).toContain("Anthropic, turn three.")
    expect(mainRequests(env.sim, "anthropic")).toHaveLength(2)
    expect(mainRequests(env.sim, "github-copilot")).toHaveLength(1)

    const status = await env.opencode(["combined"], { timeoutMs: 60_000 })
    expect(status.stdout).toContain("(order: strategy round_robin: each turn starts at the next healthy provider of this order)")
  },
  TURN_MS * 3,
)

test.skipIf(skip)(
  "read-ahead: a step that needs more than anthropic has left goes to Copilot before any 429, and says why",
  async () => {
    await using env = await createEnv()
    scriptMain(env.sim, "github-copilot", [{ text: "Copilot took the step that would not fit." }])
    const first = await env.run("Start.", { timeoutMs: 90_000 })
    expect(first.code, describeRun(first)).toBe(0)
    // What a main step costs here (system prompt, tools, history), measured on the first one; then a budget with room
    // for about one and a half more: the next step fits, the one after does not.
    const cost = Math.ceil(JSON.stringify(mainRequests(env.sim, "anthropic")[0]!.body).length / 4)
    env.sim.budget("anthropic", { tokens: Math.ceil(cost * 1.6), windowMs: 600_000 })
    const sessionID = await env.latestSession()

    const second = await env.run("Go on.", { timeoutMs: 90_000, session: sessionID })
    expect(second.code, describeRun(second)).toBe(0)
    expect(mainRequests(env.sim, "github-copilot")).toHaveLength(0)

    const third = await env.run("And on.", { timeoutMs: 90_000, session: sessionID })
    expect(third.code, describeRun(third)).toBe(0)
    expect(third.stdout).toContain("Copilot took the step that would not fit.")
    expect(third.output).toMatch(/anthropic near its limit, resets in \d+ (s|min) → github-copilot/)
    expect(env.sim.refusals("anthropic")).toBe(0)

    const status = await env.opencode(["combined"], { timeoutMs: 60_000 })
    expect(status.stdout).toMatch(/anthropic\/claude-sonnet-4-5 .*healthy; [\d.]+k? of [\d.]+k tokens left, resets in/)
  },
  TURN_MS * 3,
)

test.skipIf(skip)(
  "read-ahead from a new session's first step: what every request carries (system prompt, tools) is counted, so anthropic with too little input room left is passed over",
  async () => {
    await using env = await createEnv()
    scriptMain(env.sim, "github-copilot", [{ text: "Copilot took the new session's first step." }])
    const first = await env.run("Start.", { timeoutMs: 90_000 })
    expect(first.code, describeRun(first)).toBe(0)
    // What a main step costs here, measured on the first one: nearly all of it is the system prompt and the tools.
    const cost = Math.ceil(JSON.stringify(mainRequests(env.sim, "anthropic")[0]!.body).length / 4)
    env.sim.budget("anthropic", { tokens: Math.ceil(cost * 1.6), windowMs: 600_000 })
    // The first session goes on and spends most of the allowance; anthropic's headers say what is left.
    const second = await env.run("Go on.", { timeoutMs: 90_000, session: await env.latestSession() })
    expect(second.code, describeRun(second)).toBe(0)
    expect(mainRequests(env.sim, "anthropic")).toHaveLength(2)

    // A new session: no conversation yet, but its request is as big as the first one was.
    const fresh = await env.run("A new question.", { timeoutMs: 90_000 })
    expect(fresh.code, describeRun(fresh)).toBe(0)
    expect(fresh.stdout).toContain("Copilot took the new session's first step.")
    expect(fresh.output).toMatch(/anthropic near its limit, resets in \d+ (s|min) → github-copilot/)
    expect(mainRequests(env.sim, "anthropic")).toHaveLength(2)
    expect(env.sim.refusals("anthropic")).toBe(0)
  },
  TURN_MS * 3,
)

test.skipIf(skip)(
  'context-window fallback: "prompt is too long" on a 200k member moves the turn to the 1M member; the next turn comes back',
  async () => {
    await using env = await createEnv({ config: { combined_models: { failover_on: ["rate_limit", "quota", "overloaded", "server_error", "network", "timeout", "auth", "context_overflow"] } } })
    scriptMain(env.sim, "anthropic", [{ fault: faults.contextLength() }, { text: "Anthropic again, the conversation fits." }])
    scriptMain(env.sim, "openrouter", [{ text: "OpenRouter's 1M window took the long conversation." }])

    const long = await env.run("A very long conversation.", { timeoutMs: 90_000 })
    expect(long.code, describeRun(long)).toBe(0)
    expect(long.stdout).toContain("OpenRouter's 1M window took the long conversation.")
    expect(long.output).toContain("the conversation no longer fits anthropic (200k) → openrouter (1M)")
    // Copilot (168k) and Bedrock (200k) are no larger: the smallest window that is larger serves.
    expect(mainRequests(env.sim, "github-copilot")).toHaveLength(0)
    expect(mainRequests(env.sim, "amazon-bedrock")).toHaveLength(0)
    const sessionID = await env.latestSession()
    const session = await env.exportSession(sessionID)
    // No compaction ran: the turn moved instead.
    expect(session.messages.some((message) => message.info.summary === true)).toBe(false)

    const next = await env.run("A short one now.", { timeoutMs: 90_000, session: sessionID })
    expect(next.code, describeRun(next)).toBe(0)
    expect(next.stdout).toContain("Anthropic again, the conversation fits.")

    // The overflow cooled nothing down.
    const status = await env.opencode(["combined"], { timeoutMs: 60_000 })
    expect(status.stdout).toMatch(/\d\. anthropic\/claude-sonnet-4-5 \(Anthropic\) +healthy\n/)
  },
  TURN_MS * 3,
)
