/**
 * Limits read ahead in OpenCode's adapter: a step is sized by the request OpenCode is about to send (a new session's
 * system prompt and tools included, a cached prefix set apart where the provider's limits leave it out), and each
 * reading belongs to the allowance its request spent (the model class, the credential), read from the real
 * `@ai-sdk/anthropic` client's requests on loopback.
 */
import { afterEach, beforeEach, expect, test } from "bun:test"
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { createAnthropic } from "@ai-sdk/anthropic"
import { generateText } from "ai"
import { addCombinedProvider } from "../src/provider.ts"
import { RequestSizes, requestSizesPath, withRequestSize } from "../src/request-size-store.ts"
import { withLimitsReading } from "combined-models"
import { readingOf } from "../../combined-models/src/limits.ts"
import { settleStateFiles } from "../../combined-models/src/state-file.ts"
import { requestedModel } from "../../combined-models/src/wires/request-model.ts"
import { resetRuntime, runtime, type OpenCodeProvider } from "../src/runtime.ts"
import { measuredRequest, resetSessions, routeStep } from "../src/session.ts"
import { ocModel, ocProvider } from "./opencode-fixtures.ts"

const sonnet = { providerID: "anthropic", modelID: "claude-sonnet-4-5" }
const providers = () => ({
  anthropic: ocProvider("anthropic", "Anthropic", [ocModel("anthropic", "claude-sonnet-4-5"), ocModel("anthropic", "claude-haiku-4-5", { name: "Claude Haiku 4.5", family: "claude-haiku" })]),
  "github-copilot": ocProvider("github-copilot", "GitHub Copilot", [ocModel("github-copilot", "claude-sonnet-4.5")]),
})
const config = { provider_priority: ["anthropic", "github-copilot"] }
const user = (id: string, agent = "build") => ({ id, agent, model: { providerID: "combined", modelID: "claude-sonnet-4-5" } })
/** Anthropic's headers: `left` input tokens until a reset two minutes away. */
const inputLeft = (left: number, now: number) =>
  new Headers({
    "anthropic-ratelimit-input-tokens-remaining": String(left),
    "anthropic-ratelimit-input-tokens-limit": "30000",
    "anthropic-ratelimit-input-tokens-reset": new Date(now + 120_000).toISOString(),
  })

let stateDir: string
beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), "combined-read-ahead-"))
  resetSessions()
})
afterEach(() => {
  resetRuntime()
  rmSync(stateDir, { recursive: true, force: true })
})

/** A fresh OpenCode process (`opencode run` is one a turn): a new runtime over the same state dir, once this one's writes landed. */
async function processWith() {
  await settleStateFiles()
  resetRuntime()
  resetSessions()
  const list = providers()
  runtime().configure({ config, providers: list, stateDir })
  return list
}

test("a new session's first step is sized by what OpenCode sends with every request: Anthropic with 10 tokens left is passed over", async () => {
  await processWith()
  const now = Date.now()
  // The first `opencode run`: its request carried 12k tokens of system prompt and tool definitions.
  routeStep("first", user("u1"))
  measuredRequest({ sessionID: "first", agent: { name: "build" }, user: user("u1") }, () => 12_000)
  runtime().recordLimits(sonnet, inputLeft(10, now), now)

  // The next `opencode run`, a new session: no step yet, but its request carries the same 12k.
  await processWith()
  const route = routeStep("second", user("u2"), undefined, { now })
  expect(route.providerID).toBe("github-copilot")
  expect(route.status?.message).toBe("anthropic near its limit, resets in 2 min → github-copilot")

  // A title request (the small model) is not a step's: it measures nothing.
  measuredRequest({ sessionID: "second", small: true, agent: { name: "title" }, user: user("u2") }, () => 1)
  // A measurement that fails measures nothing (a request is never failed by it).
  measuredRequest({ sessionID: "second", agent: { name: "build" }, user: user("u2") }, () => {
    throw new TypeError("Converting circular structure to JSON")
  })
  // Another agent has requests of its own, not measured yet: nothing to size its first step by.
  expect(routeStep("third", user("u3", "plan"), undefined, { now }).providerID).toBe("anthropic")
})

