/**
 * The OpenCode 2 edition end to end: the released binary, the plugin installed with the README's command, each
 * provider on its own wire on the loopback. A failure of the first member is served by the next inside the same
 * step: `opencode run` exits 0, shows no error, and the answer is the next member's.
 */
import { describe, expect, test } from "bun:test"
import { spawnSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { createFileHealthStore, defaultHealthPath } from "../../../packages/combined-models/src/index.ts"
import { faults, type RecordedRequest, type SimFault } from "../../../packages/combined-models/src/simulator/index.ts"
import { redisAvailable, startRedis } from "../../../packages/combined-models/test/redis-server.ts"
import { OPENCODE2_VERSION } from "../../../packages/opencode2/scripts/binary.ts"
import { hasTmux, REPO_ROOT, skipReason, tui, v2Env, withTools } from "./harness.ts"

async function startTestRedis() {
  const redis = await startRedis()
  return Object.assign(redis, { [Symbol.asyncDispose]: () => redis.stop() })
}

/** One `opencode run` takes 1–3 s here; the budget is for a loaded CI machine. */
const TIMEOUT = 120_000
const suite = skipReason ? describe.skip : describe
const name = (title: string) => (skipReason ? `${title} (skipped: ${skipReason})` : title)

/**
 * A failure the engine first retries on the same member after a short wait (`retries_before_failover`, 1 by default:
 * a 5xx, an overload, a dropped connection), scripted for that retry too, so the step then moves on.
 */
const twice = <T>(step: T): T[] => [step, step]

/**
 * The Copilot cases need the pinned release: on 2.1.2 no request of a config-declared `github-copilot` provider
 * reached the loopback's address (the run waited out its timeouts and the member cooled for a transport failure).
 */
const otherRelease = process.env.OPENCODE2_VERSION && process.env.OPENCODE2_VERSION !== OPENCODE2_VERSION ? process.env.OPENCODE2_VERSION : undefined
const copilotTest = otherRelease ? test.skip : test
const copilotName = (title: string) => (otherRelease ? `${title} (skipped on ${otherRelease}: its Copilot provider does not use the configured address)` : title)

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

  /**
   * The first member fails before any output (every time it is asked); the next one answers the same step. `asked`:
   * how often the first member was asked: twice for a failure worth one same-member retry, once for the others.
   */
  async function servedBySecond(fault: SimFault, asked: number) {
    await using env = await v2Env()
    env.sim.script("anthropic", twice({ fault }), { match: withTools })
    env.sim.script("openrouter", [{ text: "Served by the second member." }], { match: withTools })
    const result = await env.run("say hi")
    expect({ exit: result.exitCode, errors: result.errors, answer: result.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "Served by the second member." })
    expect(env.requests("anthropic").filter(withTools)).toHaveLength(asked)
    return result
  }

  test("overloaded (529), again on the same member's retry, moves the step to the next member", () => servedBySecond(faults.overloaded(), 2), TIMEOUT)
  test("a 500, again on the same member's retry, moves the step to the next member", () => servedBySecond(faults.serverError(), 2), TIMEOUT)
  test("a 503, again on the same member's retry, moves the step to the next member", () => servedBySecond(faults.unavailable(), 2), TIMEOUT)
  test("a refused credential (401), which core does not retry, moves the step to the next member at once", () => servedBySecond(faults.auth(), 1), TIMEOUT)
  test("Anthropic's billing error (400 credit balance too low) moves the step to the next member at once", () => servedBySecond(faults.quota({ wire: "anthropic" }), 1), TIMEOUT)
  test("an error event as the first event of a 200 stream, again on the retry, moves the step to the next member", () => servedBySecond(faults.streamErrorFirst("overloaded"), 2), TIMEOUT)

  test("retries_before_failover: a 529 is retried once on the same member after a short wait, and its answer is the step's", async () => {
    await using env = await v2Env()
    env.sim.script("anthropic", [{ fault: faults.overloaded() }, { text: "Anthropic again, prompt cache kept." }], { match: withTools })
    const result = await env.run("say hi")
    expect({ exit: result.exitCode, errors: result.errors, answer: result.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "Anthropic again, prompt cache kept." })
    expect([env.requests("anthropic").filter(withTools).length, env.requests("openrouter").filter(withTools).length]).toEqual([2, 0])
  }, TIMEOUT)

  test("retries_before_failover: 0 moves a 529 to the next member at once", async () => {
    await using env = await v2Env({ options: { combined_models: { retries_before_failover: 0 } } })
    env.sim.script("anthropic", [{ fault: faults.overloaded() }], { match: withTools })
    env.sim.script("openrouter", [{ text: "Served by the second member." }], { match: withTools })
    const result = await env.run("say hi")
    expect({ exit: result.exitCode, errors: result.errors, answer: result.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "Served by the second member." })
    expect(env.requests("anthropic").filter(withTools)).toHaveLength(1)
  }, TIMEOUT)

  test('fallback_models for every agent ("*"): every Sonnet member rate-limited, GPT-5 at OpenRouter answers the same step', async () => {
    await using env = await v2Env({ options: { agent: { "*": { fallback_models: ["openrouter/openai/gpt-5"] } } } })
    const sonnet = (request: RecordedRequest) => withTools(request) && request.model !== "openai/gpt-5"
    env.sim.script("anthropic", [{ fault: faults.rateLimit({ retryAfter: 600 }) }], { match: withTools })
    env.sim.script("openrouter", [{ fault: faults.rateLimit({ retryAfter: 600 }) }], { match: sonnet })
    env.sim.script("openrouter", [{ text: "GPT-5 at OpenRouter carries the step." }], { match: (request) => withTools(request) && request.model === "openai/gpt-5" })
    const result = await env.run("say hi")
    expect({ exit: result.exitCode, errors: result.errors, answer: result.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "GPT-5 at OpenRouter carries the step." })
    expect(env.requests("openrouter").filter(withTools).map((request) => request.model)).toEqual(["anthropic/claude-sonnet-4.5", "openai/gpt-5"])
    expect(env.requests("anthropic").filter(withTools)).toHaveLength(1)
  }, TIMEOUT)

  test("an error inside a 200 stream after some text: the partial text is not the answer, the next member's is", async () => {
    await using env = await v2Env()
    env.sim.script("anthropic", twice({ text: "Partial words from the first member", fault: faults.streamErrorAfterText("overloaded") }), { match: withTools })
    env.sim.script("openrouter", [{ text: "The whole answer from the second member." }], { match: withTools })
    const result = await env.run("say hi")
    expect({ exit: result.exitCode, errors: result.errors, texts: result.texts }).toEqual({ exit: 0, errors: [], texts: ["The whole answer from the second member."] })
    expect(result.stdout).not.toContain("Partial words")
  }, TIMEOUT)

  test("OpenRouter first: an error chunk inside its 200 stream after text moves the step to Anthropic, partial text dropped", async () => {
    await using env = await v2Env({ priority: ["openrouter", "anthropic"] })
    env.sim.script("openrouter", twice({ text: "Partial words from OpenRouter", fault: faults.streamErrorAfterText("server_error") }), { match: withTools })
    env.sim.script("anthropic", [{ text: "The whole answer from Anthropic." }], { match: withTools })
    const result = await env.run("say hi")
    expect({ exit: result.exitCode, errors: result.errors, texts: result.texts }).toEqual({ exit: 0, errors: [], texts: ["The whole answer from Anthropic."] })
    expect(result.stdout).not.toContain("Partial words")
  }, TIMEOUT)

  test("a tool call followed by a failure in the same message: the tool runs once, the turn ends well", async () => {
    await using env = await v2Env()
    const command = "echo ran >> ran.txt"
    env.sim.script(
      "anthropic",
      twice({ toolCall: { name: "shell", input: { command, description: "append a line" } }, fault: { kind: "stream-error", at: "after-tool-call", error: "overloaded" } as SimFault, toolRunMs: 1500 }),
      { match: withTools },
    )
    env.sim.script("openrouter", [{ toolCall: { name: "shell", input: { command, description: "append a line" } } }, { text: "Done." }], { match: withTools })
    const result = await env.run("append a line to ran.txt")
    expect({ exit: result.exitCode, errors: result.errors }).toEqual({ exit: 0, errors: [] })
    expect(readFileSync(join(env.project, "ran.txt"), "utf8")).toBe("ran\n")
    expect(result.texts.join("")).toBe("Done.")
  }, TIMEOUT)

  test("a member whose key OpenCode holds outside the config (ANTHROPIC_API_KEY) gets its own key, the next member its own", async () => {
    await using env = await v2Env()
    const log = join(env.root, "requests.jsonl")
    const config = JSON.parse(readFileSync(env.configFile, "utf8"))
    delete config.providers.anthropic.settings.apiKey
    config.plugins.push({ package: join(import.meta.dir, "fixtures/request-log"), options: {} })
    writeFileSync(env.configFile, JSON.stringify(config, null, 2))
    env.env.ANTHROPIC_API_KEY = "sk-ant-from-env"
    env.env.REQUEST_LOG = log
    env.sim.script("anthropic", [{ fault: faults.rateLimit({ retryAfter: 30 }) }], { match: withTools })
    const result = await env.run("say hi")
    expect({ exit: result.exitCode, errors: result.errors, answer: result.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "Hello from openrouter." })
    const requests = readFileSync(log, "utf8").trim().split("\n").map((line) => JSON.parse(line)).filter((request) => request.kind === "primary")
    expect(requests.map((request) => [new URL(request.url).pathname.split("/")[1], request.xApiKey, request.authorization])).toEqual([
      ["anthropic", "sk-ant-from-env", null],
      ["openrouter", null, "Bearer key-openrouter"],
    ])
  }, TIMEOUT)

  test("a hung first byte: combined_models.timeouts.first_byte ends the wait and the next member answers", async () => {
    await using env = await v2Env({ options: { combined_models: { timeouts: { first_byte: "2s" } } } })
    env.sim.script("anthropic", [{ fault: faults.hang("before-first-byte") }], { match: withTools })
    env.sim.script("openrouter", [{ text: "Served by the second member." }], { match: withTools })
    const result = await env.run("say hi")
    expect({ exit: result.exitCode, errors: result.errors, answer: result.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "Served by the second member." })
  }, TIMEOUT)

  test("Amazon Bedrock as the next member: its own model id on its own wire (ConverseStream)", async () => {
    await using env = await v2Env({ providers: ["anthropic", "amazon-bedrock"] })
    env.sim.script("anthropic", twice({ fault: faults.overloaded() }), { match: withTools })
    env.sim.script("amazon-bedrock", [{ text: "Served by Bedrock." }], { match: withTools })
    const result = await env.run("say hi")
    expect({ exit: result.exitCode, errors: result.errors, answer: result.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "Served by Bedrock." })
    const served = env.requests("amazon-bedrock").filter(withTools)
    expect(served.map((request) => decodeURIComponent(request.path))).toEqual(["/amazon-bedrock/model/anthropic.claude-sonnet-4-5-20250929-v1:0/converse-stream"])
  }, TIMEOUT)

  test("Amazon Bedrock first: a throttlingException frame inside its 200 stream after text: the next member answers whole, exit 0", async () => {
    await using env = await v2Env({ providers: ["amazon-bedrock", "anthropic"] })
    env.sim.script("amazon-bedrock", [{ text: "Partial words from Bedrock", fault: faults.streamErrorAfterText("rate_limit") }], { match: withTools })
    env.sim.script("anthropic", [{ text: "The whole answer from Anthropic." }], { match: withTools })
    const result = await env.run("say hi")
    expect({ exit: result.exitCode, errors: result.errors, texts: result.texts }).toEqual({ exit: 0, errors: [], texts: ["The whole answer from Anthropic."] })
    expect(result.stdout).not.toContain("Partial words")
    expect([env.requests("amazon-bedrock").filter(withTools).length, env.requests("anthropic").filter(withTools).length]).toEqual([1, 1])
  }, TIMEOUT)

  test("Amazon Bedrock first: a modelStreamErrorException after text, again on the same member's retry: the next member answers whole", async () => {
    await using env = await v2Env({ providers: ["amazon-bedrock", "anthropic"] })
    env.sim.script("amazon-bedrock", twice({ text: "Partial words from Bedrock", fault: faults.streamErrorAfterText("server_error") }), { match: withTools })
    env.sim.script("anthropic", [{ text: "The whole answer from Anthropic." }], { match: withTools })
    const result = await env.run("say hi")
    expect({ exit: result.exitCode, errors: result.errors, texts: result.texts }).toEqual({ exit: 0, errors: [], texts: ["The whole answer from Anthropic."] })
    expect(result.stdout).not.toContain("Partial words")
  }, TIMEOUT)

  copilotTest(copilotName("GitHub Copilot first: its 429 (the 5-hour usage window) moves a Claude step to Anthropic; Copilot's Claude on its Messages path"), async () => {
    await using env = await v2Env({ providers: ["github-copilot", "anthropic"] })
    env.sim.script("github-copilot", [{ fault: faults.copilotUserWideRateLimit() }], { match: withTools })
    env.sim.script("anthropic", [{ text: "Served by Anthropic." }], { match: withTools })
    const result = await env.run("say hi", { model: "combined/claude-sonnet-4-6" })
    expect({ exit: result.exitCode, errors: result.errors, answer: result.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "Served by Anthropic." })
    expect(env.requests("github-copilot").filter(withTools).map((request) => [request.path, request.model])).toEqual([["/github-copilot/v1/messages", "claude-sonnet-4.6"]])
    expect(env.requests("anthropic").filter(withTools)).toHaveLength(1)
  }, TIMEOUT)

  copilotTest(copilotName("GitHub Copilot first: 400 model_not_supported moves the step on, and cools only that model: Copilot still serves another"), async () => {
    await using env = await v2Env({ providers: ["github-copilot", "anthropic"] })
    env.sim.script("github-copilot", [{ fault: faults.modelNotSupported() }], { match: (request) => withTools(request) && request.model === "claude-sonnet-4.6" })
    env.sim.script("anthropic", [{ text: "Served by Anthropic." }], { match: withTools })
    const result = await env.run("say hi", { model: "combined/claude-sonnet-4-6" })
    expect({ exit: result.exitCode, errors: result.errors, answer: result.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "Served by Anthropic." })
    const stored = createFileHealthStore(defaultHealthPath(join(env.env.XDG_STATE_HOME!, "opencode"))).load()
    expect(stored.map((entry) => ({ provider: entry.providerID, model: entry.modelID, reason: entry.reason }))).toEqual([
      { provider: "github-copilot", model: "claude-sonnet-4.6", reason: "model_unavailable" },
    ])
    // Another model of the same provider is not refused: the next run of Haiku goes to Copilot first and is served there.
    env.sim.script("github-copilot", [{ text: "Haiku served by Copilot." }], { match: (request) => withTools(request) && request.model === "claude-haiku-4.5" })
    const haiku = await env.run("say hi", { model: "combined/claude-haiku-4-5" })
    expect({ exit: haiku.exitCode, errors: haiku.errors, answer: haiku.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "Haiku served by Copilot." })
  }, TIMEOUT)

  test("Google first: a 429 RESOURCE_EXHAUSTED moves a Gemini step to OpenRouter, on each one's own wire and model id", async () => {
    await using env = await v2Env({ providers: ["google", "openrouter"] })
    env.sim.script("google", [{ fault: faults.rateLimit({ retryAfter: 30 }) }], { match: withTools })
    env.sim.script("openrouter", [{ text: "Served by OpenRouter." }], { match: withTools })
    const result = await env.run("say hi", { model: "combined/gemini-3-5-flash" })
    expect({ exit: result.exitCode, errors: result.errors, answer: result.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "Served by OpenRouter." })
    expect(env.requests("google").filter(withTools).map((request) => request.path)).toEqual(["/google/v1/models/gemini-3.5-flash:streamGenerateContent"])
    expect(env.requests("openrouter").filter(withTools).map((request) => request.model)).toEqual(["google/gemini-3.5-flash"])
  }, TIMEOUT)

  test("OpenAI first (Responses API): 429 insufficient_quota moves a GPT-5 step to OpenRouter", async () => {
    await using env = await v2Env({ providers: ["openai", "openrouter"] })
    env.sim.script("openai", [{ fault: faults.quota({ wire: "responses" }) }], { match: withTools })
    env.sim.script("openrouter", [{ text: "Served by OpenRouter." }], { match: withTools })
    const result = await env.run("say hi", { model: "combined/gpt-5" })
    expect({ exit: result.exitCode, errors: result.errors, answer: result.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "Served by OpenRouter." })
    expect(env.requests("openai").filter(withTools).map((request) => [request.path, request.model])).toEqual([["/openai/v1/responses", "gpt-5"]])
    expect(env.requests("openrouter").filter(withTools).map((request) => request.model)).toEqual(["openai/gpt-5"])
  }, TIMEOUT)

  test("OpenAI first: response.failed inside its 200 stream after text: the step moves on, the partial text dropped", async () => {
    await using env = await v2Env({ providers: ["openai", "openrouter"] })
    env.sim.script("openai", twice({ text: "Partial words from OpenAI", fault: faults.streamErrorAfterText("server_error") }), { match: withTools })
    env.sim.script("openrouter", [{ text: "The whole answer from OpenRouter." }], { match: withTools })
    const result = await env.run("say hi", { model: "combined/gpt-5" })
    expect({ exit: result.exitCode, errors: result.errors, texts: result.texts }).toEqual({ exit: 0, errors: [], texts: ["The whole answer from OpenRouter."] })
    expect(result.stdout).not.toContain("Partial words")
  }, TIMEOUT)

  test("every member rate-limited for ten minutes: the engine's error (each member, one line) shows after one request to each; the next run asks none", async () => {
    await using env = await v2Env()
    env.sim.script("anthropic", [{ fault: faults.rateLimit({ retryAfter: 600 }) }], { match: withTools })
    env.sim.script("openrouter", [{ fault: faults.rateLimit({ retryAfter: 600 }) }], { match: withTools })
    const result = await env.run("say hi")
    expect(result.exitCode).toBe(1)
    expect(result.errors.map((event) => (event.error as { type?: string })?.type)).toEqual(["provider.rate-limit"])
    expect([env.requests("anthropic").filter(withTools).length, env.requests("openrouter").filter(withTools).length]).toEqual([1, 1])
    // The error is the engine's: every member's failure, one line each, not the last provider's own.
    const message = String((result.errors[0]!.error as { message?: unknown }).message)
    expect(message).toContain("anthropic/claude-sonnet-4-5")
    expect(message).toContain("openrouter/anthropic/claude-sonnet-4.5")

    // The next run, a process of its own, while both are still out: no provider is asked, and it says why.
    const next = await env.run("say hi again")
    expect(next.exitCode).toBe(1)
    expect([env.requests("anthropic").filter(withTools).length, env.requests("openrouter").filter(withTools).length]).toEqual([1, 1])
    const why = String((next.errors[0]?.error as { message?: unknown })?.message)
    expect(why).toMatch(/Every provider of Claude Sonnet 4\.5 is out for longer than combined_models\.max_wait \(.+\); no request was sent:/)
    expect(why).toMatch(/\n- anthropic\/claude-sonnet-4-5: anthropic rate-limited: .*; (9|10) min left\n/)
    expect(why).toMatch(/\n- openrouter\/anthropic\/claude-sonnet-4\.5: openrouter rate-limited: .*; (9|10) min left$/)
  }, TIMEOUT)

  test("a stream that stalls after some text: combined_models.timeouts.stall ends it and the next member answers whole", async () => {
    await using env = await v2Env({ options: { combined_models: { timeouts: { stall: "2s" } } } })
    // A timeout is not retried on the same member: one stall moves the step on.
    env.sim.script("anthropic", [{ text: "Partial words from the first member", fault: faults.stall() }], { match: withTools })
    env.sim.script("openrouter", [{ text: "The whole answer from the second member." }], { match: withTools })
    const result = await env.run("say hi")
    expect({ exit: result.exitCode, errors: result.errors, texts: result.texts }).toEqual({ exit: 0, errors: [], texts: ["The whole answer from the second member."] })
  }, TIMEOUT)

  for (const [what, fault] of [
    ["a connection dropped after some text", faults.cut("after-text")],
    ["a stream that ends cleanly after some text but without its end of message (truncated)", faults.truncate("after-text")],
  ] as const)
    test(`${what}: the next member answers whole, the partial text dropped`, async () => {
      await using env = await v2Env()
      env.sim.script("anthropic", twice({ text: "Partial words from the first member", fault }), { match: withTools })
      env.sim.script("openrouter", [{ text: "The whole answer from the second member." }], { match: withTools })
      const result = await env.run("say hi")
      expect({ exit: result.exitCode, errors: result.errors, texts: result.texts }).toEqual({ exit: 0, errors: [], texts: ["The whole answer from the second member."] })
      expect(result.stdout).not.toContain("Partial words")
    }, TIMEOUT)

  test("a refused connection moves the step to the next member", async () => {
    await using env = await v2Env({ refused: ["anthropic"] })
    env.sim.script("openrouter", [{ text: "Served by the second member." }], { match: withTools })
    const result = await env.run("say hi")
    expect({ exit: result.exitCode, errors: result.errors, answer: result.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "Served by the second member." })
  }, TIMEOUT)

  test("two processes share a cooldown: the next run goes straight to the next member", async () => {
    await using env = await v2Env()
    env.sim.script("anthropic", [{ fault: faults.rateLimit({ retryAfter: 120 }) }], { match: withTools })
    const first = await env.run("say hi")
    expect(first.exitCode).toBe(0)
    const second = await env.run("say hi again")
    expect({ exit: second.exitCode, errors: second.errors, answer: second.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "Hello from openrouter." })
    // One refused request in all: the second process read the first one's cooldown and never asked Anthropic.
    expect(env.requests("anthropic").filter(withTools)).toHaveLength(1)
    expect(env.requests("openrouter").filter(withTools)).toHaveLength(2)
    // The machine's cooldown is Anthropic's own word on when: its Retry-After (120 s), read from the response headers.
    const stored = createFileHealthStore(defaultHealthPath(join(env.env.XDG_STATE_HOME!, "opencode"))).load()
    expect(stored.map((entry) => ({ provider: entry.providerID, reason: entry.reason, seconds: Math.round((entry.until - entry.since) / 1000) }))).toEqual([
      { provider: "anthropic", reason: "rate_limit", seconds: 120 },
    ])
  }, TIMEOUT)
})

