/**
 * Fallback chains through `opencode run`: when every member of combined/claude-sonnet-4-5 fails in a turn, the turn goes
 * on with the agent's `fallback_models` (the `"*"` entry for agents without their own), and the next turn, once the
 * cooldowns are over, is served by the selected model again. Needs OPENCODE_SRC or OPENCODE_PREPARED (see harness.ts);
 * without them every test here is skipped by name.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { faults, type RecordedRequest } from "../../packages/combined-models/src/simulator/index.ts"
import {
  assistantMessages,
  banners,
  createEnv,
  e2e,
  isMainRequest,
  MODEL,
  PRIORITY,
  textOf,
  type Env,
  type RunResult,
  describeRun,
  lastAssistant,
} from "./harness.ts"

const skip = !e2e.enabled
const TURN_MS = 90_000
/** Retry-After on every Sonnet member: short, so the next turn can wait it out. */
const RETRY_AFTER_S = 2

/** The model id each member of the Sonnet group sends on the wire. */
const SONNET_WIRE_MODEL: Record<(typeof PRIORITY)[number], string> = {
  anthropic: "claude-sonnet-4-5",
  "github-copilot": "claude-sonnet-4.5",
  "amazon-bedrock": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
  openrouter: "anthropic/claude-sonnet-4.5",
}

const isSonnet = (request: RecordedRequest) => /sonnet/.test(request.model ?? "")
const sonnetMain = (env: Env, id: (typeof PRIORITY)[number]) =>
  env.sim.requests(id).filter((request) => isMainRequest(request) && isSonnet(request))
const mainFor = (env: Env, id: (typeof PRIORITY)[number], model: string) =>
  env.sim.requests(id).filter((request) => isMainRequest(request) && request.model === model)

/** One 429 (Retry-After 2 s) for the first main Sonnet request each member gets. */
function failEverySonnetMemberOnce(env: Env): void {
  for (const id of PRIORITY)
    env.sim.script(id, [{ fault: faults.rateLimit({ retryAfter: RETRY_AFTER_S }) }], {
      match: (request) => isMainRequest(request) && isSonnet(request),
    })
}

/** No same-member retry on a short Retry-After: every member is asked exactly once before the chain moves on. */
function chainConfig(agent: Record<string, unknown>): Record<string, unknown> {
  return { agent, combined_models: { retries_before_failover: 0 } }
}

describe('chain: "*" fallback_models after every Sonnet member fails', () => {
  let env: Env
  let first: RunResult
  let sessionID: string

  beforeAll(async () => {
    if (skip) return
    env = await createEnv({ config: chainConfig({ "*": { fallback_models: ["openrouter/openai/gpt-5"] } }) })
    failEverySonnetMemberOnce(env)
    env.sim.script("openrouter", [{ text: "GPT-5 at OpenRouter carries the turn." }], {
      match: (request) => isMainRequest(request) && request.model === "openai/gpt-5",
    })
    first = await env.run("Which model is answering?", { timeoutMs: 60_000 })
    sessionID = await env.latestSession()
  }, TURN_MS)
  afterAll(async () => {
    await env?.dispose()
  })

  test.skipIf(skip)("the turn goes on with the chain's model: export, requests, notice and banner", async () => {
    expect(first.code, describeRun(first)).toBe(0)
    expect(first.stdout).toContain("GPT-5 at OpenRouter carries the turn.")

    // Every Sonnet member was asked exactly once (no same-member retry), then the chain's model once.
    for (const id of PRIORITY) {
      const requests = sonnetMain(env, id)
      expect(requests, id).toHaveLength(1)
      expect(requests[0]?.model, id).toBe(SONNET_WIRE_MODEL[id])
    }
    expect(mainFor(env, "openrouter", "openai/gpt-5")).toHaveLength(1)

    const session = await env.exportSession(sessionID)
    const user = session.messages.find((m) => m.info.role === "user")
    expect(user?.info.model).toMatchObject({ providerID: "combined", modelID: "claude-sonnet-4-5" })
    const answer = lastAssistant(session)
    expect(answer.info).toMatchObject({ providerID: "openrouter", modelID: "openai/gpt-5", finish: "stop" })
    expect(answer.info.error).toBeUndefined()
    expect(textOf(answer)).toBe("GPT-5 at OpenRouter carries the turn.")
    // The failed Sonnet attempts left nothing behind.
    expect(assistantMessages(session).map((m) => `${m.info.providerID}/${m.info.modelID}`)).toEqual(["openrouter/openai/gpt-5"])

    // What the user is told: the last member's failure, the move down the chain, and the banner of the chain's model.
    expect(first.output).toMatch(/↪[^\n]*openrouter[^\n]*has no provider left → GPT-5 \(openrouter\)/)
    expect(first.output).toMatch(/↪[^\n]*Claude Sonnet 4\.5 has no provider left/)
    expect(banners(first.output).at(-1)).toMatch(/^> build · openai\/gpt-5 \(openrouter\)$/)
  })

  test.skipIf(skip)(
    "the next turn (run -s, no --model) goes back to combined/claude-sonnet-4-5 on anthropic once the cooldowns are over",
    async () => {
      env.sim.script("anthropic", [{ text: "Sonnet is back on anthropic." }], {
        match: (request) => isMainRequest(request) && isSonnet(request),
      })
      // Wait out the Retry-After of the last Sonnet failure (with a margin).
      const lastFailure = Math.max(...PRIORITY.map((id) => sonnetMain(env, id).at(-1)?.time ?? 0))
      const waitMs = lastFailure + RETRY_AFTER_S * 1000 + 1_000 - Date.now()
      if (waitMs > 0) await Bun.sleep(waitMs)

      const gpt5Before = mainFor(env, "openrouter", "openai/gpt-5").length
      const second = await env.opencode(["run", "Are you back?", "-s", sessionID], { timeoutMs: 60_000 })
      expect(second.code, describeRun(second)).toBe(0)
      expect(second.stdout).toContain("Sonnet is back on anthropic.")
      expect(second.output).not.toContain("↪")
      expect(banners(second.output)).toEqual(["> build · claude-sonnet-4-5 (anthropic)"])
      expect(sonnetMain(env, "anthropic")).toHaveLength(2)
      for (const id of ["github-copilot", "amazon-bedrock", "openrouter"] as const) expect(sonnetMain(env, id), id).toHaveLength(1)
      expect(mainFor(env, "openrouter", "openai/gpt-5")).toHaveLength(gpt5Before)

      const session = await env.exportSession(sessionID)
      const users = session.messages.filter((m) => m.info.role === "user")
      expect(users).toHaveLength(2)
      // The selection stayed combined/claude-sonnet-4-5: the chain's model served a turn, it was not selected.
      expect(users[1]?.info.model).toMatchObject({ providerID: "combined", modelID: "claude-sonnet-4-5" })
      const answer = lastAssistant(session)
      expect(answer.info).toMatchObject({ providerID: "anthropic", modelID: "claude-sonnet-4-5", finish: "stop" })
      expect(textOf(answer)).toBe("Sonnet is back on anthropic.")
      expect(assistantMessages(session).map((m) => `${m.info.providerID}/${m.info.modelID}`)).toEqual([
        "openrouter/openai/gpt-5",
        "anthropic/claude-sonnet-4-5",
      ])
    },
    TURN_MS,
  )
})