test("a measurement file that does not parse reads as not measured: the step goes by what is known", async () => {
  const path = requestSizesPath(stateDir)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, "{]")
  await processWith()
  const now = Date.now()
  runtime().recordLimits(sonnet, inputLeft(10, now), now)
  expect(routeStep("s", user("u1"), undefined, { now }).providerID).toBe("anthropic")
  // The first measurement replaces it.
  measuredRequest({ sessionID: "s", agent: { name: "build" }, user: user("u1") }, () => 12_000)
  await processWith()
  runtime().recordLimits(sonnet, inputLeft(10, now), now)
  expect(routeStep("s2", user("u2"), undefined, { now }).providerID).toBe("github-copilot")
})

test("a long conversation cached at Anthropic stays there: cache reads do not count against its input tokens", async () => {
  await processWith()
  const now = Date.now()
  runtime().recordLimits(sonnet, inputLeft(20_000, now), now)
  // 91k of the last step's request came from (or went into) Anthropic's cache; 2.5k did not.
  const lastFinished = { ...sonnet, tokens: { input: 2_000, output: 500, cache: { read: 90_000, write: 1_000 } } }
  const route = routeStep("long", user("u1"), lastFinished, { now })
  expect(route.providerID).toBe("anthropic")
  expect(route.status).toBeUndefined()
  // Served last by Copilot, the conversation is cached there: all of it would count at Anthropic.
  const elsewhere = { providerID: "github-copilot", modelID: "claude-sonnet-4.5", tokens: lastFinished.tokens }
  expect(routeStep("moved", user("u2"), elsewhere, { now }).providerID).toBe("github-copilot")
})

test("a title request on the small model leaves the main model's reading as it was: the request names the allowance", async () => {
  // Anthropic on loopback, limiting each model class on its own, as the real API does.
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const body = (await request.json()) as { model: string }
      const left = body.model.includes("haiku") ? 50_000 : 10
      return Response.json(
        {
          id: "msg_1",
          type: "message",
          role: "assistant",
          model: body.model,
          content: [{ type: "text", text: "ok" }],
          stop_reason: "end_turn",
          stop_sequence: null,
          usage: { input_tokens: 10, output_tokens: 1 },
        },
        { headers: inputLeft(left, Date.now()) },
      )
    },
  })
  try {
    const list = providers() as Record<string, OpenCodeProvider>
    addCombinedProvider({ providers: list, config, stateDir })
    const fetch = (list.anthropic!.options as { fetch: typeof globalThis.fetch }).fetch
    const anthropic = createAnthropic({ baseURL: `${server.url}v1`, apiKey: "sk-ant-loopback", fetch })
    await generateText({ model: anthropic("claude-sonnet-4-5"), prompt: "The main step." })
    await generateText({ model: anthropic("claude-haiku-4-5"), prompt: "A title, please." })
    const now = Date.now()
    expect(runtime().limits.headroomOf(sonnet, now)?.tokens?.remaining).toBe(10)
    expect(runtime().limits.headroomOf({ providerID: "anthropic", modelID: "claude-haiku-4-5" }, now)?.tokens?.remaining).toBe(50_000)
    // So the main model's next step still goes around Anthropic.
    expect(routeStep("s", user("u1"), { ...sonnet, tokens: { input: 5_000 } }, { now }).providerID).toBe("github-copilot")
    // And a process of its own (`opencode combined`, the next `opencode run`) reads both from the file.
    await processWith()
    expect(runtime().limits.headroomOf(sonnet, now)?.tokens?.remaining).toBe(10)
    expect(runtime().limits.headroomOf({ providerID: "anthropic", modelID: "claude-haiku-4-5" }, now)?.tokens?.remaining).toBe(50_000)
  } finally {
    server.stop(true)
  }
})