describe.skipIf(!!skipReason || !redisAvailable)(name(`OpenCode 2 plugin: cooldowns shared through Redis${redisAvailable ? "" : " (skipped: no redis-server)"}`), () => {
  test("two machines (own state dirs) on one Redis: the second never asks the member the first saw rate-limited", async () => {
    await using redis = await startTestRedis()
    const options = { combined_models: { health_store: { redis: redis.url } } }
    await using first = await v2Env({ options })
    await using second = await v2Env({ options })
    first.sim.script("anthropic", [{ fault: faults.rateLimit({ retryAfter: 600 }) }], { match: withTools })
    const one = await first.run("say hi")
    expect({ exit: one.exitCode, answer: one.texts.join("") }).toEqual({ exit: 0, answer: "Hello from openrouter." })
    const two = await second.run("say hi")
    expect({ exit: two.exitCode, errors: two.errors, answer: two.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "Hello from openrouter." })
    expect(second.requests("anthropic").filter(withTools)).toHaveLength(0)
  }, TIMEOUT)

  test("a config change loads the plugin again (OpenCode 2 does so at once): the instance it replaces closes its Redis clients", async () => {
    if (!hasTmux) return console.warn("tmux is not installed: the plugin reload test did not run")
    await using redis = await startTestRedis()
    await using env = await v2Env({ options: { combined_models: { health_store: { redis: redis.url } } } })
    // Clients of the plugin (redis-cli's own connection, the one listing, left out).
    const clients = () => spawnSync("redis-cli", ["-p", String(redis.port), "client", "list"], { encoding: "utf8" }).stdout.split("\n").filter((line) => line.includes("addr=") && !line.includes("cmd=client")).length
    using screen = await tui(env)
    for (const started = Date.now(); clients() === 0 && Date.now() - started < 10_000; ) await Bun.sleep(200)
    await Bun.sleep(1_000)
    const connected = clients()
    expect(connected).toBeGreaterThan(0)
    for (const retries of [0, 1, 0]) {
      const config = JSON.parse(readFileSync(env.configFile, "utf8"))
      config.plugins[0].options.combined_models.retries_before_failover = retries
      writeFileSync(env.configFile, JSON.stringify(config, null, 2))
      await Bun.sleep(2_000)
    }
    // The TUI still routes on the plugin as it is now.
    expect(screen.screen()).toContain("Claude Sonnet 4.5 Combined")
    expect(clients()).toBe(connected)
  }, TIMEOUT)
})