test.skipIf(skip)(
  'chain: an agent with its own fallback_models (plan) uses them, not "*"',
  async () => {
    await using env = await createEnv({
      config: chainConfig({
        "*": { fallback_models: ["openrouter/openai/gpt-5"] },
        plan: { fallback_models: ["github-copilot/gpt-4.1"] },
      }),
    })
    failEverySonnetMemberOnce(env)
    env.sim.script("github-copilot", [{ text: "GPT-4.1 on Copilot, from plan's own chain." }], {
      match: (request) => isMainRequest(request) && request.model === "gpt-4.1",
    })

    const result = await env.run("Plan something.", { extra: ["--agent", "plan"], timeoutMs: 60_000 })
    expect(result.code, describeRun(result)).toBe(0)
    expect(result.stdout).toContain("GPT-4.1 on Copilot, from plan's own chain.")
    for (const id of PRIORITY) expect(sonnetMain(env, id), id).toHaveLength(1)
    expect(mainFor(env, "github-copilot", "gpt-4.1")).toHaveLength(1)
    // The "*" chain was not used.
    expect(mainFor(env, "openrouter", "openai/gpt-5")).toHaveLength(0)

    const session = await env.exportSession(await env.latestSession())
    const user = session.messages.find((m) => m.info.role === "user")
    expect(user?.info).toMatchObject({ agent: "plan", model: { providerID: "combined", modelID: "claude-sonnet-4-5" } })
    const answer = lastAssistant(session)
    expect(answer.info).toMatchObject({ providerID: "github-copilot", modelID: "gpt-4.1", finish: "stop" })
    expect(assistantMessages(session)).toHaveLength(1)
    expect(result.output).toMatch(/↪[^\n]*has no provider left → GPT-4\.1 \(github-copilot\)/)
    expect(banners(result.output).at(-1)).toMatch(/^> plan · gpt-4\.1 \(github-copilot\)$/)
  },
  TURN_MS,
)

test.skipIf(skip)(
  'chain: an agent without its own fallback_models (build, beside plan\'s) uses "*"',
  async () => {
    await using env = await createEnv({
      config: chainConfig({
        "*": { fallback_models: ["openrouter/openai/gpt-5"] },
        plan: { fallback_models: ["github-copilot/gpt-4.1"] },
      }),
    })
    failEverySonnetMemberOnce(env)
    env.sim.script("openrouter", [{ text: "GPT-5 from the default chain." }], {
      match: (request) => isMainRequest(request) && request.model === "openai/gpt-5",
    })

    const result = await env.run("Build something.", { model: MODEL, timeoutMs: 60_000 })
    expect(result.code, describeRun(result)).toBe(0)
    expect(result.stdout).toContain("GPT-5 from the default chain.")
    expect(mainFor(env, "github-copilot", "gpt-4.1")).toHaveLength(0)
    expect(mainFor(env, "openrouter", "openai/gpt-5")).toHaveLength(1)
    const answer = lastAssistant(await env.exportSession(await env.latestSession()))
    expect(answer.info).toMatchObject({ providerID: "openrouter", modelID: "openai/gpt-5" })
    expect(banners(result.output).at(-1)).toMatch(/^> build · openai\/gpt-5 \(openrouter\)$/)
  },
  TURN_MS,
)
