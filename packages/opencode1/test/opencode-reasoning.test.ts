/**
 * Thinking goes only to the model that wrote it, through the real @ai-sdk/anthropic against the loopback simulator,
 * whose Anthropic wire binds each thinking signature to the model that made it and answers a foreign one with the real
 * API's 400 ("Invalid `signature` in `thinking` block"). The OpenCode adapter routes each step (`routeStep`,
 * `failoverFor`, `historyFor`, `withoutBrokenThinking`) as the patched session loop calls it; the conversion of the
 * history into the SDK's messages is upstream's `toModelMessagesEffect` for the parts used here.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test"
import { createAmazonBedrock } from "@ai-sdk/amazon-bedrock"
import { createAnthropic } from "@ai-sdk/anthropic"
import { streamText, type ModelMessage } from "ai"
import { Effect, Option } from "effect"
import { jsonSchema, tool } from "ai"
import { classify } from "../../combined-models/src/classify.ts"
import { fetchForSdk } from "../../combined-models/src/wires/index.ts"
import { historyFor, resetOwnReasoningOnly, withoutBrokenThinking } from "../src/history.ts"
import { CombinedRuntime, resetRuntime, runtime } from "../src/runtime.ts"
import { failoverFor, resetSessions, routeStep, type SettleServices } from "../src/session.ts"
import { faults, startSimulator, type Simulator } from "combined-models/simulator"
import { ocModel } from "./opencode-fixtures.ts"

const SESSION = "ses_thinking"
const SONNET = { providerID: "anthropic", modelID: "claude-sonnet-4-5" }
const THOUGHT = "I should list the files first."
const THINKING = { anthropic: { thinking: { type: "enabled", budgetTokens: 1024 } } }

let sim: Simulator
beforeAll(async () => {
  sim = await startSimulator()
  sim.addProvider("anthropic", "anthropic")
  sim.addProvider("amazon-bedrock", "bedrock")
})
afterAll(() => sim.stop())

beforeEach(() => {
  sim.reset()
  resetSessions()
  resetOwnReasoningOnly()
  resetRuntime(new CombinedRuntime())
  // The docs' own chain: Sonnet, then Haiku at the same provider.
  runtime().configure({
    config: { provider_priority: ["anthropic"], combined_models: { fallback_models: ["anthropic/claude-haiku-4-5"] } },
    providers: {
      anthropic: {
        id: "anthropic",
        name: "Anthropic",
        models: {
          "claude-sonnet-4-5": ocModel("anthropic", "claude-sonnet-4-5"),
          "claude-haiku-4-5": ocModel("anthropic", "claude-haiku-4-5", { name: "Claude Haiku 4.5", family: "claude-haiku", release_date: "2025-10-15" }),
        },
      },
    },
  })
})
afterEach(() => resetRuntime())

const anthropic = () => createAnthropic({ baseURL: sim.baseURL("anthropic"), apiKey: "sk-ant-loopback" })
const tools = { bash: tool({ inputSchema: jsonSchema<{ command: string }>({ type: "object", properties: { command: { type: "string" } } }) }) }

/** OpenCode's message parts, as far as the history conversion reads them. */
type Part =
  | { type: "text"; text: string }
  | { type: "reasoning"; text: string; time: { start: number; end?: number }; metadata?: Record<string, unknown> }
  | { type: "tool"; tool: string; callID: string; state: { status: "completed"; input: unknown; output: string } }
type Message = { info: { role: string; providerID?: string; modelID?: string }; parts: Part[] }

/** Upstream's `toModelMessagesEffect` for these parts: another model's reasoning becomes text; its own keeps its metadata. */
function toModelMessages(messages: readonly Message[], model: { providerID: string; id: string }): ModelMessage[] {
  const out: ModelMessage[] = []
  for (const message of messages) {
    if (message.info.role === "user") {
      out.push({ role: "user", content: message.parts.flatMap((part) => (part.type === "text" ? [{ type: "text" as const, text: part.text }] : [])) })
      continue
    }
    const differentModel = `${model.providerID}/${model.id}` !== `${message.info.providerID}/${message.info.modelID}`
    const content: Exclude<Extract<ModelMessage, { role: "assistant" }>["content"], string> = []
    const results: Extract<ModelMessage, { role: "tool" }>["content"] = []
    for (const part of message.parts) {
      if (part.type === "text") content.push({ type: "text", text: part.text })
      if (part.type === "reasoning") {
        if (differentModel) content.push({ type: "text", text: part.text })
        else content.push({ type: "reasoning", text: part.text, providerOptions: part.metadata as never })
      }
      if (part.type === "tool") {
        content.push({ type: "tool-call", toolCallId: part.callID, toolName: part.tool, input: part.state.input })
        results.push({ type: "tool-result", toolCallId: part.callID, toolName: part.tool, output: { type: "text", value: part.state.output } })
      }
    }
    out.push({ role: "assistant", content })
    if (results.length) out.push({ role: "tool", content: results })
  }
  return out
}

