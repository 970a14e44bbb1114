/**
 * A provider refusing the reasoning in a step's history (a thinking signature it cannot verify): read from the real
 * bodies, and resent once on the same member without that reasoning instead of ending the turn.
 */
import { describe, expect, test } from "bun:test"
import { APICallError } from "@ai-sdk/provider"
import { classify } from "../src/classify.ts"
import { initialState, type FailoverContext, type FailoverEvent } from "../src/machine.ts"
import type { ClassifiedError, MemberRef } from "../src/types.ts"
import { config, healthOf, playEvents, sonnetGroup } from "./fixtures.ts"

const T0 = 1_700_000_000_000
const anthropic: MemberRef = { providerID: "anthropic", modelID: "claude-sonnet-4-5" }

const badRequest = (url: string, body: string, headers: Record<string, string> = {}) =>
  new APICallError({ message: "Bad Request", url, requestBodyValues: {}, statusCode: 400, responseHeaders: headers, responseBody: body, isRetryable: false })

/** Anthropic's body, as api.anthropic.com answers a thinking block signed for another model. */
const ANTHROPIC_BODY =
  '{"type":"error","error":{"type":"invalid_request_error","message":"messages.1.content.0: Invalid `signature` in `thinking` block"},"request_id":"req_011CWkB65DcNzK2MiofhXx8b"}'
/** Bedrock's ValidationException passing the model's own refusal on. */
const BEDROCK_BODY = '{"message":"The model returned the following errors: messages.1.content.0: Invalid `signature` in `thinking` block"}'

describe("classify: a refused thinking signature", () => {
  test("Anthropic's 400 is a request error that refused the reasoning", () => {
    const error = classify(badRequest("https://api.anthropic.com/v1/messages", ANTHROPIC_BODY), { providerID: "anthropic" })
    expect(error).toMatchObject({ reason: "invalid_request", statusCode: 400, refusedReasoning: true })
    expect(error.message).toContain("Invalid `signature` in `thinking` block")
  })

  test("Bedrock's ValidationException, and the wording without backticks or with a missing signature, are too", () => {
    const bedrock = classify(
      badRequest("https://bedrock-runtime.us-east-1.amazonaws.com/model/x/converse-stream", BEDROCK_BODY, {
        "x-amzn-errortype": "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/",
      }),
      { providerID: "amazon-bedrock" },
    )
    expect(bedrock).toMatchObject({ reason: "invalid_request", refusedReasoning: true })
    const plain = classify(badRequest("x", '{"message":"messages.39.content.0: Invalid signature in thinking block"}'))
    expect(plain.refusedReasoning).toBe(true)
    const missing = classify(badRequest("x", '{"message":"The model returned the following errors: messages.3.content.0.thinking.signature: Field required"}'))
    expect(missing.refusedReasoning).toBe(true)
  })

  test("other 400s, and a tool loop that lacks its thinking block, are not", () => {
    const other = classify(badRequest("x", '{"type":"error","error":{"type":"invalid_request_error","message":"Invalid request"}}'))
    expect(other.refusedReasoning).toBeUndefined()
    const loop = classify(
      badRequest(
        "x",
        '{"type":"error","error":{"type":"invalid_request_error","message":"messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `text`."}}',
      ),
    )
    expect(loop.refusedReasoning).toBeUndefined()
  })
})

describe("machine: the refused step is resent once without the reasoning", () => {
  const context = (): FailoverContext => ({ group: sonnetGroup(), health: healthOf(), config: config() })
  const refused: ClassifiedError = { reason: "invalid_request", statusCode: 400, message: "Invalid `signature` in `thinking` block", refusedReasoning: true }
  const attempt = (offset: number): FailoverEvent[] => [
    { type: "step_requested", at: T0 + offset },
    { type: "step_started", at: T0 + offset, member: anthropic },
    { type: "step_failed", at: T0 + offset, error: refused },
  ]

  test("the same member at once, keeping only its own reasoning; nothing cools, nothing switches", () => {
    const { state, actions } = playEvents([{ type: "turn_started", at: T0 }, ...attempt(0)], context(), initialState("claude-sonnet-4-5"))
    const decided = actions.filter((action) => action.type !== "use")
    expect(decided).toEqual([
      {
        type: "retry",
        member: expect.objectContaining(anthropic),
        mode: "replay",
        delayMs: 0,
        notice: "anthropic refused thinking written under another id of claude-sonnet-4-5; resending without it",
        ownReasoningOnly: true,
      },
    ])
    expect(state.turn.switches).toBe(0)
    expect(state.next).toMatchObject({ member: anthropic, mode: "replay" })
  })

  test("refused again in the same turn, it is the request's error; the next turn may resend once more", () => {
    const twice = playEvents([{ type: "turn_started", at: T0 }, ...attempt(0), ...attempt(10)], context(), initialState("claude-sonnet-4-5"))
    expect(twice.actions.at(-1)).toEqual({ type: "pass_through", error: refused })
    const nextTurn = playEvents([{ type: "turn_started", at: T0 + 20 }, ...attempt(20)], context(), twice.state)
    expect(nextTurn.actions.at(-1)).toMatchObject({ type: "retry", ownReasoningOnly: true })
  })

  test("a refused request without the mark still passes through as before", () => {
    const plain: ClassifiedError = { reason: "invalid_request", statusCode: 400, message: "Invalid request" }
    const { actions } = playEvents(
      [{ type: "turn_started", at: T0 }, { type: "step_requested", at: T0 }, { type: "step_started", at: T0, member: anthropic }, { type: "step_failed", at: T0, error: plain }],
      context(),
    )
    expect(actions.at(-1)).toEqual({ type: "pass_through", error: plain })
  })
})
