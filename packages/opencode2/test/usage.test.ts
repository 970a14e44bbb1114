import { describe, expect, test } from "bun:test"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { settleStateFiles } from "combined-models"
import { encodeFrame } from "../../combined-models/src/wires/aws-event-stream.ts"
import { Router } from "../src/router.ts"
import { formatCost, memberTotals, StatusBoard } from "../src/status.ts"
import { parseSteps, readSteps, readStepsCached, SESSIONS_KEPT, stepsFile, STEPS_KEPT, withStep, type StepRecord } from "../src/step-store.ts"
import { guardStream, type StepUsage } from "../src/stream-guard.ts"
import { stepCost, usageOf } from "../src/usage.ts"
import { sseResponse } from "./sse.ts"

const named = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`
const data = (value: unknown) => `data: ${typeof value === "string" ? value : JSON.stringify(value)}\n\n`

/** The usage handed to `served` for a whole body, and how often `served` was called. */
async function servedUsage(response: Response, url: string): Promise<{ calls: number; usage: StepUsage | undefined }> {
  let calls = 0
  let usage: StepUsage | undefined
  const guarded = guardStream(response, url, {
    served: (reported) => {
      calls++
      usage = reported
    },
  })
  await guarded.arrayBuffer()
  return { calls, usage }
}

describe("a step's usage as each wire reports it in its stream", () => {
  const anthropic = (start: unknown, delta: unknown) => [
    named("message_start", { type: "message_start", message: { id: "msg_1", type: "message", role: "assistant", content: [], usage: start } }),
    named("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
    named("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hello." } }),
    named("content_block_stop", { type: "content_block_stop", index: 0 }),
    named("message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: delta }),
    named("message_stop", { type: "message_stop" }),
  ]
  const MESSAGES = "http://127.0.0.1:1/anthropic/v1/messages"

  test("Anthropic: message_start's input with its cached parts, message_delta's output", async () => {
    const events = anthropic({ input_tokens: 340, cache_read_input_tokens: 8000, cache_creation_input_tokens: 4000, output_tokens: 1 }, { output_tokens: 812 })
    expect(await servedUsage(sseResponse(events), MESSAGES)).toEqual({ calls: 1, usage: { input: 12340, output: 812, cacheRead: 8000, cacheWrite: 4000 } })
    // Null cache counts (as the API sends without caching) count as none.
    const plain = anthropic({ input_tokens: 25, cache_read_input_tokens: null, cache_creation_input_tokens: null, output_tokens: 1 }, { output_tokens: 7 })
    expect((await servedUsage(sseResponse(plain), MESSAGES)).usage).toEqual({ input: 25, output: 7 })
  })

  test("chat completions: the usage chunk after the finish (choices empty), cached tokens from prompt_tokens_details", async () => {
    const base = { id: "chatcmpl-1", object: "chat.completion.chunk", model: "anthropic/claude-sonnet-4.5" }
    const events = [
      data({ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] }),
      data({ ...base, choices: [{ index: 0, delta: { content: "Hello." }, finish_reason: null }] }),
      data({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }),
      data({ ...base, choices: [], usage: { prompt_tokens: 1200, completion_tokens: 80, total_tokens: 1280, prompt_tokens_details: { cached_tokens: 1000 } } }),
      data("[DONE]"),
    ]
    expect(await servedUsage(sseResponse(events), "http://x/openrouter/v1/chat/completions")).toEqual({ calls: 1, usage: { input: 1200, output: 80, cacheRead: 1000 } })
  })

  test("Responses: response.completed's response.usage", async () => {
    const events = [
      named("response.created", { type: "response.created", response: { id: "resp_1", status: "in_progress", usage: null } }),
      named("response.output_text.delta", { type: "response.output_text.delta", delta: "Hello." }),
      named("response.completed", {
        type: "response.completed",
        response: { id: "resp_1", status: "completed", usage: { input_tokens: 900, input_tokens_details: { cached_tokens: 512 }, output_tokens: 40, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 940 } },
      }),
    ]
    expect(await servedUsage(sseResponse(events), "http://x/openai/v1/responses")).toEqual({ calls: 1, usage: { input: 900, output: 40, cacheRead: 512 } })
  })

  test("Bedrock ConverseStream: the metadata event after messageStop", async () => {
    const frame = (type: string, body: unknown) => encodeFrame({ ":event-type": type, ":content-type": "application/json", ":message-type": "event" }, JSON.stringify(body))
    const frames = [
      frame("messageStart", { role: "assistant" }),
      frame("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "Hello." } }),
      frame("messageStop", { stopReason: "end_turn" }),
      frame("metadata", { usage: { inputTokens: 300, outputTokens: 20, totalTokens: 2320, cacheReadInputTokens: 2000 }, metrics: { latencyMs: 120 } }),
    ]
    const response = new Response(new Blob(frames as BlobPart[]), { headers: { "content-type": "application/vnd.amazon.eventstream" } })
    expect(await servedUsage(response, "http://x/amazon-bedrock/model/m/converse-stream")).toEqual({ calls: 1, usage: { input: 2300, output: 20, cacheRead: 2000 } })
  })

  test("a usage body that does not match its wire's schema gives no usage, and the step is still served", async () => {
    // Counts as strings, a negative count, usage not an object: no usage, no exception.
    const anthropicBad = anthropic({ input_tokens: "340" }, { output_tokens: -1 })
    expect(await servedUsage(sseResponse(anthropicBad), "http://x/v1/messages")).toEqual({ calls: 1, usage: undefined })
    const chatBad = [data({ choices: [{ index: 0, delta: { content: "Hi" }, finish_reason: "stop" }] }), data({ choices: [], usage: "lots" }), data("[DONE]")]
    expect(await servedUsage(sseResponse(chatBad), "http://x/v1/chat/completions")).toEqual({ calls: 1, usage: undefined })
    const responsesBad = [named("response.completed", { type: "response.completed", response: { usage: { input_tokens: 1.5, output_tokens: null } } })]
    expect(await servedUsage(sseResponse(responsesBad), "http://x/v1/responses")).toEqual({ calls: 1, usage: undefined })
    expect(usageOf("bedrock", "metadata", { usage: { inputTokens: 3 } })).toBeUndefined()
    expect(usageOf("chat", undefined, null)).toBeUndefined()
    // A stream that says nothing of usage: none.
    const silent = [named("message_start", { type: "message_start", message: { id: "m" } }), named("message_stop", { type: "message_stop" })]
    expect(await servedUsage(sseResponse(silent), "http://x/v1/messages")).toEqual({ calls: 1, usage: undefined })
  })
})

describe("a step's cost at the member's catalog price", () => {
  test("tokens × USD per million; cached input at the cache prices, or at the input price where the catalog has none", () => {
    const sonnet = { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 }
    // 340 fresh × 3 + 8,000 read × 0.3 + 4,000 written × 3.75 + 812 out × 15, per million.
    expect(stepCost({ input: 12340, output: 812, cacheRead: 8000, cacheWrite: 4000 }, sonnet)).toBeCloseTo((340 * 3 + 8000 * 0.3 + 4000 * 3.75 + 812 * 15) / 1e6, 12)
    expect(stepCost({ input: 1_000_000, output: 0 }, sonnet)).toBe(3)
    expect(stepCost({ input: 1000, output: 0, cacheRead: 1000 }, { input: 3, output: 15 })).toBeCloseTo(0.003, 12)
    expect(stepCost({ input: 0, output: 0 }, sonnet)).toBe(0)
    expect(formatCost(0.0420999)).toBe("$0.0421")
    expect(formatCost(12.345)).toBe("$12.35")
  })
})

describe("each session's steps on disk, for other processes' views", () => {
  const step = (at: number, providerID: string, usage?: StepUsage, cost?: number): StepRecord => ({
    id: `step-${at}-${providerID}`,
    groupID: "claude-sonnet-4-5",
    member: { providerID, modelID: providerID === "anthropic" ? "claude-sonnet-4-5" : "anthropic/claude-sonnet-4.5" },
    at,
    switches: [],
    ...(usage ? { usage } : {}),
    ...(cost !== undefined ? { cost } : {}),
  })

  test("steps are merged in, bounded to the newest steps of the newest sessions", () => {
    let text: string | undefined
    for (let at = 1; at <= STEPS_KEPT + 5; at++) text = withStep(text, "ses_a", step(at, "anthropic", { input: at, output: 1 }))
    const a = parseSteps(text).get("ses_a")!
    expect(a).toHaveLength(STEPS_KEPT)
    expect(a[0]!.at).toBe(6)
    expect(a.at(-1)!.usage).toEqual({ input: STEPS_KEPT + 5, output: 1 })
    // The same step written twice (a retried write) is kept once.
    expect(parseSteps(withStep(text, "ses_a", a.at(-1)!)).get("ses_a")).toHaveLength(STEPS_KEPT)
    for (let session = 0; session < SESSIONS_KEPT; session++) text = withStep(text, `ses_${session}`, step(1000 + session, "openrouter"))
    const sessions = parseSteps(text)
    expect(sessions.size).toBe(SESSIONS_KEPT)
    // ses_a's newest step is older than every other session's: it went.
    expect(sessions.has("ses_a")).toBe(false)
    expect(sessions.has("ses_0")).toBe(true)
  })

  test("the cached read parses the file again only when it changed", () => {
    const dir = mkdtempSync(join(tmpdir(), "cm-v2-steps-"))
    const file = stepsFile(dir)
    mkdirSync(dirname(file), { recursive: true })
    expect(readStepsCached(file).size).toBe(0)
    writeFileSync(file, withStep(undefined, "ses_1", step(1, "anthropic")))
    const first = readStepsCached(file)
    expect([...first.keys()]).toEqual(["ses_1"])
    expect(readStepsCached(file)).toBe(first)
    writeFileSync(file, withStep(readFileSync(file, "utf8"), "ses_2", step(2, "openrouter")))
    expect([...readStepsCached(file).keys()].sort()).toEqual(["ses_1", "ses_2"])
    rmSync(dir, { recursive: true, force: true })
  })

  test("a corrupt file, another version or a step of the wrong shape reads as nothing, never as an error", () => {
    const dir = mkdtempSync(join(tmpdir(), "cm-v2-steps-"))
    const file = stepsFile(dir)
    mkdirSync(dirname(file), { recursive: true })
    expect(readSteps(file).size).toBe(0)
    for (const corrupt of ["{not json", "null", "[]", JSON.stringify({ version: 99, sessions: [] }), JSON.stringify({ version: 1, sessions: "x" })]) {
      writeFileSync(file, corrupt)
      expect(readSteps(file).size).toBe(0)
    }
    const good = step(5, "anthropic", { input: 10, output: 2 }, 0.00006)
    writeFileSync(
      file,
      JSON.stringify({ version: 1, sessions: [{ sessionID: "ses_1", steps: [{ ...good, at: "yesterday" }, good, { ...good, usage: { input: -1, output: 0 } }] }, { sessionID: 7, steps: [good] }] }),
    )
    expect([...readSteps(file)]).toEqual([["ses_1", [good]]])
    // A corrupt file is written over with the new step, not merged into.
    writeFileSync(file, "{not json")
    expect([...parseSteps(withStep("{not json", "ses_2", good))]).toEqual([["ses_2", [good]]])
    rmSync(dir, { recursive: true, force: true })
  })

  test("per-member totals: tokens and cost added up; no price: tokens without cost; no usage reported: said", () => {
    expect(
      memberTotals([
        step(1, "anthropic", { input: 12000, output: 500, cacheRead: 8000 }, 0.03),
        step(2, "openrouter", { input: 100, output: 10 }),
        step(3, "anthropic", { input: 340, output: 312 }, 0.0121),
        step(4, "anthropic"),
      ]),
    ).toEqual([
      "anthropic/claude-sonnet-4-5: 3 steps (1 without usage), 12,340 in (8,000 cached) / 812 out, $0.0421",
      "openrouter/anthropic/claude-sonnet-4.5: 1 step, 100 in / 10 out, no price in the catalog",
    ])
    expect(memberTotals([step(1, "openrouter")])).toEqual(["openrouter/anthropic/claude-sonnet-4.5: 1 step, no token usage reported"])
  })
})

describe("the status board's steps with tokens and cost", () => {
  const group = {
    id: "claude-sonnet-4-5",
    name: "Claude Sonnet 4.5",
    members: [
      { providerID: "anthropic", modelID: "claude-sonnet-4-5", cost: { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 } },
      { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" },
    ],
    providers: ["anthropic", "openrouter"],
    limit: { context: 200000, output: 64000 },
    capabilities: { reasoning: true, toolCall: true, attachment: true, temperature: true, input: ["text"], output: ["text"] },
    manual: false,
  }
  const board = (stateDir: string, at: number) => {
    const router = new Router({ options: { provider_priority: ["anthropic", "openrouter"] }, stateDir, clock: () => at, reload: async () => {} })
    router.groups.set(group.id, group as never)
    return new StatusBoard({ router, stateDir, clock: () => at })
  }

  test("each step's tokens and cost at the member's price; a member without a price shows tokens; another process reads them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cm-v2-steps-"))
    const served = board(dir, 1_000_000)
    served.recordServed("ses_1", "claude-sonnet-4-5", { providerID: "anthropic", modelID: "claude-sonnet-4-5" }, { input: 12340, output: 812, cacheRead: 8000, cacheWrite: 4000 })
    served.recordServed("ses_1", "claude-sonnet-4-5", { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" }, { input: 1500, output: 20 })
    served.recordServed("ses_1", "claude-sonnet-4-5", { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" })
    const cost = (340 * 3 + 8000 * 0.3 + 4000 * 3.75 + 812 * 15) / 1e6
    expect(served.sessionSteps("ses_1")[0]!.cost).toBeCloseTo(cost, 12)
    expect(served.sessionSteps("ses_1")[1]!.cost).toBeUndefined()
    const expected = [
      "This session (ses_1): 3 steps on combined models, the member that served each:",
      `  1. 00:16:40Z  combined/claude-sonnet-4-5  anthropic/claude-sonnet-4-5  12,340 in (8,000 cached, 4,000 written to cache) / 812 out, ${formatCost(cost)}`,
      "  2. 00:16:40Z  combined/claude-sonnet-4-5  openrouter/anthropic/claude-sonnet-4.5  1,500 in / 20 out",
      "  3. 00:16:40Z  combined/claude-sonnet-4-5  openrouter/anthropic/claude-sonnet-4.5",
      "  Steps per provider: anthropic 1, openrouter 2",
      "  Tokens and cost per member:",
      `    anthropic/claude-sonnet-4-5: 1 step, 12,340 in (8,000 cached, 4,000 written to cache) / 812 out, ${formatCost(cost)}`,
      "    openrouter/anthropic/claude-sonnet-4.5: 2 steps (1 without usage), 1,500 in / 20 out, no price in the catalog",
      "",
    ].join("\n")
    expect(served.sessionText("ses_1")).toBe(expected)
    // A fresh process (the CLI's `opencode api … status`) on the same state dir: the same steps, read from the file.
    await settleStateFiles()
    const elsewhere = board(dir, 2_000_000)
    expect(elsewhere.sessionSteps("ses_1")).toEqual(served.sessionSteps("ses_1"))
    expect(elsewhere.sessionText("ses_1")).toBe(expected)
    expect(elsewhere.sessionText("ses_2")).toBe("This session (ses_2): no step on a combined model recorded yet\n")
    // A corrupt file: the other process shows nothing for the session, and does not throw.
    writeFileSync(stepsFile(dir), "\u0000garbage")
    expect(elsewhere.sessionText("ses_1")).toBe("This session (ses_1): no step on a combined model recorded yet\n")
    rmSync(dir, { recursive: true, force: true })
  })
})