suite(name("OpenCode 2 plugin: install, catalog and config"), () => {
  test("opencode models lists one combined model per model two providers serve, with the members' own entries", async () => {
    await using env = await v2Env()
    const listed = env.exec(["models", "--standalone"])
    expect({ exit: listed.exitCode, stderr: listed.stderr }).toEqual({ exit: 0, stderr: "" })
    const lines = listed.stdout.split("\n").map((line) => line.trim())
    expect(lines).toContain("combined/claude-sonnet-4-5")
    expect(lines).toContain("anthropic/claude-sonnet-4-5")
    expect(lines).toContain("openrouter/anthropic/claude-sonnet-4.5")
  }, TIMEOUT)

  test("bad options: OpenCode logs the field and keeps working without combined models", async () => {
    await using env = await v2Env({ options: { combined_models: { min_providers: 0 } } })
    const direct = await env.run("say hi", { model: "anthropic/claude-sonnet-4-5" })
    expect({ exit: direct.exitCode, answer: direct.texts.join("") }).toEqual({ exit: 0, answer: "Hello from anthropic." })
    expect(env.opencodeLog()).toContain("combined_models.min_providers: expected at least 1")
    expect(env.exec(["models", "--standalone"]).stdout).not.toContain("combined/")
  }, TIMEOUT)

  test("uninstall removes the plugin and its entry; OpenCode runs as before", async () => {
    await using env = await v2Env()
    const removed = spawnSync("bun", ["run", "v2:uninstall"], { cwd: REPO_ROOT, env: { ...process.env, ...env.env }, encoding: "utf8" })
    expect(removed.status).toBe(0)
    expect(JSON.parse(readFileSync(env.configFile, "utf8")).plugins).toEqual([])
    expect(env.exec(["models", "--standalone"]).stdout).not.toContain("combined/")
  }, TIMEOUT)
})

