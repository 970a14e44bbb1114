/**
 * What a failure reaches, on the patched binary (issue 19, items 1 and 4): a refusal that names one model cools that
 * member alone; a key missing in this shell cools nothing; when every member is out for longer than max_wait the error
 * comes at once and nobody is asked. Needs OPENCODE_SRC or OPENCODE_PREPARED (see harness.ts); without them every test
 * here is skipped by name.
 */
import { expect, test } from "bun:test"
import { readFileSync, writeFileSync } from "node:fs"
import { faults, type SimStep } from "../../packages/combined-models/src/simulator/index.ts"
import { createEnv, describeRun, e2e, isMainRequest, lastAssistant, mainRequests, scriptMain } from "./harness.ts"

const skip = !e2e.enabled
const TEST_MS = 300_000

/** The same step for every request of a turn, so a same-member retry cannot rescue it. */
const always = (step: SimStep) => Array.from({ length: 4 }, () => structuredClone(step))

test.skipIf(skip)(
  "Copilot answers model_not_supported: anthropic serves the turn, and the next turn does not ask Copilot for this model",
  async () => {
    await using env = await createEnv({ config: { provider_priority: ["github-copilot", "anthropic", "amazon-bedrock", "openrouter"] } })
    scriptMain(env.sim, "github-copilot", always({ fault: faults.modelNotSupported() }))
    scriptMain(env.sim, "anthropic", [{ text: "Anthropic took the turn." }, { text: "Anthropic again, Copilot not asked." }])

    const first = await env.run("Say something.", { timeoutMs: 90_000 })
    expect(first.code, describeRun(first)).toBe(0)
    expect(first.stdout).toContain("Anthropic took the turn.")
    expect(first.output).toContain("github-copilot does not serve claude-sonnet-4.5 on this plan → anthropic")
    // Refused once, not retried on the same member.
    expect(mainRequests(env.sim, "github-copilot")).toHaveLength(1)

    const second = await env.run("Again.", { timeoutMs: 90_000 })
    expect(second.code, describeRun(second)).toBe(0)
    expect(second.stdout).toContain("Anthropic again, Copilot not asked.")
    expect(mainRequests(env.sim, "github-copilot")).toHaveLength(1)

    const status = await env.opencode(["combined"], { timeoutMs: 30_000 })
    expect(status.code, describeRun(status)).toBe(0)
    const copilotLine = status.output.split("\n").find((line) => line.includes("github-copilot/claude-sonnet-4.5"))
    expect(copilotLine, status.output).toMatch(/cooling down \(github-copilot does not serve claude-sonnet-4\.5 on this plan: The requested model is not supported\.\), [56] h/)
    expect(copilotLine).not.toContain("whole provider")
  },
  TEST_MS,
)

const BEDROCK_HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"

