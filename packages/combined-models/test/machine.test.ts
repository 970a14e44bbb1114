import { describe, expect, test } from "bun:test"
import { HealthRegistry, recordOutcomes, type CooldownEntry } from "../src/health.ts"
import {
  initialState,
  transition,
  type FailoverAction,
  type FailoverContext,
  type FailoverEvent,
  type FailoverState,
} from "../src/machine.ts"
import type { ClassifiedError, MemberRef } from "../src/types.ts"
import { config, cooling, healthOf, member, playEvents, sonnetGroup } from "./fixtures.ts"
import type { Group } from "../src/types.ts"

const T0 = 1_700_000_000_000

function context(overrides: Partial<FailoverContext> = {}, entries: CooldownEntry[] = []): FailoverContext {
  return { group: sonnetGroup(), health: healthOf(entries), config: config(), ...overrides }
}

/** Feed events in order; returns the final state and every action, in order. */
function play(events: FailoverEvent[], ctx = context(), from: FailoverState = initialState("claude-sonnet-4-5")) {
  return playEvents(events, ctx, from)
}

const err = (reason: ClassifiedError["reason"], extra: Partial<ClassifiedError> = {}): ClassifiedError => ({
  reason,
  message: `${reason} from test`,
  ...extra,
})

const at = (offset: number) => T0 + offset
const anthropic: MemberRef = { providerID: "anthropic", modelID: "claude-sonnet-4-5" }
const copilot: MemberRef = { providerID: "github-copilot", modelID: "claude-sonnet-4.5" }
const bedrockUS: MemberRef = { providerID: "amazon-bedrock", modelID: "us.anthropic.claude-sonnet-4-5-20250929-v1:0" }
const openrouter: MemberRef = { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" }

const startOn = (member: MemberRef, offset = 0): FailoverEvent[] => [
  { type: "step_requested", at: at(offset) },
  { type: "step_started", at: at(offset), member },
]

function lastRouting(actions: FailoverAction[]) {
  return actions.filter((action) => action.type !== "cool_down" && action.type !== "recovered").at(-1)
}

describe("routing a step", () => {
  test("the first healthy member in priority order serves", () => {
    const { actions } = play([{ type: "turn_started", at: at(0) }, { type: "step_requested", at: at(0) }])
    expect(actions).toEqual([{ type: "use", member: expect.objectContaining(anthropic), mode: "fresh" }])
  })

  test("a member cooling down is skipped before any request is sent", () => {
    const { actions } = play([{ type: "step_requested", at: at(0) }], context({}, [cooling("anthropic", "*", at(60_000), "quota")]))
    expect(actions).toEqual([{ type: "use", member: expect.objectContaining(copilot), mode: "fresh" }])
  })

  test("a cooldown on one id of a provider covers its other ids in the group: one model, one quota", () => {
    const { actions } = play([{ type: "step_requested", at: at(0) }], context({}, [cooling("anthropic", "claude-sonnet-4-5", at(60_000))]))
    expect(actions).toEqual([{ type: "use", member: expect.objectContaining(copilot), mode: "fresh" }])
  })

  test("a member whose window is smaller than the conversation is never chosen", () => {
    const entries = [cooling("anthropic", "*", at(60_000))]
    const { actions } = play([{ type: "step_requested", at: at(0), contextTokens: 180_000 }], context({}, entries))
    expect(actions).toEqual([{ type: "use", member: expect.objectContaining(bedrockUS), mode: "fresh" }])
  })

  test("a provider without credentials or outside enabled_providers is never chosen", () => {
    const ctx = context({ access: { connected: new Set(["github-copilot", "openrouter"]) } })
    expect(play([{ type: "step_requested", at: at(0) }], ctx).actions[0]).toMatchObject({ member: copilot })
    const enabled = context({ access: { enabled: new Set(["openrouter"]) } })
    expect(play([{ type: "step_requested", at: at(0) }], enabled).actions[0]).toMatchObject({ member: openrouter })
    const disabled = context({ access: { disabled: new Set(["anthropic", "github-copilot"]) } })
    expect(play([{ type: "step_requested", at: at(0) }], disabled).actions[0]).toMatchObject({ member: bedrockUS })
  })

  test("a member excluded by config is never chosen", () => {
    const ctx = context({ config: config({ exclude: ["anthropic/*", "github-copilot"] }) })
    expect(play([{ type: "step_requested", at: at(0) }], ctx).actions[0]).toMatchObject({ member: bedrockUS })
  })

  test("when every member cools down, it waits for the soonest within max_wait and gives up beyond it", () => {
    const everyone = (until: number) =>
      ["anthropic", "github-copilot", "amazon-bedrock", "openrouter"].map((id) => cooling(id, "*", at(until + id.length)))
    const soon = play([{ type: "step_requested", at: at(0) }], context({}, everyone(20_000)))
    expect(soon.actions).toEqual([
      expect.objectContaining({ type: "wait", member: expect.objectContaining(anthropic), delayMs: 20_009 }),
    ])
    const late = play([{ type: "step_requested", at: at(0) }], context({}, everyone(10 * 60_000)))
    expect(late.actions).toEqual([expect.objectContaining({ type: "surface", cause: "no_member" })])
    const message = (late.actions[0] as { message: string }).message
    // At once, asking nobody: one line per member, with why and how long is left.
    expect(message).toContain("Every provider of Claude Sonnet 4.5 is out for longer than combined_models.max_wait (1 min); no request was sent:")
    expect(message).toContain("- anthropic/claude-sonnet-4-5: anthropic rate-limited: test; 10 min left")
    expect(message).toContain("- openrouter/anthropic/claude-sonnet-4.5: openrouter rate-limited: test; 10 min left")
    expect(late.state.phase).toBe("failed")
  })

  test("auth cooldowns never end on their own, so nothing waits for them", () => {
    const entries = ["anthropic", "github-copilot", "amazon-bedrock", "openrouter"].map((id) =>
      cooling(id, "*", Number.POSITIVE_INFINITY, "auth"),
    )
    const { actions } = play([{ type: "step_requested", at: at(0) }], context({}, entries))
    expect(actions[0]).toMatchObject({ type: "surface", cause: "no_member" })
  })
})

describe("a failed step", () => {
  test("a long Retry-After switches at once: cooldown recorded, step replayed on the next provider", () => {
    const { actions, state } = play([
      ...startOn(anthropic),
      { type: "first_content", at: at(100), kind: "text" },
      { type: "step_failed", at: at(200), error: err("rate_limit", { statusCode: 429, retryAfterMs: 30_000 }) },
    ])
    expect(actions).toEqual([
      { type: "use", member: expect.objectContaining(anthropic), mode: "fresh" },
      { type: "cool_down", member: anthropic, error: expect.objectContaining({ reason: "rate_limit" }), attemptStartedAt: at(0) },
      {
        type: "replay",
        from: anthropic,
        member: expect.objectContaining(copilot),
        notice: "anthropic rate-limited, retry in 30 s → github-copilot",
      },
    ])
    expect(state.turn.switches).toBe(1)
    expect(state.next).toEqual({ member: copilot, mode: "replay", notBefore: at(200) })
  })

  test("the decided member is what the next step uses", () => {
    const { actions } = play([
      ...startOn(anthropic),
      { type: "step_failed", at: at(200), error: err("rate_limit", { retryAfterMs: 30_000 }) },
      { type: "step_requested", at: at(201) },
    ])
    expect(actions.at(-1)).toEqual({ type: "use", member: expect.objectContaining(copilot), mode: "replay" })
  })

  test("a short Retry-After is waited out on the same member once, then it switches", () => {
    const { actions } = play([
      ...startOn(anthropic),
      { type: "step_failed", at: at(100), error: err("rate_limit", { statusCode: 429, retryAfterMs: 2_000 }) },
      ...startOn(anthropic, 2_100),
      { type: "step_failed", at: at(2_200), error: err("rate_limit", { statusCode: 429, retryAfterMs: 2_000 }) },
    ])
    const routing = actions.filter((action) => action.type === "retry" || action.type === "replay")
    expect(routing).toEqual([
      expect.objectContaining({ type: "retry", member: expect.objectContaining(anthropic), delayMs: 2_000 }),
      expect.objectContaining({ type: "replay", member: expect.objectContaining(copilot) }),
    ])
    // The named wait is shared with other sessions through the registry, both times.
    expect(actions.filter((action) => action.type === "cool_down")).toHaveLength(2)
  })

  test("a 500 without Retry-After gets one quick retry and records no cooldown for it", () => {
    const { actions } = play([...startOn(anthropic), { type: "step_failed", at: at(100), error: err("server_error", { statusCode: 500 }) }])
    expect(actions.slice(1)).toEqual([
      {
        type: "retry",
        member: expect.objectContaining(anthropic),
        mode: "replay",
        delayMs: 1_000,
        notice: "anthropic failed with a server error (500), retrying in 1 s",
      },
    ])
  })

  test("with retries_before_failover 0 a short wait still switches", () => {
    const ctx = context({ config: config({ retriesBeforeFailover: 0 }) })
    const { actions } = play([...startOn(anthropic), { type: "step_failed", at: at(100), error: err("server_error", { statusCode: 503 }) }], ctx)
    expect(lastRouting(actions)).toMatchObject({ type: "replay", member: copilot })
  })

  test("quota and auth never retry the same provider, and its other ids are not failover targets", () => {
    for (const reason of ["quota", "auth"] as const) {
      const { actions, state } = play([...startOn(anthropic), { type: "step_failed", at: at(100), error: err(reason, { retryAfterMs: 1 }) }])
      expect(lastRouting(actions)).toMatchObject({ type: "replay", member: copilot })
      expect(state.turn.abandoned).toEqual(["anthropic"])
    }
  })

  test("after a tool call the turn continues from the tool results instead of replaying", () => {
    const { actions } = play([
      ...startOn(anthropic),
      { type: "first_content", at: at(10), kind: "tool" },
      { type: "tool_call", at: at(10), toolCallId: "call_1" },
      { type: "tool_completed", at: at(50), toolCallId: "call_1" },
      { type: "step_failed", at: at(100), error: err("overloaded", { statusCode: 529, retryAfterMs: 60_000 }) },
    ])
    expect(lastRouting(actions)).toEqual({
      type: "continue",
      from: anthropic,
      member: expect.objectContaining(copilot),
      notice: "anthropic overloaded, retry in 1 min → github-copilot",
    })
  })

  test("a tool call still running when the stream broke also continues: it must never run twice", () => {
    const { actions } = play([
      ...startOn(anthropic),
      { type: "tool_call", at: at(10), toolCallId: "call_1" },
      { type: "step_failed", at: at(100), error: err("network", { retryAfterMs: 60_000 }) },
    ])
    expect(lastRouting(actions)).toMatchObject({ type: "continue" })
  })

  test("user abort, context overflow and bad requests never fail over nor cool anything down", () => {
    for (const reason of ["aborted", "context_overflow", "invalid_request"] as const) {
      const { actions } = play([...startOn(anthropic), { type: "step_failed", at: at(100), error: err(reason, { statusCode: 400 }) }])
      expect(actions.slice(1)).toEqual([{ type: "pass_through", error: expect.objectContaining({ reason }) }])
    }
    const aborted = play([...startOn(anthropic), { type: "user_abort", at: at(50) }])
    expect(aborted.actions.slice(1)).toEqual([])
    expect(aborted.state.phase).toBe("aborted")
  })

  test("a reason left out of failover_on is handed back to OpenCode", () => {
    const ctx = context({ config: config({ failoverOn: ["quota"] }) })
    const { actions } = play([...startOn(anthropic), { type: "step_failed", at: at(100), error: err("rate_limit", { retryAfterMs: 60_000 }) }], ctx)
    expect(actions.slice(1)).toEqual([{ type: "pass_through", error: expect.objectContaining({ reason: "rate_limit" }) }])
  })

  test("when every member fails, each is tried once and the error names every failure", () => {
    const failures: Record<string, ClassifiedError> = {
      anthropic: err("rate_limit", { statusCode: 429, retryAfterMs: 30_000, message: "Rate limit reached" }),
      "github-copilot": err("auth", { statusCode: 401, message: "Unauthorized" }),
      "amazon-bedrock": err("quota", { statusCode: 429, message: "Monthly quota exceeded" }),
      openrouter: err("server_error", { statusCode: 502, message: "Bad gateway" }),
    }
    let state = initialState("claude-sonnet-4-5")
    const ctx = context({ config: config({ retriesBeforeFailover: 0 }) })
    const sent: MemberRef[] = []
    let final: FailoverAction | undefined
    for (let step = 0; step < 10 && !final; step++) {
      const requested = transition(state, { type: "step_requested", at: at(step) }, ctx)
      const use = requested.actions.find((action) => action.type === "use")
      if (!use || use.type !== "use") {
        final = requested.actions[0]
        break
      }
      sent.push({ providerID: use.member.providerID, modelID: use.member.modelID })
      state = transition(requested.state, { type: "step_started", at: at(step), member: use.member }, ctx).state
      const failed = transition(state, { type: "step_failed", at: at(step), error: failures[use.member.providerID]! }, ctx)
      state = failed.state
      final = failed.actions.find((action) => action.type === "surface")
    }
    expect(sent.map((member) => member.providerID)).toEqual(["anthropic", "github-copilot", "amazon-bedrock", "openrouter"])
    expect(final).toMatchObject({ type: "surface", cause: "all_failed" })
    const message = (final as { message: string }).message
    expect(message).toBe(
      [
        "Every provider of Claude Sonnet 4.5 failed:",
        "- anthropic/claude-sonnet-4-5: anthropic rate-limited: Rate limit reached",
        "- github-copilot/claude-sonnet-4.5: github-copilot rejected the credentials: Unauthorized (run `opencode auth login` and sign in to github-copilot again)",
        "- amazon-bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0: amazon-bedrock out of quota: Monthly quota exceeded (check the plan or billing of amazon-bedrock)",
        "- openrouter/anthropic/claude-sonnet-4.5: openrouter failed with a server error (502): Bad gateway",
      ].join("\n"),
    )
  })

  test("the switch budget ends the turn with an error instead of bouncing between providers", () => {
    const ctx = context({ config: config({ maxSwitchesPerTurn: 1, retriesBeforeFailover: 0 }) })
    const { actions } = play(
      [
        ...startOn(anthropic),
        { type: "step_failed", at: at(1), error: err("server_error", { statusCode: 500 }) },
        { type: "step_requested", at: at(2) },
        { type: "step_started", at: at(2), member: copilot },
        { type: "step_failed", at: at(3), error: err("server_error", { statusCode: 500 }) },
      ],
      ctx,
    )
    const surfaced = actions.find((action) => action.type === "surface")
    expect(surfaced).toMatchObject({ cause: "switch_budget" })
    expect((surfaced as { message: string }).message).toContain("combined_models.max_switches_per_turn")
    expect(actions.filter((action) => action.type === "cool_down")).toHaveLength(2)
  })
})

describe("stickiness", () => {
  const failoverToCopilot: FailoverEvent[] = [
    { type: "turn_started", at: at(0) },
    ...startOn(anthropic),
    { type: "step_failed", at: at(1), error: err("rate_limit", { retryAfterMs: 1_000 * 30 }) },
    { type: "step_requested", at: at(2) },
    { type: "step_started", at: at(2), member: copilot },
    { type: "step_finished", at: at(3) },
  ]

  test("within a turn the member that answered keeps serving, even once the preferred one is back", () => {
    const { actions, state } = play([...failoverToCopilot, { type: "step_requested", at: at(40_000) }])
    expect(actions).toContainEqual({ type: "recovered", member: copilot, attemptStartedAt: at(2) })
    expect(actions.at(-1)).toMatchObject({ type: "use", member: copilot, mode: "fresh" })
    expect(state.turn.servedBy).toEqual(copilot)
  })

  test("at the next turn it returns to the preferred member once healthy", () => {
    const { actions } = play([
      ...failoverToCopilot,
      { type: "turn_finished", at: at(4) },
      { type: "turn_started", at: at(40_000) },
      { type: "step_requested", at: at(40_000) },
    ])
    expect(actions.at(-1)).toMatchObject({ type: "use", member: anthropic })
  })

  test('sticky "session" keeps the member that answered across turns', () => {
    const events: FailoverEvent[] = [...failoverToCopilot, { type: "turn_started", at: at(40_000) }, { type: "step_requested", at: at(40_000) }]
    expect(play(events, context({ config: config({ sticky: "session" }) })).actions.at(-1)).toMatchObject({ member: copilot })
  })

  test('sticky "off" goes back to the preferred member mid-turn as soon as it recovers; "turn" does not', () => {
    // Another session's failure cooled anthropic; this session never failed on it.
    const entries = [cooling("anthropic", "*", at(30_000))]
    const events: FailoverEvent[] = [
      { type: "turn_started", at: at(0) },
      { type: "step_requested", at: at(0) },
      { type: "step_started", at: at(0), member: copilot },
      { type: "step_finished", at: at(1) },
      { type: "step_requested", at: at(40_000) },
    ]
    expect(play(events, context({ config: config({ sticky: "off" }) }, entries)).actions.at(-1)).toMatchObject({ member: anthropic })
    expect(play(events, context({ config: config({ sticky: "turn" }) }, entries)).actions.at(-1)).toMatchObject({ member: copilot })
  })

  test("a sticky member that starts cooling down is left for the next in priority not yet failed this turn", () => {
    const entries = [cooling("github-copilot", "*", at(100_000))]
    const { actions } = play([...failoverToCopilot, { type: "step_requested", at: at(5) }], context({}, entries))
    expect(actions.at(-1)).toMatchObject({ type: "use", member: bedrockUS })
  })

  test("a new turn forgets the last turn's failures and switches", () => {
    const { state } = play([...failoverToCopilot, { type: "turn_started", at: at(40_000) }])
    expect(state.turn).toEqual({ index: 2, depth: 0, switches: 0, retries: 0, failures: [], abandoned: [] })
    expect(state.lastServed).toEqual(copilot)
  })
})

test("events out of order are ignored rather than crashing the session", () => {
  const ctx = context()
  const state = initialState("claude-sonnet-4-5")
  for (const event of [
    { type: "first_content", at: 1, kind: "text" },
    { type: "tool_completed", at: 1, toolCallId: "x" },
    { type: "step_finished", at: 1 },
  ] as FailoverEvent[]) {
    expect(transition(state, event, ctx)).toEqual({ state, actions: [] })
  }
  expect(transition(state, { type: "step_failed", at: 1, error: err("rate_limit") }, ctx).actions).toEqual([
    { type: "pass_through", error: expect.objectContaining({ reason: "rate_limit" }) },
  ])
})

test("an auth failure's notice says the provider is out until its credential changes, at most the auth cooldown", () => {
  const { actions } = play([...startOn(anthropic), { type: "step_failed", at: at(1), error: err("auth", { statusCode: 401 }) }])
  expect(lastRouting(actions)).toMatchObject({
    notice: "anthropic rejected the credentials, out until its credential changes (at most 1 h) → github-copilot",
  })
})

describe("fallback chains", () => {
  /** GPT-5 at two providers, then Haiku at one: the chain after the selected Sonnet. */
  function chain(): Group[] {
    const gpt5 = (providerID: string, modelID: string) => ({ ...member(providerID, modelID, 400_000), name: "GPT-5" })
    const gpt: Group = {
      ...sonnetGroup(),
      id: "gpt-5",
      name: "GPT-5",
      members: [gpt5("openai", "gpt-5"), gpt5("openrouter", "openai/gpt-5")],
      providers: ["openai", "openrouter"],
    }
    const haiku: Group = {
      ...sonnetGroup(),
      id: "claude-haiku-4-5",
      name: "Claude Haiku 4.5",
      members: [{ ...member("anthropic", "claude-haiku-4-5"), name: "Claude Haiku 4.5" }],
      providers: ["anthropic"],
    }
    return [gpt, haiku]
  }
  const withChain = (overrides: Parameters<typeof config>[0] = {}, entries: CooldownEntry[] = []) =>
    context({ fallbacks: chain(), config: config({ retriesBeforeFailover: 0, ...overrides }) }, entries)
  const openai: MemberRef = { providerID: "openai", modelID: "gpt-5" }
  const openrouterGpt: MemberRef = { providerID: "openrouter", modelID: "openai/gpt-5" }

  function failEveryone(ctx: FailoverContext, errorFor: (providerID: string) => ClassifiedError, limit = 12) {
    let state = initialState("claude-sonnet-4-5")
    const actions: FailoverAction[] = []
    const sent: string[] = []
    for (let step = 0; step < limit; step++) {
      const requested = transition(state, { type: "step_requested", at: at(step) }, ctx)
      actions.push(...requested.actions)
      const use = requested.actions.find((action) => action.type === "use")
      if (!use || use.type !== "use") break
      sent.push(`${use.member.providerID}/${use.member.modelID}`)
      state = transition(requested.state, { type: "step_started", at: at(step), member: use.member }, ctx).state
      const failed = transition(state, { type: "step_failed", at: at(step), error: errorFor(use.member.providerID) }, ctx)
      state = failed.state
      actions.push(...failed.actions)
      if (failed.actions.some((action) => action.type === "surface")) break
    }
    return { state, actions, sent }
  }

  test("when every member of the selected model has failed, the turn goes on with the next model", () => {
    const { sent, actions, state } = failEveryone(withChain({ maxFallbackDepth: 1 }), () => err("server_error", { statusCode: 503 }))
    // Each Sonnet provider once, then GPT-5 across its own members first, then nothing deeper (depth 1).
    expect(sent).toEqual([
      "anthropic/claude-sonnet-4-5",
      "github-copilot/claude-sonnet-4.5",
      "amazon-bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
      "openrouter/anthropic/claude-sonnet-4.5",
      "openai/gpt-5",
      "openrouter/openai/gpt-5",
    ])
    const fellBack = actions.find((action) => action.type === "replay" && action.member.providerID === "openai")
    expect(fellBack).toMatchObject({
      notice: "openrouter failed with a server error (503); Claude Sonnet 4.5 has no provider left → GPT-5 (openai)",
    })
    expect(actions.at(-1)).toMatchObject({ type: "surface", cause: "all_failed" })
    const message = (actions.at(-1) as { message: string }).message
    expect(message).toStartWith("Every provider of Claude Sonnet 4.5 and GPT-5 failed:")
    expect(message).toContain("openrouter/openai/gpt-5")
    expect(state.turn.depth).toBe(1)
  })

  test("max_fallback_depth bounds the walk, and 0 turns chains off", () => {
    expect(failEveryone(withChain({ maxFallbackDepth: 2 }), () => err("server_error")).sent.at(-1)).toBe("anthropic/claude-haiku-4-5")
    expect(failEveryone(withChain({ maxFallbackDepth: 0 }), () => err("server_error")).sent).toHaveLength(4)
  })

  test("a provider shut out whole (auth, quota) stays out further down the chain", () => {
    const errorFor = (providerID: string) => (providerID === "anthropic" ? err("auth", { statusCode: 401 }) : err("server_error"))
    const { sent } = failEveryone(withChain({ maxFallbackDepth: 2 }), errorFor)
    expect(sent).not.toContain("anthropic/claude-haiku-4-5")
  })

  test("tool results are kept when the turn moves to another model", () => {
    const ctx = withChain({}, [cooling("github-copilot", "*", at(1e6)), cooling("amazon-bedrock", "*", at(1e6)), cooling("openrouter", "*", at(1e6))])
    const { actions } = play(
      [
        ...startOn(anthropic),
        { type: "tool_call", at: at(1), toolCallId: "call_1" },
        { type: "tool_completed", at: at(2), toolCallId: "call_1" },
        { type: "step_failed", at: at(3), error: err("rate_limit", { retryAfterMs: 60_000 }) },
      ],
      ctx,
    )
    expect(lastRouting(actions)).toMatchObject({ type: "continue", member: openai })
  })

  /** Every Sonnet id cooling down, per model, so the same providers stay open for other models. */
  const sonnetCooling = (until: number) => sonnetGroup().members.map((m) => cooling(m.providerID, m.modelID, at(until)))

  test("at the start of a step a ready member down the chain beats waiting for the selected model's cooldowns", () => {
    const { actions, state } = play([{ type: "step_requested", at: at(0) }], withChain({}, sonnetCooling(20_000)))
    expect(actions).toEqual([
      { type: "use", member: expect.objectContaining(openai), mode: "fresh", notice: "Claude Sonnet 4.5 has no provider left → GPT-5 (openai)" },
    ])
    expect(state.turn.depth).toBe(1)
    // With nothing ready anywhere, it waits for the soonest of the selected model as before.
    const all = [...sonnetCooling(20_000), cooling("openai", "*", at(30_000)), cooling("openrouter", "*", at(30_000)), cooling("anthropic", "*", at(30_000))]
    expect(play([{ type: "step_requested", at: at(0) }], withChain({}, all)).actions[0]).toMatchObject({ type: "wait", delayMs: 20_000 })
  })

  test("the selected model comes back at the next turn once healthy; within the turn the fallback keeps serving", () => {
    const ctx = withChain({}, sonnetCooling(20_000))
    const first = play(
      [
        { type: "turn_started", at: at(0) },
        { type: "step_requested", at: at(0) },
        { type: "step_started", at: at(0), member: openai },
        { type: "step_finished", at: at(1) },
      ],
      ctx,
    )
    const sameTurn = play([{ type: "step_requested", at: at(30_000) }], ctx, first.state)
    expect(sameTurn.actions[0]).toMatchObject({ type: "use", member: openai })
    const nextTurn = play([{ type: "turn_started", at: at(30_000) }, { type: "step_requested", at: at(30_000) }], ctx, first.state)
    expect(nextTurn.actions.at(-1)).toMatchObject({ type: "use", member: anthropic })
    expect(nextTurn.state.turn.depth).toBe(0)
  })

  test("a combined entry fails over across its own members before the chain goes deeper", () => {
    const sonnetDown = ["anthropic", "github-copilot", "amazon-bedrock", "openrouter"].map((id) => cooling(id, "*", at(1e6)))
    const ctx = withChain({}, sonnetDown.filter((entry) => entry.providerID !== "openrouter").concat(cooling("openrouter", "anthropic/claude-sonnet-4.5", at(1e6))))
    const { actions } = play(
      [
        { type: "step_requested", at: at(0) },
        { type: "step_started", at: at(0), member: openai },
        { type: "step_failed", at: at(1), error: err("rate_limit", { retryAfterMs: 60_000 }) },
      ],
      ctx,
    )
    expect(lastRouting(actions)).toMatchObject({ type: "replay", member: openrouterGpt, notice: "openai rate-limited, retry in 1 min → openrouter" })
  })
})

describe("an OAuth sign-in's 401", () => {
  const oauth = context({ oauthProviders: new Set(["anthropic"]) })

  test("is retried once on the same member, with no cooldown: the auth plugin refreshes an expired token", () => {
    const { actions, state } = play([...startOn(anthropic), { type: "step_failed", at: at(1), error: err("auth", { statusCode: 401 }) }], oauth)
    expect(actions.some((action) => action.type === "cool_down")).toBe(false)
    expect(lastRouting(actions)).toMatchObject({ type: "retry", member: expect.objectContaining(anthropic), delayMs: 0 })
    expect((lastRouting(actions) as { notice: string }).notice).toContain("retrying once with a refreshed sign-in")
    expect(state.next).toMatchObject({ member: anthropic })
  })

  test("a second 401 in the turn cools the provider and moves on", () => {
    const { actions } = play(
      [
        ...startOn(anthropic),
        { type: "step_failed", at: at(1), error: err("auth", { statusCode: 401 }) },
        ...startOn(anthropic, 2),
        { type: "step_failed", at: at(3), error: err("auth", { statusCode: 401 }) },
      ],
      oauth,
    )
    expect(actions.filter((action) => action.type === "cool_down")).toHaveLength(1)
    expect(lastRouting(actions)).toMatchObject({ type: "replay", member: expect.objectContaining(copilot) })
  })

  test("an API key's 401 is not retried: the key will not change by itself", () => {
    const { actions } = play([...startOn(anthropic), { type: "step_failed", at: at(1), error: err("auth", { statusCode: 401 }) }])
    expect(actions.filter((action) => action.type === "cool_down")).toHaveLength(1)
    expect(lastRouting(actions)).toMatchObject({ type: "replay", member: expect.objectContaining(copilot) })
  })
})

describe("a decision made before a subtask or compaction", () => {
  /** Health that changes between events, as the shared registry does while a subtask runs. */
  function liveHealth() {
    const entries: CooldownEntry[] = []
    return { entries, ctx: context({ health: { cooldownOf: (m, now) => healthOf(entries).cooldownOf(m, now) } }) }
  }

  test("is routed again when its member cooled down meanwhile, keeping its mode", () => {
    const { entries, ctx } = liveHealth()
    // A failure after a tool call decides "continue on copilot"; the loop then runs a subtask first.
    const decided = play(
      [
        ...startOn(anthropic),
        { type: "tool_call", at: at(1), toolCallId: "t1" },
        { type: "tool_completed", at: at(2), toolCallId: "t1" },
        { type: "step_failed", at: at(3), error: err("rate_limit", { retryAfterMs: 600_000 }) },
      ],
      ctx,
    )
    expect(decided.state.next).toMatchObject({ member: copilot, mode: "continue" })
    entries.push(cooling("anthropic", "*", at(600_000), "quota"), cooling("github-copilot", "*", at(600_000), "quota"))
    const { actions } = play([{ type: "step_requested", at: at(60_000) }], ctx, decided.state)
    expect(actions).toEqual([{ type: "use", member: expect.objectContaining(bedrockUS), mode: "continue" }])
  })

  test("is kept when nothing changed, and when the only cooldown is the retry's own wait", () => {
    const { ctx } = liveHealth()
    const retried = play([...startOn(anthropic), { type: "step_failed", at: at(1), error: err("rate_limit", { retryAfterMs: 2_000 }) }], ctx)
    expect(lastRouting(retried.actions)).toMatchObject({ type: "retry" })
    const withOwnWait = context({ health: healthOf([cooling("anthropic", "claude-sonnet-4-5", at(2_001))]) })
    const { actions } = play([{ type: "step_requested", at: at(5) }], withOwnWait, retried.state)
    expect(actions).toEqual([{ type: "use", member: expect.objectContaining(anthropic), mode: "replay" }])
  })
})

describe("what a failure reaches", () => {
  const sonnetAt = (providerID: string, modelID: string) => member(providerID, modelID)
  const haikuGroup = (): Group => ({
    ...sonnetGroup(),
    id: "claude-haiku-4-5",
    name: "Claude Haiku 4.5",
    members: [sonnetAt("amazon-bedrock", "us.anthropic.claude-haiku-4-5-20251001-v1:0"), sonnetAt("anthropic", "claude-haiku-4-5")],
    providers: ["amazon-bedrock", "anthropic"],
  })
  const bedrockFirst = (): Group => ({
    ...sonnetGroup(),
    members: [sonnetAt("amazon-bedrock", bedrockUS.modelID), sonnetAt("anthropic", anthropic.modelID)],
    providers: ["amazon-bedrock", "anthropic"],
  })
  const accessDenied = err("model_unavailable", { scope: "model", statusCode: 403, code: "AccessDeniedException", message: "You don't have access to the model with the specified model ID." })

  /** One failed step on `failing`, recorded in a real registry as the session's edge would. */
  function failOnce(group: Group, failing: MemberRef, error: ClassifiedError) {
    let clock = at(0)
    const health = new HealthRegistry({ cooldowns: config().cooldowns, clock: () => clock })
    const ctx = context({ group, health })
    const { state, actions } = play([{ type: "turn_started", at: clock }, ...startOn(failing), { type: "step_failed", at: clock, error }], ctx)
    recordOutcomes(health, actions)
    return { health, state, actions, later: (offset: number) => (clock = at(offset)) }
  }

  test("a model-scoped refusal of Sonnet at Bedrock fails over, and leaves Haiku at Bedrock usable", () => {
    const { health, actions, later } = failOnce(bedrockFirst(), bedrockUS, accessDenied)
    expect(lastRouting(actions)).toMatchObject({ type: "replay", member: expect.objectContaining(anthropic) })
    expect(lastRouting(actions)).toMatchObject({ notice: `amazon-bedrock does not serve ${bedrockUS.modelID} to this account → anthropic` })
    later(60_000)
    // Sonnet at Bedrock stays out for hours; Haiku at Bedrock is the first choice for a Haiku turn.
    expect(health.cooldownOf(bedrockUS)?.until).toBe(at(0) + config().cooldowns.model_unavailable)
    const haiku = play([{ type: "turn_started", at: at(60_000) }, { type: "step_requested", at: at(60_000) }], context({ group: haikuGroup(), health }))
    expect(haiku.actions).toEqual([expect.objectContaining({ type: "use", member: expect.objectContaining({ providerID: "amazon-bedrock" }) })])
  })

  test("  paired: a refused credential at Bedrock keeps Haiku at Bedrock out too", () => {
    const { health } = failOnce(bedrockFirst(), bedrockUS, err("auth", { scope: "credential", statusCode: 403 }))
    const haiku = play([{ type: "step_requested", at: at(1_000) }], context({ group: haikuGroup(), health }))
    expect(haiku.actions).toEqual([expect.objectContaining({ type: "use", member: expect.objectContaining({ providerID: "anthropic" }) })])
  })

  test("down the fallback chain, a provider that refused only the last model is asked for the next one", () => {
    const ctx = context({ group: bedrockFirst(), fallbacks: [haikuGroup()], config: config({ maxFallbackDepth: 1 }) })
    const { actions } = play(
      [
        { type: "turn_started", at: at(0) },
        ...startOn(bedrockUS),
        { type: "step_failed", at: at(0), error: accessDenied },
        { type: "step_started", at: at(0), member: anthropic },
        { type: "step_failed", at: at(0), error: err("rate_limit", { scope: "model", statusCode: 429, retryAfterMs: 600_000 }) },
      ],
      ctx,
    )
    // Bedrock refused Sonnet, Anthropic rate-limited Sonnet: the turn goes on at Haiku, where Bedrock comes first again.
    const moves = actions.filter((action) => action.type === "replay")
    expect(moves.at(-1)).toMatchObject({ member: expect.objectContaining({ providerID: "amazon-bedrock", modelID: "us.anthropic.claude-haiku-4-5-20251001-v1:0" }) })
  })

  test("a key missing here fails over for this step, cools nothing, and the next turn asks that provider again", () => {
    const missing = err("auth", {
      scope: "request",
      message: "Anthropic API key is missing. Pass it using the 'apiKey' parameter or the ANTHROPIC_API_KEY environment variable.",
    })
    const { health, actions } = failOnce(sonnetGroup(), anthropic, missing)
    expect(lastRouting(actions)).toMatchObject({
      type: "replay",
      member: expect.objectContaining(copilot),
      notice: "anthropic has no API key here (ANTHROPIC_API_KEY is not set) → github-copilot",
    })
    expect(health.entries()).toEqual([])
    const next = play([{ type: "turn_started", at: at(1) }, { type: "step_requested", at: at(1) }], context({ health }))
    expect(next.actions).toEqual([expect.objectContaining({ type: "use", member: expect.objectContaining(anthropic) })])
  })

  test("a 429 with an hour's Retry-After is named a rate limit with its wait, not quota", () => {
    const { actions } = failOnce(sonnetGroup(), anthropic, err("rate_limit", { scope: "model", statusCode: 429, retryAfterMs: 58 * 60_000 }))
    expect(lastRouting(actions)).toMatchObject({ notice: "anthropic rate-limited for 58 min → github-copilot" })
  })

  test("Copilot's model_not_supported: the notice says it is the plan", () => {
    const { actions } = failOnce(sonnetGroup(), anthropic, err("model_unavailable", { scope: "model", statusCode: 400, code: "model_not_supported" }))
    expect(lastRouting(actions)).toMatchObject({ notice: "anthropic does not serve claude-sonnet-4-5 on this plan → github-copilot" })
  })
})