/** OpenCode's services as the settle hunk passes them. */
function services(): SettleServices {
  const none = () => Effect.void
  return {
    session: { removeMessage: none, updateMessage: none, findMessage: () => Effect.succeed(Option.none()), updatePart: none },
    status: { set: none },
    message: { id: "msg_attempt", sessionID: SESSION },
  } as unknown as SettleServices
}

/**
 * One step as the patched loop runs it: route, build the member's history, send through the SDK, report the stream to
 * the engine; a failure the engine claims is settled and the loop goes on. Returns the member, and the assistant
 * message when the step answered.
 */
async function step(history: Message[]): Promise<{ member: string; answered?: Message; error?: unknown; claimed?: boolean }> {
  const user = { id: "msg_user", agent: "build", model: SONNET }
  const route = routeStep(SESSION, user)
  const model = { providerID: route.providerID, id: route.modelID }
  const failover = failoverFor(SESSION, model)
  const messages = toModelMessages(historyFor(history, { model, selection: SONNET, sessionID: SESSION }), model)
  // As request.ts: the model's own options (not yet keyed by provider) go through the hunk.
  const providerOptions = { anthropic: withoutBrokenThinking(THINKING.anthropic, { model, selection: SONNET, messages }) }
  const result = streamText({ model: anthropic()(route.modelID), messages, tools, providerOptions: providerOptions as never, maxRetries: 0 })
  const parts: Part[] = []
  let error: unknown
  try {
    for await (const part of result.fullStream) {
      if (part.type === "error") throw part.error
      failover?.observe(part)
      // As OpenCode's processor: a reasoning part gathers its deltas; metadata (the signature) from whichever carries it.
      if (part.type === "reasoning-start") parts.push({ type: "reasoning", text: "", time: { start: 1 } })
      const open = parts.findLast((candidate) => candidate.type === "reasoning")
      if ((part.type === "reasoning-delta" || part.type === "reasoning-end") && open?.type === "reasoning") {
        if (part.type === "reasoning-delta") open.text += part.text
        if (part.providerMetadata) open.metadata = part.providerMetadata
        if (part.type === "reasoning-end") open.time = { start: 1, end: 2 }
      }
      if (part.type === "text-delta") {
        const last = parts.at(-1)
        if (last?.type === "text") last.text += part.text
        else parts.push({ type: "text", text: part.text })
      }
      if (part.type === "tool-call") parts.push({ type: "tool", tool: part.toolName, callID: part.toolCallId, state: { status: "completed", input: part.input, output: "a.txt b.txt" } })
    }
    failover?.ended()
  } catch (thrown) {
    error = thrown
  }
  const member = `${route.providerID}/${route.modelID}`
  if (error === undefined) {
    return { member, answered: { info: { role: "assistant", providerID: route.providerID, modelID: route.modelID }, parts } }
  }
  const claimed = failover?.claims(error) ?? false
  if (claimed) await Effect.runPromise(failover!.finish(services()))
  return { member, error, claimed }
}

const thinkingBlocks = (body: unknown) => JSON.stringify(body).match(/"type":"thinking"/g)?.length ?? 0
const user: Message = { info: { role: "user" }, parts: [{ type: "text", text: "List the files, then summarise." }] }

