import { describe, expect, test } from "bun:test"
import { historyFor, keepOwnReasoningOnly, markCut, resetOwnReasoningOnly, sameModel, withoutBrokenThinking } from "../src/history.ts"
import { thinkingRejection } from "../../combined-models/src/simulator/anthropic-wire.ts"
import { bedrockThinkingRejection } from "../../combined-models/src/simulator/bedrock-wire.ts"

const selection = { providerID: "combined", modelID: "claude-sonnet-4-5" }
const copilot = { providerID: "github-copilot", id: "claude-sonnet-4.5" }
const anthropic = { providerID: "anthropic", id: "claude-sonnet-4-5" }

const user = { info: { role: "user", id: "u1" }, parts: [{ type: "text", text: "read it" }] }
const fromAnthropic = (reasoningEnd: number | undefined) => ({
  info: { role: "assistant", id: "a1", providerID: "anthropic", modelID: "claude-sonnet-4-5-20250929" },
  parts: [
    { type: "step-start" },
    { type: "reasoning", text: "I should read the file.", time: { start: 1, end: reasoningEnd }, metadata: { anthropic: { signature: "sig" } } },
    { type: "tool", tool: "read", callID: "t1", state: { status: "completed" } },
  ],
})

describe("historyFor: the reasoning a routed member gets", () => {
  test("another provider's reasoning is left out (not turned into text); tools and text stay", () => {
    const [, assistant] = historyFor([user, fromAnthropic(2)], { model: copilot, selection })
    expect(assistant!.parts.map((part) => part.type)).toEqual(["step-start", "tool"])
  })

  test("the member's own provider's reasoning stays, as the target model's own so its signature goes along", () => {
    const [, assistant] = historyFor([user, fromAnthropic(2)], { model: anthropic, selection })
    expect(assistant!.parts.map((part) => part.type)).toEqual(["step-start", "reasoning", "tool"])
    expect((assistant!.info as { modelID?: string }).modelID).toBe("claude-sonnet-4-5")
  })

  test("a thinking block a failure cut off (never ended) is left out even for its own provider", () => {
    const [, assistant] = historyFor([user, fromAnthropic(undefined)], { model: anthropic, selection })
    expect(assistant!.parts.map((part) => part.type)).toEqual(["step-start", "tool"])
  })

  test("a thinking block marked cut by a failure is left out though cleanup closed it", () => {
    const message = fromAnthropic(2)
    markCut(message.parts[1])
    const [, assistant] = historyFor([user, message], { model: anthropic, selection })
    expect(assistant!.parts.map((part) => part.type)).toEqual(["step-start", "tool"])
    // The mark is kept with the part's own metadata (the signature stays where it was).
    expect((message.parts[1] as { metadata?: Record<string, unknown> }).metadata).toMatchObject({ anthropic: { signature: "sig" } })
  })

  test("another model of the same provider gets none of its reasoning (Sonnet's signed thinking never goes to Haiku)", () => {
    // The docs' own chain: anthropic/claude-sonnet-4-5 → anthropic/claude-haiku-4-5, thinking on.
    const haiku = { providerID: "anthropic", id: "claude-haiku-4-5" }
    const [, assistant] = historyFor([user, fromAnthropic(2)], { model: haiku, selection: { providerID: "anthropic", modelID: "claude-sonnet-4-5" } })
    expect(assistant!.parts.map((part) => part.type)).toEqual(["step-start", "tool"])
    // Still Sonnet's message: upstream sends none of its provider metadata to Haiku either.
    expect((assistant!.info as { modelID?: string }).modelID).toBe("claude-sonnet-4-5-20250929")
  })

  test("the same model's aliases and dated snapshots keep their reasoning, both ways", () => {
    const written = (modelID: string) => ({ ...fromAnthropic(2), info: { role: "assistant", id: "a1", providerID: "anthropic", modelID } })
    for (const [from, to] of [
      ["claude-sonnet-4-5", "claude-sonnet-4-5-20250929"],
      ["claude-sonnet-4-5-20250929", "claude-sonnet-4-5"],
      ["claude-haiku-4-5-20251001", "claude-haiku-4-5"],
    ] as const) {
      const [, assistant] = historyFor([user, written(from)], { model: { providerID: "anthropic", id: to }, selection })
      expect(assistant!.parts.map((part) => part.type)).toEqual(["step-start", "reasoning", "tool"])
      expect((assistant!.info as { modelID?: string }).modelID).toBe(to)
    }
  })

  test("Bedrock: a region profile of the same model keeps the reasoning, another model's profile does not", () => {
    const bedrock = (modelID: string) => ({ ...fromAnthropic(2), info: { role: "assistant", id: "a1", providerID: "amazon-bedrock", modelID } })
    const target = { providerID: "amazon-bedrock", id: "global.anthropic.claude-sonnet-4-5-20250929-v1:0" }
    for (const from of ["us.anthropic.claude-sonnet-4-5-20250929-v1:0", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0"]) {
      const [, assistant] = historyFor([user, bedrock(from)], { model: target, selection })
      expect(assistant!.parts.map((part) => part.type)).toEqual(["step-start", "reasoning", "tool"])
    }
    const [, haiku] = historyFor([user, bedrock("us.anthropic.claude-haiku-4-5-20251001-v1:0")], { model: target, selection })
    expect(haiku!.parts.map((part) => part.type)).toEqual(["step-start", "tool"])
    // Anthropic's reasoning never goes to Bedrock's Claude, the same model or not.
    const [, direct] = historyFor([user, fromAnthropic(2)], { model: target, selection })
    expect(direct!.parts.map((part) => part.type)).toEqual(["step-start", "tool"])
  })

  test("sameModel: one provider, one model; tiers, versions and models the identity cannot vouch for are apart", () => {
    const anthropicModel = (id: string) => ({ providerID: "anthropic", id })
    expect(sameModel({ providerID: "anthropic", modelID: "claude-sonnet-4-5" }, anthropicModel("claude-sonnet-4-5-20250929"))).toBe(true)
    expect(sameModel({ providerID: "anthropic", modelID: "claude-sonnet-4-5" }, anthropicModel("claude-haiku-4-5"))).toBe(false)
    expect(sameModel({ providerID: "anthropic", modelID: "claude-sonnet-4-5" }, anthropicModel("claude-sonnet-4-6"))).toBe(false)
    expect(sameModel({ providerID: "anthropic", modelID: "claude-sonnet-4" }, anthropicModel("claude-sonnet-4-5"))).toBe(false)
    expect(sameModel({ providerID: "github-copilot", modelID: "claude-sonnet-4.5" }, anthropicModel("claude-sonnet-4-5"))).toBe(false)
    expect(sameModel({ providerID: "openrouter", modelID: "deepseek/deepseek-chat" }, { providerID: "openrouter", id: "deepseek/deepseek-chat" })).toBe(true)
    expect(sameModel({ providerID: "openrouter", modelID: "deepseek-chat" }, { providerID: "openrouter", id: "deepseek/deepseek-chat" })).toBe(false)
  })

  test("a member that refused borrowed reasoning gets only what its own exact id wrote, in that session", () => {
    resetOwnReasoningOnly()
    const alias = { providerID: "anthropic", id: "claude-sonnet-4-5" }
    keepOwnReasoningOnly("ses_1", { providerID: "anthropic", modelID: "claude-sonnet-4-5" })
    const [, borrowed] = historyFor([user, fromAnthropic(2)], { model: alias, selection, sessionID: "ses_1" })
    expect(borrowed!.parts.map((part) => part.type)).toEqual(["step-start", "tool"])
    const own = { ...fromAnthropic(2), info: { role: "assistant", id: "a1", providerID: "anthropic", modelID: "claude-sonnet-4-5" } }
    const [, kept] = historyFor([user, own], { model: alias, selection, sessionID: "ses_1" })
    expect(kept!.parts.map((part) => part.type)).toEqual(["step-start", "reasoning", "tool"])
    // Another session still shares the alias's reasoning.
    const [, other] = historyFor([user, fromAnthropic(2)], { model: alias, selection, sessionID: "ses_2" })
    expect(other!.parts.map((part) => part.type)).toEqual(["step-start", "reasoning", "tool"])
    resetOwnReasoningOnly()
  })

  test("a request to the selection itself is stock: the same array, untouched", () => {
    const messages = [user, fromAnthropic(undefined)]
    expect(historyFor(messages, { model: anthropic, selection: { providerID: "anthropic", modelID: "claude-sonnet-4-5" } })).toBe(messages)
  })
})

describe("withoutBrokenThinking", () => {
  const thinking = { thinking: { type: "enabled", budgetTokens: 16_000 }, other: 1 }
  const loop = (first: string) => [
    { role: "user", content: [{ type: "text", text: "read it" }] },
    { role: "assistant", content: [{ type: first }, { type: "tool-call" }] },
    { role: "tool", content: [{ type: "tool-result" }] },
  ]

  test("a routed tool loop without the member's own thinking block first runs with thinking off", () => {
    expect(withoutBrokenThinking(thinking, { model: copilot, selection, messages: loop("tool-call") }) as object).toEqual({ other: 1 })
    expect(withoutBrokenThinking({ reasoningConfig: { type: "enabled" } }, { model: copilot, selection, messages: loop("text") }) as object).toEqual({})
  })

  test("kept: its own thinking first, no tool loop, or a request to the selection itself", () => {
    expect(withoutBrokenThinking(thinking, { model: copilot, selection, messages: loop("reasoning") })).toBe(thinking)
    expect(withoutBrokenThinking(thinking, { model: copilot, selection, messages: [{ role: "user", content: "hi" }] })).toBe(thinking)
    const own = { providerID: "github-copilot", modelID: "claude-sonnet-4.5" }
    expect(withoutBrokenThinking(thinking, { model: copilot, selection: own, messages: loop("tool-call") })).toBe(thinking)
  })
})

describe("the simulator refuses thinking as Anthropic does", () => {
  const signed = (provider: string, model = "claude-sonnet-4-5") => Buffer.from(`sim-signature:${provider}:${model}:1`).toString("base64")
  const body = (assistant: unknown[], thinking = true, model = "claude-sonnet-4.5") => ({
    model,
    ...(thinking ? { thinking: { type: "enabled", budget_tokens: 1024 } } : {}),
    messages: [
      { role: "user", content: [{ type: "text", text: "read it" }] },
      { role: "assistant", content: assistant },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "x" }] },
    ],
  })

  test("another provider's signature, and a tool loop that does not start with thinking, are 400s", () => {
    expect(thinkingRejection(body([{ type: "thinking", thinking: "x", signature: signed("anthropic") }, { type: "tool_use" }]), "github-copilot")).toContain(
      "Invalid `signature` in `thinking` block",
    )
    expect(thinkingRejection(body([{ type: "text", text: "I should read" }, { type: "tool_use" }]), "github-copilot")).toContain(
      "a final `assistant` message must start with a thinking block",
    )
  })

  test("its own signed thinking, or thinking off, is accepted", () => {
    expect(
      thinkingRejection(body([{ type: "thinking", thinking: "x", signature: signed("github-copilot", "claude-sonnet-4.5") }, { type: "tool_use" }]), "github-copilot"),
    ).toBeUndefined()
    expect(thinkingRejection(body([{ type: "tool_use" }], false), "github-copilot")).toBeUndefined()
  })

  test("a signature is bound to the model: another model of the provider refuses it, the same model's dated id does not", () => {
    const sonnets = [{ type: "thinking", thinking: "x", signature: signed("anthropic", "claude-sonnet-4-5") }, { type: "tool_use" }]
    expect(thinkingRejection(body(sonnets, true, "claude-haiku-4-5"), "anthropic")).toBe("messages.1.content.0: Invalid `signature` in `thinking` block")
    expect(thinkingRejection(body(sonnets, true, "claude-sonnet-4-5-20250929"), "anthropic")).toBeUndefined()
    // A provider stricter than the ids suggest (the simulator's "id" binding) refuses the dated id too.
    expect(thinkingRejection(body(sonnets, true, "claude-sonnet-4-5-20250929"), "anthropic", "id")).toContain("Invalid `signature`")
  })

  test("Bedrock: a signature made for another model is refused as Bedrock words it; region profiles of one model share", () => {
    const bedrockSigned = (model: string) => Buffer.from(`sim-signature:amazon-bedrock:${model}:3`).toString("base64")
    const converse = (signature: string) => ({
      messages: [
        { role: "user", content: [{ text: "read it" }] },
        { role: "assistant", content: [{ reasoningContent: { reasoningText: { text: "x", signature } } }, { toolUse: { toolUseId: "t1", name: "read", input: {} } }] },
      ],
    })
    const sonnet = converse(bedrockSigned("anthropic.claude-sonnet-4-5-20250929-v1:0"))
    expect(bedrockThinkingRejection(sonnet, "eu.anthropic.claude-sonnet-4-5-20250929-v1:0")).toBeUndefined()
    expect(bedrockThinkingRejection(sonnet, "us.anthropic.claude-haiku-4-5-20251001-v1:0")).toBe(
      "The model returned the following errors: messages.1.content.0: Invalid `signature` in `thinking` block",
    )
  })
})
