import { describe, expect, test } from "bun:test"
import { StepEdge, finishFailure, withProviderFinishReason } from "../src/edge.ts"
import { StreamTruncatedError } from "../src/errors.ts"
import type { FailoverEvent } from "../src/machine.ts"

const member = { providerID: "amazon-bedrock", modelID: "anthropic.claude-sonnet-4-5-20250929-v1:0" }

/** An edge over a recorded event log and a minimal attempt flag, as the machine keeps it. */
function harness() {
  const events: FailoverEvent[] = []
  let open = false
  const edge = new StepEdge({
    member,
    clock: () => 1,
    attemptOpen: () => open,
    feed: (event) => {
      events.push(event)
      if (event.type === "step_started") open = true
      if (event.type === "step_finished" || event.type === "step_failed") open = false
      return []
    },
  })
  return { edge, events, types: () => events.map((event) => event.type) }
}

describe("finish reasons", () => {
  test.each(["stop", "length", "content-filter", "tool-calls"])("%s is the provider's end of message", (reason) => {
    expect(finishFailure(reason)).toBeUndefined()
  })
  test("other with the provider's own reason is a finish", () => {
    expect(finishFailure("other", "guardrail_intervened")).toBeUndefined()
  })
  test.each([
    ["error", undefined],
    ["unknown", undefined],
    ["other", undefined],
    ["other", ""],
    [undefined, undefined],
  ])("%s (raw %s) is a stream cut short", (reason, raw) => {
    const failure = finishFailure(reason, raw)
    expect(StreamTruncatedError.isInstance(failure)).toBe(true)
    expect(failure?.finishReason).toBe(reason)
  })
})

describe("StepEdge", () => {
  test("both vocabularies: an AI SDK finish-step and an OpenCode step-finish feed step_finished", () => {
    for (const part of [
      { type: "finish-step", finishReason: "stop", rawFinishReason: "end_turn" },
      { type: "step-finish", reason: "stop" },
    ]) {
      const { edge, types } = harness()
      edge.start({ fresh: true })
      expect(edge.observe({ type: "text-delta", text: "Hi" })).toBeUndefined()
      expect(edge.observe(part)).toBeUndefined()
      expect(edge.observe({ type: "finish", finishReason: "stop" })).toBeUndefined()
      expect(edge.closed()).toBeUndefined()
      expect(types()).toEqual(["step_started", "first_content", "step_finished"])
      expect(edge.outcome).toBe("finished")
    }
  })

  test("Bedrock's dropped exception frame: text, then finish reason other with no stopReason, is a failure", () => {
    const { edge, types } = harness()
    edge.start({ fresh: true })
    edge.observe({ type: "text-delta", text: "Half an ans" })
    const failure = edge.observe({ type: "finish-step", finishReason: "other", rawFinishReason: undefined })
    expect(StreamTruncatedError.isInstance(failure)).toBe(true)
    const { error } = edge.fail(failure)
    expect(error.reason).toBe("network")
    expect(types()).toEqual(["step_started", "first_content", "step_failed"])
  })

  test("OpenCode's step-finish with reason unknown or error is a failure, never step_finished", () => {
    for (const reason of ["unknown", "error"]) {
      const { edge, types } = harness()
      edge.start({ fresh: true })
      expect(edge.observe({ type: "step-finish", reason })).toBeInstanceOf(Error)
      expect(types()).not.toContain("step_finished")
    }
  })

  test("a stream that closes without any finish was cut short", () => {
    const { edge } = harness()
    edge.start({ fresh: true })
    edge.observe({ type: "text-delta", text: "Hi" })
    expect(StreamTruncatedError.isInstance(edge.closed())).toBe(true)
  })

  test("a stream retried after a passed failure opens a new attempt on its first part, so its tool calls count", () => {
    const { edge, events, types } = harness()
    edge.start({ fresh: true })
    edge.fail(new Error("first attempt failed"))
    edge.observe({ type: "tool-call", id: "call_1" })
    edge.observe({ type: "tool-result", id: "call_1" })
    expect(types()).toEqual(["step_started", "step_failed", "step_started", "first_content", "tool_call", "tool_completed"])
    expect(events.find((event) => event.type === "tool_call")).toMatchObject({ toolCallId: "call_1" })
  })

  test("a tool call of an earlier attempt of the step counts in the attempt that fails (the stock retry's 429)", () => {
    const { edge, events, types } = harness()
    edge.start({ fresh: true })
    edge.observe({ type: "tool-call", id: "call_1" })
    edge.observe({ type: "tool-result", id: "call_1" })
    edge.fail(new Error("overloaded, left to the stock retry"))
    // The retried stream fails before any part.
    edge.fail(new Error("429"))
    expect(types()).toEqual(["step_started", "first_content", "tool_call", "tool_completed", "step_failed", "step_started", "tool_call", "step_failed"])
    expect(events.filter((event) => event.type === "tool_call").map((event) => event.toolCallId)).toEqual(["call_1", "call_1"])
  })

  test("a tool that started running counts though its stream part never arrived, and only once", () => {
    const { edge, types } = harness()
    edge.start({ fresh: true })
    edge.observe({ type: "text-delta", text: "Running it." })
    edge.toolStarted("call_1")
    edge.observe({ type: "tool-call", id: "call_1" })
    edge.toolStarted("call_2")
    edge.fail(new Error("terminated"))
    expect(types()).toEqual(["step_started", "first_content", "tool_call", "tool_call", "step_failed"])
    expect([...edge.toolsStarted]).toEqual(["call_1", "call_2"])
  })

  test("a failure before any part of a retried stream (an HTTP error) opens its attempt first", () => {
    const { edge, types } = harness()
    edge.start({ fresh: true })
    edge.fail(new Error("one"))
    edge.fail(new Error("two"))
    expect(types()).toEqual(["step_started", "step_failed", "step_started", "step_failed"])
  })
})