describe("down the chain from Sonnet to Haiku at Anthropic, thinking on", () => {
  test("Haiku gets none of Sonnet's signed thinking: the turn goes on instead of a 400", async () => {
    sim.script("anthropic", [
      { reasoning: THOUGHT, toolCall: { name: "bash", input: { command: "ls" }, id: "toolu_ls" } },
      { fault: faults.rateLimit({ retryAfter: 600 }) },
      { text: "Two files: a.txt and b.txt." },
    ])
    const first = await step([user])
    expect(first.member).toBe("anthropic/claude-sonnet-4-5")
    const sonnets = first.answered!
    // Sonnet's thinking came back signed, as the real SDK reads it.
    const thought = sonnets.parts[0] as Extract<Part, { type: "reasoning" }>
    expect([thought.type, thought.text, typeof (thought.metadata?.anthropic as { signature?: unknown } | undefined)?.signature]).toEqual(["reasoning", THOUGHT, "string"])

    const refused = await step([user, sonnets])
    expect(refused).toMatchObject({ member: "anthropic/claude-sonnet-4-5", claimed: true })

    const haiku = await step([user, sonnets])
    expect(haiku.error).toBeUndefined()
    expect(haiku.member).toBe("anthropic/claude-haiku-4-5")
    expect(haiku.answered!.parts).toEqual([{ type: "text", text: expect.stringContaining("Two files") }])

    const sent = sim.requests("anthropic").at(-1)!
    expect(sent.model).toBe("claude-haiku-4-5")
    expect(thinkingBlocks(sent.body)).toBe(0)
    expect(JSON.stringify(sent.body)).not.toContain(THOUGHT)
    // Haiku goes on from the tool's result, with thinking off for this tool loop as Anthropic asks.
    expect(JSON.stringify(sent.body)).toContain("toolu_ls")
    expect((sent.body as { thinking?: unknown }).thinking).toBeUndefined()
  })

  test("a thinking block the model refuses anyway is resent once without it, on the same member: no failover, no error", async () => {
    // A block the simulator signed for another model, stored under Haiku's dated id: the ids say it is Haiku's own,
    // the provider says it is not.
    sim.script("anthropic", [{ reasoning: THOUGHT, text: "Opus thought this." }], { match: (request) => request.model === "claude-opus-4-1" })
    const opus = await anthropic()("claude-opus-4-1").doGenerate({
      prompt: [{ role: "user", content: [{ type: "text", text: "think" }] }],
      providerOptions: THINKING as never,
    })
    const foreign = opus.content.find((part) => part.type === "reasoning")!
    const stored: Message = {
      info: { role: "assistant", providerID: "anthropic", modelID: "claude-haiku-4-5-20251001" },
      parts: [{ type: "reasoning", text: THOUGHT, time: { start: 1, end: 2 }, metadata: foreign.providerMetadata }, { type: "text", text: "Earlier answer." }],
    }
    const next: Message = { info: { role: "user" }, parts: [{ type: "text", text: "And now?" }] }
    sim.script("anthropic", [{ fault: faults.rateLimit({ retryAfter: 600 }) }, { text: "Haiku, without the refused block." }])

    expect(await step([user, stored, next])).toMatchObject({ member: "anthropic/claude-sonnet-4-5", claimed: true })
    const refused = await step([user, stored, next])
    expect(refused.member).toBe("anthropic/claude-haiku-4-5")
    // The real 400, taken over by the engine rather than ending the turn.
    expect(String((refused.error as { responseBody?: string }).responseBody)).toContain("Invalid `signature` in `thinking` block")
    expect(refused.claimed).toBe(true)

    const resent = await step([user, stored, next])
    expect(resent.error).toBeUndefined()
    expect(resent.member).toBe("anthropic/claude-haiku-4-5")
    expect(resent.answered!.parts).toEqual([{ type: "text", text: "Haiku, without the refused block." }])

    const [refusedRequest, resentRequest] = sim.requests("anthropic").filter((request) => request.model === "claude-haiku-4-5")
    expect(thinkingBlocks(refusedRequest!.body)).toBe(1)
    expect(thinkingBlocks(resentRequest!.body)).toBe(0)
    // Nothing cooled: Haiku did nothing wrong.
    expect(runtime().health.cooldownOf({ providerID: "anthropic", modelID: "claude-haiku-4-5" })).toBeUndefined()
  })
})

describe("Bedrock through @ai-sdk/amazon-bedrock", () => {
  const bedrock = (model: string) =>
    createAmazonBedrock({ baseURL: sim.baseURL("amazon-bedrock"), region: "us-east-1", apiKey: "bedrock-loopback", fetch: fetchForSdk("@ai-sdk/amazon-bedrock") })(model)
  const reasoningOn = { bedrock: { reasoningConfig: { type: "enabled", budgetTokens: 1024 } } }

  test("Sonnet's signed reasoning sent to Haiku is Bedrock's ValidationException, read as a refused thinking signature", async () => {
    sim.script("amazon-bedrock", [{ reasoning: THOUGHT, text: "Sonnet on Bedrock." }])
    const sonnet = await bedrock("us.anthropic.claude-sonnet-4-5-20250929-v1:0").doGenerate({
      prompt: [{ role: "user", content: [{ type: "text", text: "think" }] }],
      providerOptions: reasoningOn as never,
    })
    const thought = sonnet.content.find((part) => part.type === "reasoning")!
    const history = [
      { role: "user" as const, content: [{ type: "text" as const, text: "think" }] },
      { role: "assistant" as const, content: [{ type: "reasoning" as const, text: THOUGHT, providerOptions: thought.providerMetadata as never }, { type: "text" as const, text: "Sonnet on Bedrock." }] },
      { role: "user" as const, content: [{ type: "text" as const, text: "and now?" }] },
    ]
    // Another region profile of the same model takes it.
    sim.script("amazon-bedrock", [{ text: "Sonnet in the EU." }])
    const same = await bedrock("eu.anthropic.claude-sonnet-4-5-20250929-v1:0").doGenerate({ prompt: history, providerOptions: reasoningOn as never })
    expect(same.content).toEqual([{ type: "text", text: "Sonnet in the EU." }])

    const refused = await bedrock("us.anthropic.claude-haiku-4-5-20251001-v1:0")
      .doGenerate({ prompt: history, providerOptions: reasoningOn as never })
      .then(() => undefined, (error: unknown) => error)
    expect(classify(refused, { providerID: "amazon-bedrock" })).toMatchObject({ reason: "invalid_request", statusCode: 400, refusedReasoning: true })
  })
})