test.skipIf(skip)(
  "Bedrock refuses Sonnet (AccessDeniedException): that member alone cools, and Haiku at Bedrock serves the next Haiku turn",
  async () => {
    await using env = await createEnv({ config: { provider_priority: ["amazon-bedrock", "anthropic", "github-copilot", "openrouter"] } })
    // Haiku at Bedrock too, as an account that enabled Haiku but not Sonnet has it.
    const config = JSON.parse(readFileSync(env.configPath, "utf8"))
    config.provider["amazon-bedrock"].models[BEDROCK_HAIKU] = {}
    writeFileSync(env.configPath, JSON.stringify(config, null, 2))
    // Bedrock's paths name the model: /model/<id>/converse-stream.
    env.sim.script("amazon-bedrock", always({ fault: faults.bedrockModelAccessDenied() }), { match: (request) => request.path.includes("sonnet") })
    env.sim.script("amazon-bedrock", [{ text: "Haiku at Bedrock answered." }], { match: (request) => isMainRequest(request) && request.path.includes("haiku") })
    scriptMain(env.sim, "anthropic", [{ text: "Anthropic took the Sonnet turn." }])

    const sonnet = await env.run("Say something.", { timeoutMs: 90_000 })
    expect(sonnet.code, describeRun(sonnet)).toBe(0)
    expect(sonnet.stdout).toContain("Anthropic took the Sonnet turn.")

    const status = await env.opencode(["combined"], { timeoutMs: 30_000 })
    expect(status.code, describeRun(status)).toBe(0)
    const lines = status.output.split("\n")
    const sonnetLine = lines.find((line) => /amazon-bedrock\/\S*claude-sonnet-4-5/.test(line))
    const haikuLine = lines.find((line) => /amazon-bedrock\/\S*claude-haiku-4-5/.test(line))
    expect(sonnetLine, status.output).toMatch(/cooling down \(amazon-bedrock does not serve/)
    expect(sonnetLine).not.toContain("whole provider")
    expect(haikuLine, status.output).toMatch(/healthy/)

    const before = env.sim.requests("amazon-bedrock").length
    const haiku = await env.run("Say something short.", { timeoutMs: 90_000, model: "combined/claude-haiku-4-5" })
    expect(haiku.code, describeRun(haiku)).toBe(0)
    expect(haiku.stdout).toContain("Haiku at Bedrock answered.")
    expect(env.sim.requests("amazon-bedrock").length).toBeGreaterThan(before)
    // Behaviour first, words last: the notice said what reached how far.
    expect(sonnet.output).toMatch(/amazon-bedrock does not serve \S*claude-sonnet-4-5\S* to this account → anthropic/)
  },
  TEST_MS,
)

test.skipIf(skip)(
  "a key missing in this shell: the turn goes on at the next member, nothing cools, and with the key set the next turn goes to that provider",
  async () => {
    await using env = await createEnv()
    // Anthropic configured with no key of its own: it comes from ANTHROPIC_API_KEY, unset for the first run.
    const config = JSON.parse(readFileSync(env.configPath, "utf8"))
    delete config.provider.anthropic.options.apiKey
    writeFileSync(env.configPath, JSON.stringify(config, null, 2))
    scriptMain(env.sim, "github-copilot", [{ text: "Copilot while the key is missing." }])
    scriptMain(env.sim, "anthropic", [{ text: "Anthropic with the key set." }])

    const missing = await env.run("Say something.", { timeoutMs: 90_000 })
    expect(missing.code, describeRun(missing)).toBe(0)
    expect(missing.stdout).toContain("Copilot while the key is missing.")
    expect(mainRequests(env.sim, "anthropic")).toHaveLength(0)

    const status = await env.opencode(["combined"], { timeoutMs: 30_000 })
    const anthropicLine = status.output.split("\n").find((line) => line.includes("anthropic/claude-sonnet-4-5"))
    expect(anthropicLine, status.output).toContain("healthy")

    const withKey = await env.run("Again.", { timeoutMs: 90_000, env: { ANTHROPIC_API_KEY: "sk-ant-loopback" } })
    expect(withKey.code, describeRun(withKey)).toBe(0)
    expect(withKey.stdout).toContain("Anthropic with the key set.")
    expect(mainRequests(env.sim, "anthropic")).toHaveLength(1)
    expect(missing.output).toContain("anthropic has no API key here (ANTHROPIC_API_KEY is not set) → github-copilot")
  },
  TEST_MS,
)

test.skipIf(skip)(
  "every member out for longer than max_wait: the error comes at once, names each member, and nobody is asked",
  async () => {
    await using env = await createEnv({ config: { combined_models: { exclude: ["amazon-bedrock", "openrouter"] } } })
    scriptMain(env.sim, "anthropic", always({ fault: faults.rateLimit({ retryAfter: 3600 }) }))
    scriptMain(env.sim, "github-copilot", always({ fault: faults.rateLimit({ retryAfter: 3500 }) }))

    const first = await env.run("Say something.", { timeoutMs: 90_000 })
    const asked = { anthropic: mainRequests(env.sim, "anthropic").length, copilot: mainRequests(env.sim, "github-copilot").length }
    expect(asked.anthropic).toBeGreaterThanOrEqual(1)
    expect(asked.copilot).toBeGreaterThanOrEqual(1)

    const second = await env.run("Again.", { timeoutMs: 90_000 })
    // Nobody asked, at once.
    expect(mainRequests(env.sim, "anthropic")).toHaveLength(asked.anthropic)
    expect(mainRequests(env.sim, "github-copilot")).toHaveLength(asked.copilot)
    expect(second.output).toContain("Every provider of Claude Sonnet 4.5 is out for longer than combined_models.max_wait (1 min); no request was sent:")
    expect(second.output).toMatch(/- anthropic\/claude-sonnet-4-5: anthropic rate-limited: .*; (59 min|1 h) left/)
    expect(second.output).toMatch(/- github-copilot\/claude-sonnet-4\.5: github-copilot rate-limited: .*; 5\d min left/)
    expect(second.elapsedMs).toBeLessThan(30_000)
    // A long Retry-After is a rate limit with a long wait, named so.
    expect(first.output).toContain("anthropic rate-limited for 1 h → github-copilot")
    expect(first.output).not.toContain("out of quota")
    const session = await env.exportSession(await env.latestSession())
    expect(lastAssistant(session).info.error?.data?.message ?? "").toContain("no request was sent")
  },
  TEST_MS,
)
