/**
 * Each provider through the SDK OpenCode bundles for it, with no `npm` override, in the patched binary: the failures
 * real providers send, and the answer that must come from the next member. Needs OpenCode (see harness.ts); without it
 * every test here is skipped by name.
 */
import { expect, test } from "bun:test"
import { spawnSync } from "node:child_process"
import { faults, type SimStep } from "../../packages/combined-models/src/simulator/index.ts"
import {
  assistantMessages,
  createEnv,
  describeRun,
  e2e,
  lastAssistant,
  mainRequests,
  prepare,
  REPO_ROOT,
  scriptMain,
  textOf,
  type Env,
  type ProviderId,
} from "./harness.ts"

const skip = !e2e.enabled
const TURN_MS = 90_000

/** The same step for every request this turn, so a same-member retry cannot rescue it. */
const always = (step: SimStep) => Array.from({ length: 4 }, () => structuredClone(step))

/** A priority that puts `first` ahead, then `next`. */
const priorityFor = (first: ProviderId, next: ProviderId) => ({
  provider_priority: [first, next, ...(["anthropic", "github-copilot", "amazon-bedrock", "openrouter"] as const).filter((id) => id !== first && id !== next)],
})

/**
 * One turn in which `failing` fails with `step` and `next` answers: the answer is `next`'s alone, the session holds
 * none of the failed attempt's text, the output names the switch, and `opencode combined` shows `failing` cooling
 * (unless `cooled: false`).
 */
async function expectFailover(
  env: Env,
  input: { failing: ProviderId; next: ProviderId; step: SimStep; partial?: string; model?: string; cooled?: boolean },
) {
  const answer = `${input.next} answered in full.`
  scriptMain(env.sim, input.failing, always(input.step))
  scriptMain(env.sim, input.next, [{ text: answer }])

  const result = await env.run("Say something.", { timeoutMs: 60_000, model: input.model })
  expect(result.code, describeRun(result)).toBe(0)
  expect(result.stdout).toContain(answer)
  expect(mainRequests(env.sim, input.failing).length).toBeGreaterThanOrEqual(1)
  expect(mainRequests(env.sim, input.next)).toHaveLength(1)
  if (input.partial) expect(result.stdout).not.toContain(input.partial)
  expect(result.output).toMatch(new RegExp(`↪.*${input.failing}`))
  expect(result.output).toContain(`(${input.next})`)

  const session = await env.exportSession(await env.latestSession())
  const answers = assistantMessages(session)
  expect(answers.map((message) => message.info.providerID)).toEqual([input.next])
  expect(textOf(lastAssistant(session))).toBe(answer)
  if (input.partial) expect(JSON.stringify(session)).not.toContain(input.partial)

  // A failure the engine first retried on the same member (a stream cut short) cools it only on repeat.
  if (input.cooled === false) return result
  const status = await env.opencode(["combined"], { timeoutMs: 30_000 })
  expect(status.code, describeRun(status)).toBe(0)
  const lines = status.output.split("\n").filter((line) => line.includes(input.failing))
  expect(lines.join("\n"), status.output).toMatch(/cool|rate-limited|wait/i)
  return result
}

test.skipIf(skip)(
  "Bedrock through @ai-sdk/amazon-bedrock: a healthy ConverseStream answers",
  async () => {
    await using env = await createEnv({ config: priorityFor("amazon-bedrock", "openrouter") })
    scriptMain(env.sim, "amazon-bedrock", [{ text: "Bedrock answered over ConverseStream." }])
    const result = await env.run("Say something.", { timeoutMs: 60_000 })
    expect(result.code, describeRun(result)).toBe(0)
    expect(result.stdout).toContain("Bedrock answered over ConverseStream.")
    expect(mainRequests(env.sim, "amazon-bedrock")[0]?.path).toMatch(/\/model\/[^/]+\/converse-stream$/)
    const answer = lastAssistant(await env.exportSession(await env.latestSession()))
    expect(answer.info.providerID).toBe("amazon-bedrock")
    expect(answer.info.finish).toBe("stop")
    expect(textOf(answer)).toBe("Bedrock answered over ConverseStream.")
  },
  TURN_MS,
)

test.skipIf(skip)(
  "Bedrock: a modeled throttlingException frame after some text fails over; the partial text is nowhere",
  async () => {
    await using env = await createEnv({ config: priorityFor("amazon-bedrock", "openrouter") })
    const partial = "Bedrock began an answer it will not finish"
    await expectFailover(env, {
      failing: "amazon-bedrock",
      next: "openrouter",
      step: { text: partial, fault: faults.streamErrorAfterText("rate_limit") },
      partial,
    })
  },
  TURN_MS,
)

test.skipIf(skip)(
  "Bedrock: HTTP 429 ThrottlingException fails over",
  async () => {
    await using env = await createEnv({ config: priorityFor("amazon-bedrock", "openrouter") })
    await expectFailover(env, { failing: "amazon-bedrock", next: "openrouter", step: { fault: faults.rateLimit() } })
  },
  TURN_MS,
)