describe("the provider's own finish reason through OpenCode's step-finish", () => {
  test("an `other` with the provider's reason is kept in the step metadata; nothing else changes it", () => {
    const metadata = { anthropic: { cacheCreationInputTokens: 0 } }
    expect(withProviderFinishReason(metadata, { finishReason: "other", rawFinishReason: "compaction" })).toEqual({
      ...metadata,
      "combined-models": { rawFinishReason: "compaction" },
    })
    expect(withProviderFinishReason(metadata, { finishReason: "stop", rawFinishReason: "end_turn" })).toBe(metadata)
    expect(withProviderFinishReason(metadata, { finishReason: "other", rawFinishReason: undefined })).toBe(metadata)
    expect(withProviderFinishReason(undefined, { finishReason: "other" })).toBeUndefined()
  })

  test("OpenCode's `unknown` with the provider's reason is a finish; without it, a stream cut short", () => {
    const finished = harness()
    finished.edge.start({ fresh: true })
    const providerMetadata = withProviderFinishReason(undefined, { finishReason: "other", rawFinishReason: "compaction" })
    expect(finished.edge.observe({ type: "step-finish", reason: "unknown", providerMetadata })).toBeUndefined()
    expect(finished.types()).toContain("step_finished")

    const cut = harness()
    cut.edge.start({ fresh: true })
    expect(StreamTruncatedError.isInstance(cut.edge.observe({ type: "step-finish", reason: "unknown", providerMetadata: {} }))).toBe(true)
  })
})

test("a failure after the provider's finish is the caller's: nothing reaches the machine, it passes through", () => {
  const { edge, types } = harness()
  edge.start({ fresh: true })
  edge.observe({ type: "finish-step", finishReason: "stop", rawFinishReason: "end_turn" })
  const { actions } = edge.fail(new Error("database is locked"))
  expect(types()).toEqual(["step_started", "step_finished"])
  expect(actions.map((action) => action.type)).toEqual(["pass_through"])
})