suite(name("stock OpenCode 2 without the plugin, for comparison"), () => {
  test("a 401 from the only provider ends the turn with provider.auth and exit 1", async () => {
    await using env = await v2Env({ plugin: false })
    env.sim.script("anthropic", [{ fault: faults.auth() }], { match: withTools })
    const result = await env.run("say hi", { model: "anthropic/claude-sonnet-4-5" })
    expect(result.exitCode).toBe(1)
    expect(result.errors.map((event) => (event.error as { type?: string })?.type)).toEqual(["provider.auth"])
    expect(env.requests("openrouter")).toHaveLength(0)
  }, TIMEOUT)

  test("an error inside a 200 stream after some text: core keeps the partial answer with its error and exits 1", async () => {
    await using env = await v2Env({ plugin: false })
    env.sim.script("anthropic", [{ text: "Partial words from the first member", fault: faults.streamErrorAfterText("overloaded") }], { match: withTools })
    const result = await env.run("say hi", { model: "anthropic/claude-sonnet-4-5" })
    expect(result.exitCode).toBe(1)
    expect(result.stdout).toContain("Partial words")
  }, TIMEOUT)

  test("there is no combined model without the plugin", async () => {
    await using env = await v2Env({ plugin: false })
    const result = await env.run("say hi")
    expect(result.exitCode).toBe(1)
    expect(result.errors.map((event) => (event.error as { type?: string })?.type)).toEqual(["provider.no-route"])
  }, TIMEOUT)
})