test.skipIf(skip)(
  "OpenRouter through @openrouter/ai-sdk-provider: an error chunk inside a 200 stream fails over at once",
  async () => {
    await using env = await createEnv({ config: priorityFor("openrouter", "anthropic") })
    const partial = "OpenRouter's upstream began an answer"
    const result = await expectFailover(env, {
      failing: "openrouter",
      next: "anthropic",
      step: { text: partial, fault: faults.streamErrorAfterText("rate_limit") },
      partial,
    })
    // Stock OpenCode retries this on OpenRouter for about 70 s; the switch happens on the first error.
    expect(mainRequests(env.sim, "openrouter")).toHaveLength(1)
    expect(result.elapsedMs).toBeLessThan(30_000)
  },
  TURN_MS,
)

test.skipIf(skip)(
  "Copilot's Claude over the Messages wire (@ai-sdk/anthropic, as OpenCode's Copilot plugin sends it): a 429 fails over",
  async () => {
    await using env = await createEnv({ config: priorityFor("github-copilot", "openrouter") })
    await expectFailover(env, { failing: "github-copilot", next: "openrouter", step: { fault: faults.rateLimit({ retryAfter: 120 }) } })
    expect(mainRequests(env.sim, "github-copilot")[0]?.path).toBe("/github-copilot/v1/messages")
  },
  TURN_MS,
)

test.skipIf(skip)(
  "Copilot's GPT-5.2 over Responses (OpenCode's @ai-sdk/github-copilot): a 429 fails over to OpenRouter's GPT-5.2",
  async () => {
    await using env = await createEnv({ config: priorityFor("github-copilot", "openrouter") })
    await expectFailover(env, {
      failing: "github-copilot",
      next: "openrouter",
      step: { fault: faults.rateLimit({ retryAfter: 120 }) },
      model: "combined/gpt-5-2",
    })
    expect(mainRequests(env.sim, "github-copilot")[0]?.path).toBe("/github-copilot/v1/responses")
  },
  TURN_MS,
)

test.skipIf(skip)(
  "Copilot's GPT-5.2 over Responses: response.failed inside the stream, which that SDK does not surface, still fails over",
  async () => {
    await using env = await createEnv({ config: priorityFor("github-copilot", "openrouter") })
    const partial = "Copilot began a GPT answer"
    await expectFailover(env, {
      failing: "github-copilot",
      next: "openrouter",
      step: { text: partial, fault: faults.streamErrorAfterText("server_error") },
      partial,
      model: "combined/gpt-5-2",
      cooled: false,
    })
  },
  TURN_MS,
)

test.skipIf(skip || !process.env.OPENCODE_SRC)(
  "the source launcher says it cannot run Bedrock faithfully, and it cannot: a healthy ConverseStream never answers there",
  async () => {
    const source = prepare({ opencode: process.env.OPENCODE_SRC!, artifact: "source" })
    const again = spawnSync("bun", ["run", "patch", "prepare", "--out", source, "--opencode", process.env.OPENCODE_SRC!], {
      cwd: REPO_ROOT,
      encoding: "utf8",
    })
    expect(again.status, again.stderr).toBe(0)
    expect(again.stdout).toMatch(/Amazon Bedrock's ConverseStream does not decode there[^\n]*--binary/)

    await using env = await createEnv({ prepared: source, config: priorityFor("amazon-bedrock", "openrouter") })
    scriptMain(env.sim, "amazon-bedrock", [{ text: "Bedrock answered over ConverseStream." }])
    scriptMain(env.sim, "openrouter", [{ text: "OpenRouter answered instead." }])
    const result = await env.run("Say something.", { timeoutMs: 60_000 })
    expect(mainRequests(env.sim, "amazon-bedrock").length).toBeGreaterThanOrEqual(1)
    expect(result.stdout).not.toContain("Bedrock answered over ConverseStream.")
    // Each undecodable step ends without the provider's finish: the edge reads it as cut short and moves on.
    expect(result.stdout).toContain("OpenRouter answered instead.")
  },
  TURN_MS * 2,
)

test.skipIf(skip)(
  "a provider finish the SDK does not map (Anthropic's stop_reason compaction → other) is an answer, not a cut stream",
  async () => {
    await using env = await createEnv({ config: priorityFor("anthropic", "openrouter") })
    scriptMain(env.sim, "anthropic", [{ text: "Anthropic answered, then compacted.", stopReason: "compaction" }])
    const result = await env.run("Say something.", { timeoutMs: 60_000 })
    expect(result.code, describeRun(result)).toBe(0)
    expect(result.stdout).toContain("Anthropic answered, then compacted.")
    expect(mainRequests(env.sim, "anthropic")).toHaveLength(1)
    expect(mainRequests(env.sim, "openrouter")).toHaveLength(0)
    expect(result.output).not.toContain("↪")
  },
  TURN_MS,
)