test("another key of the provider is another allowance: a reading taken with the old key says nothing of the new one", async () => {
  await processWith()
  const now = Date.now()
  const rt = runtime()
  rt.credentials.set("anthropic", "fingerprint-old")
  rt.recordLimits(sonnet, inputLeft(10, now), now)
  expect(routeStep("s1", user("u1"), { ...sonnet, tokens: { input: 5_000 } }, { now }).providerID).toBe("github-copilot")
  rt.credentials.set("anthropic", "fingerprint-new")
  expect(rt.limits.headroomOf(sonnet, now)).toBeUndefined()
  expect(routeStep("s2", user("u2"), { ...sonnet, tokens: { input: 5_000 } }, { now }).providerID).toBe("anthropic")
})

test("the state files' merges keep every allowance and agent another process wrote", () => {
  const now = Date.now()
  const haiku = { providerID: "anthropic", modelID: "claude-haiku-4-5" }
  const reading = (member: typeof sonnet, left: number) => readingOf(member, inputLeft(left, now), now)
  let text = withLimitsReading(undefined, sonnet, reading(sonnet, 10))
  text = withLimitsReading(text, haiku, reading(haiku, 50_000))
  text = withLimitsReading(text, { ...sonnet, modelID: "claude-sonnet-4-5-20250929" }, reading({ ...sonnet, modelID: "claude-sonnet-4-5-20250929" }, 7))
  const file = JSON.parse(text) as { version: number; readings: Record<string, { limitClass: string; tokens: { remaining: number } }> }
  expect(file.version).toBe(2)
  expect(Object.values(file.readings).map((r) => [r.limitClass, r.tokens.remaining])).toEqual([
    ["claude-haiku-4", 50_000],
    ["claude-sonnet-4", 7],
  ])
  // Nothing known now of Sonnet's allowance: its reading goes, Haiku's stays.
  expect(Object.keys(JSON.parse(withLimitsReading(text, sonnet, undefined)).readings)).toHaveLength(1)
  // A version 1 file (one reading per provider) is replaced, not merged: its readings had no class.
  expect(JSON.parse(withLimitsReading(JSON.stringify({ version: 1, providers: { anthropic: {} } }), sonnet, undefined))).toEqual({ version: 2, readings: {} })
  const sizes = withRequestSize(withRequestSize("{]", "build|combined/claude-sonnet-4-5", 12_000), "plan|combined/claude-sonnet-4-5", 9_000)
  expect(JSON.parse(sizes)).toEqual({ version: 1, requests: { "build|combined/claude-sonnet-4-5": 12_000, "plan|combined/claude-sonnet-4-5": 9_000 } })
})

test("the model a request names: first in the JSON body of the AI SDK's wires, else in Bedrock's and Google's paths", () => {
  const body = JSON.stringify({ model: "claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user", content: 'say "model":"gpt-5"' }] })
  expect(requestedModel("https://api.anthropic.com/v1/messages", { method: "POST", body })).toBe("claude-haiku-4-5")
  // A "model" inside a string is escaped, so it is never taken for the request's.
  expect(requestedModel("https://x.example/v1/chat", { body: JSON.stringify({ messages: [{ content: '"model":"gpt-5"' }] }) })).toBeUndefined()
  expect(requestedModel("https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream")).toBe(
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
  )
  expect(requestedModel(new Request("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"))).toBe("gemini-2.5-pro")
})

test("a request that grows a little at a time still reaches the file: each measurement is compared with what the file holds, not the one before", async () => {
  const path = requestSizesPath(stateDir)
  const sizes = new RequestSizes(path)
  // Each within 5% of the one before, 23% above the first in all.
  for (const tokens of [10_000, 10_400, 10_800, 11_300, 11_800, 12_300]) sizes.measured("build|combined/claude-sonnet-4-5", tokens)
  await settleStateFiles()
  // The next `opencode run` sizes its first step by the file: within 5% of what the request is now.
  const next = new RequestSizes(path).baseOf("build|combined/claude-sonnet-4-5")!
  expect(Math.abs(12_300 - next)).toBeLessThanOrEqual(next * 0.05)
})
