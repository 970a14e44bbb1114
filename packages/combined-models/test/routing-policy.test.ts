/**
 * The routing policy beyond priority: limits read ahead from rate-limit headers, `round_robin`, `least_limited`,
 * `sticky: { window }` and the context-window fallback. All pure: plain data in, decisions out.
 */
import { describe, expect, test } from "bun:test"
import { headroomShare, limitClass, LimitsTable, readHeadroom, shortOf } from "../src/limits.ts"
import { initialState, type FailoverAction, type FailoverContext, type FailoverEvent } from "../src/machine.ts"
import { ordered, pick, usableWindow } from "../src/route.ts"
import type { ClassifiedError, Group, MemberRef } from "../src/types.ts"
import { config, healthOf, member, playEvents, sonnetGroup } from "./fixtures.ts"

const T0 = 1_700_000_000_000
const at = (offset: number) => T0 + offset
const anthropic: MemberRef = { providerID: "anthropic", modelID: "claude-sonnet-4-5" }
const copilot: MemberRef = { providerID: "github-copilot", modelID: "claude-sonnet-4.5" }
const bedrockUS: MemberRef = { providerID: "amazon-bedrock", modelID: "us.anthropic.claude-sonnet-4-5-20250929-v1:0" }
const openrouter: MemberRef = { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" }

const play = playEvents

const routing = (actions: FailoverAction[]) => actions.filter((action) => action.type !== "cool_down" && action.type !== "recovered")

/** One finished step on whatever member the machine chose. */
function stepOn(offset: number, served: MemberRef, contextTokens?: number): FailoverEvent[] {
  return [
    { type: "step_requested", at: at(offset), contextTokens },
    { type: "step_started", at: at(offset), member: served },
    { type: "step_finished", at: at(offset + 10) },
  ]
}

describe("reading limits from response headers", () => {
  test("Anthropic: the tighter of its tokens and input-tokens windows, with its RFC 3339 reset; output-tokens is not the step's", () => {
    const headroom = readHeadroom(
      {
        "anthropic-ratelimit-requests-remaining": "49",
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-reset": new Date(at(20_000)).toISOString(),
        "anthropic-ratelimit-tokens-remaining": "30000",
        "anthropic-ratelimit-tokens-limit": "80000",
        "anthropic-ratelimit-tokens-reset": new Date(at(40_000)).toISOString(),
        "anthropic-ratelimit-input-tokens-remaining": "12000",
        "anthropic-ratelimit-input-tokens-limit": "40000",
        "anthropic-ratelimit-input-tokens-reset": new Date(at(30_000)).toISOString(),
        // Far less left, but of what the answers spend: a step's input never counts against it.
        "anthropic-ratelimit-output-tokens-remaining": "900",
        "anthropic-ratelimit-output-tokens-limit": "8000",
        "anthropic-ratelimit-output-tokens-reset": new Date(at(30_000)).toISOString(),
      },
      at(0),
    )
    expect(headroom).toEqual({
      // Anthropic counts only uncached input against these windows.
      tokens: { remaining: 12_000, limit: 40_000, resetAt: at(30_000), excludesCacheReads: true },
      requests: { remaining: 49, limit: 50, resetAt: at(20_000) },
      scheme: "anthropic",
      seenAt: at(0),
    })
  })

  test("cache reads: Anthropic's windows leave out the prefix cached at the member that served last; OpenAI's count it", () => {
    const reset = new Date(at(40_000)).toISOString()
    const anthropicRoom = readHeadroom({ "anthropic-ratelimit-input-tokens-remaining": "20000", "anthropic-ratelimit-input-tokens-reset": reset }, at(0))
    // A long conversation, 95k of its 100k tokens read from Anthropic's cache: 5k count, and 20k are left.
    const cachedHere = { tokens: 100_000, cached: { member: anthropic, tokens: 95_000 } }
    expect(shortOf(anthropicRoom, cachedHere, at(0), anthropic)).toBeUndefined()
    // Another member holds no cache of it: the whole request counts there.
    expect(shortOf(anthropicRoom, { tokens: 100_000, cached: { member: copilot, tokens: 95_000 } }, at(0), anthropic)).toEqual({ resetAt: at(40_000) })
    const openaiRoom = readHeadroom({ "x-ratelimit-remaining-tokens": "20000", "x-ratelimit-reset-tokens": "40s" }, at(0))
    expect(shortOf(openaiRoom, { tokens: 100_000, cached: { member: copilot, tokens: 95_000 } }, at(0), copilot)).toEqual({ resetAt: at(40_000) })
  })

  test("limit classes: Anthropic's model class, OpenAI's model without its date, a gateway's key", () => {
    expect(limitClass("anthropic", "claude-sonnet-4-5-20250929")).toBe("claude-sonnet-4")
    expect(limitClass("anthropic", "claude-sonnet-4-0")).toBe("claude-sonnet-4")
    expect(limitClass("anthropic", "claude-haiku-4-5")).toBe("claude-haiku-4")
    expect(limitClass("anthropic", "claude-3-5-haiku-latest")).toBe("claude-haiku-3.5")
    expect(limitClass("anthropic", "claude-3-haiku-20240307")).toBe("claude-haiku-3")
    expect(limitClass("per_model", "gpt-4o-2024-08-06")).toBe("gpt-4o")
    expect(limitClass("per_model", "gpt-4o-mini")).toBe("gpt-4o-mini")
    expect(limitClass("account", "anthropic/claude-sonnet-4.5")).toBe("")
  })

  test("a title request on the small model keeps its own reading: the main model's allowance is read as it was", () => {
    const table = new LimitsTable()
    const haiku = { providerID: "anthropic", modelID: "claude-haiku-4-5" }
    const reset = new Date(at(40_000)).toISOString()
    table.record(anthropic, { "anthropic-ratelimit-input-tokens-remaining": "10", "anthropic-ratelimit-input-tokens-reset": reset }, at(0))
    table.record(haiku, { "anthropic-ratelimit-input-tokens-remaining": "50000", "anthropic-ratelimit-input-tokens-reset": reset }, at(1_000))
    expect(table.headroomOf(anthropic, at(2_000))?.tokens?.remaining).toBe(10)
    // The dated snapshot is the same class, so the same allowance.
    expect(table.headroomOf({ providerID: "anthropic", modelID: "claude-sonnet-4-5-20250929" }, at(2_000))?.tokens?.remaining).toBe(10)
    expect(table.headroomOf(haiku, at(2_000))?.tokens?.remaining).toBe(50_000)
    // Another key of the provider (another fingerprint) has its own allowance.
    expect(table.headroomOf(anthropic, at(2_000), "other-key")).toBeUndefined()
    table.record({ ...anthropic, credential: "other-key" }, { "anthropic-ratelimit-input-tokens-remaining": "70000", "anthropic-ratelimit-input-tokens-reset": reset }, at(1_500))
    expect(table.headroomOf(anthropic, at(2_000), "other-key")?.tokens?.remaining).toBe(70_000)
    expect(table.headroomOf(anthropic, at(2_000))?.tokens?.remaining).toBe(10)
  })

  test("a gateway's per-key reading covers every model of the key", () => {
    const table = new LimitsTable()
    table.record(openrouter, { "x-ratelimit-remaining": "0", "x-ratelimit-limit": "20", "x-ratelimit-reset": String(at(5_000)) }, at(0))
    expect(table.headroomOf({ providerID: "openrouter", modelID: "openai/gpt-5" }, at(1_000))?.requests?.remaining).toBe(0)
  })

  test("OpenAI-style: x-ratelimit-*-tokens with a duration reset", () => {
    const headers = new Headers({ "x-ratelimit-remaining-tokens": "900", "x-ratelimit-limit-tokens": "10000", "x-ratelimit-reset-tokens": "6m0s" })
    expect(readHeadroom(headers, at(0))?.tokens).toEqual({ remaining: 900, limit: 10_000, resetAt: at(360_000) })
  })

  test("gateways: plain x-ratelimit-* requests, reset in epoch ms", () => {
    const headroom = readHeadroom({ "x-ratelimit-remaining": "0", "x-ratelimit-limit": "20", "x-ratelimit-reset": String(at(5_000)) }, at(0))
    expect(headroom?.requests).toEqual({ remaining: 0, limit: 20, resetAt: at(5_000) })
  })

  test("no limit headers, or nonsense in them, read as nothing known", () => {
    expect(readHeadroom({ "content-type": "text/event-stream" }, at(0))).toBeUndefined()
    expect(readHeadroom({ "x-ratelimit-remaining-tokens": "lots" }, at(0))).toBeUndefined()
    expect(readHeadroom({ "anthropic-ratelimit-tokens-remaining": "-4" }, at(0))).toBeUndefined()
  })

  test("a step that needs more than is left before the reset is short; after the reset it is not", () => {
    const headroom = readHeadroom({ "x-ratelimit-remaining-tokens": "900", "x-ratelimit-reset-tokens": "40s" }, at(0))
    expect(shortOf(headroom, 5_000, at(1_000))).toEqual({ resetAt: at(40_000) })
    expect(shortOf(headroom, 500, at(1_000))).toBeUndefined()
    expect(shortOf(headroom, 5_000, at(40_000))).toBeUndefined()
    // Without a reset time nothing says when it is back: a ranking hint only.
    expect(shortOf(readHeadroom({ "x-ratelimit-remaining-tokens": "0" }, at(0)), 5_000, at(0))).toBeUndefined()
  })

  test("a reading without a reset holds a minute; a reset further than an hour away is taken as an hour", () => {
    const noReset = readHeadroom({ "x-ratelimit-remaining-tokens": "0", "x-ratelimit-limit-tokens": "100" }, at(0))!
    const table = new LimitsTable()
    const a = { providerID: "a", modelID: "m" }
    table.record(a, { "x-ratelimit-remaining-tokens": "0", "x-ratelimit-limit-tokens": "100" }, at(0))
    expect(table.headroomOf(a, at(59_000))).toMatchObject(noReset)
    expect(table.headroomOf(a, at(60_000))).toBeUndefined()
    // A bare "60000" reads as seconds (16 h): capped, the member is back within the hour.
    const far = readHeadroom({ "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "60000" }, at(0))
    expect(shortOf(far, undefined, at(0))).toEqual({ resetAt: at(3_600_000) })
    expect(shortOf(far, undefined, at(3_600_000))).toBeUndefined()
  })

  test("no requests left is short whatever the step's size", () => {
    const headroom = readHeadroom({ "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2s" }, at(0))
    expect(shortOf(headroom, undefined, at(0))).toEqual({ resetAt: at(2_000) })
  })

  test("headroom share: the tighter window's share; unknown and reset count as full", () => {
    const headroom = readHeadroom(
      { "x-ratelimit-remaining-tokens": "2500", "x-ratelimit-limit-tokens": "10000", "x-ratelimit-reset-tokens": "10s", "x-ratelimit-remaining-requests": "90", "x-ratelimit-limit-requests": "100" },
      at(0),
    )
    expect(headroomShare(headroom, at(0))).toBe(0.25)
    expect(headroomShare(headroom, at(10_000))).toBe(0.9)
    expect(headroomShare(undefined, at(0))).toBe(1)
  })

  test("the table keeps the latest reading per provider until it resets; a success without limit headers says nothing is known", () => {
    const table = new LimitsTable()
    table.record(anthropic, { "anthropic-ratelimit-tokens-remaining": "100", "anthropic-ratelimit-tokens-reset": new Date(at(30_000)).toISOString() }, at(0))
    expect(table.headroomOf(anthropic, at(2_000))?.tokens?.remaining).toBe(100)
    expect(table.headroomOf(anthropic, at(30_000))).toBeUndefined()
    table.record(anthropic, { "anthropic-ratelimit-tokens-remaining": "100", "anthropic-ratelimit-tokens-reset": new Date(at(30_000)).toISOString() }, at(0))
    table.record(anthropic, { "content-type": "application/json" }, at(1_000))
    expect(table.headroomOf(anthropic, at(2_000))).toBeUndefined()
    expect(table.headroomOf(openrouter, at(0))).toBeUndefined()
  })
})

/** Readings of each provider's Sonnet: every Sonnet id of one provider is one allowance (one limit class). */
function limitsOf(entries: Record<string, Record<string, string>>, seenAt = at(0)) {
  const table = new LimitsTable()
  for (const [providerID, headers] of Object.entries(entries)) {
    const sonnet = sonnetGroup().members.find((member) => member.providerID === providerID)!
    table.record({ providerID, modelID: sonnet.modelID }, headers, seenAt)
  }
  return table
}

describe("read-ahead: a step goes elsewhere before it is refused", () => {
  const nearly = { "anthropic-ratelimit-tokens-remaining": "2000", "anthropic-ratelimit-tokens-reset": new Date(at(40_000)).toISOString() }

  test("the member short of tokens for this step is passed over with a notice naming its reset", () => {
    const ctx: FailoverContext = { group: sonnetGroup(), health: healthOf(), config: config(), limits: limitsOf({ anthropic: nearly }) }
    const { actions } = play([{ type: "turn_started", at: at(0) }, { type: "step_requested", at: at(0), contextTokens: 5_000 }], ctx)
    expect(actions).toEqual([
      { type: "use", member: expect.objectContaining(copilot), mode: "fresh", notice: "anthropic near its limit, resets in 40 s → github-copilot" },
    ])
  })

  test("a step small enough for what is left stays; after the reset the member is back", () => {
    const ctx: FailoverContext = { group: sonnetGroup(), health: healthOf(), config: config(), limits: limitsOf({ anthropic: nearly }) }
    expect(play([{ type: "step_requested", at: at(0), contextTokens: 1_000 }], ctx).actions[0]).toMatchObject({ member: anthropic })
    const after = play([{ type: "turn_started", at: at(41_000) }, { type: "step_requested", at: at(41_000), contextTokens: 5_000 }], ctx)
    expect(after.actions).toEqual([{ type: "use", member: expect.objectContaining(anthropic), mode: "fresh" }])
  })

  test("when every member is short, the usual order stands (the provider may still answer)", () => {
    const group: Group = { ...sonnetGroup(), members: sonnetGroup().members.filter((m) => m.providerID === "anthropic" || m.providerID === "github-copilot") }
    const ctx: FailoverContext = { group, health: healthOf(), config: config(), limits: limitsOf({ anthropic: nearly, "github-copilot": nearly }) }
    const { actions } = play([{ type: "step_requested", at: at(0), contextTokens: 5_000 }], ctx)
    expect(actions).toEqual([{ type: "use", member: expect.objectContaining(anthropic), mode: "fresh" }])
  })

  test("the notice comes once a move: the turn's later steps on the other member say nothing", () => {
    const ctx: FailoverContext = { group: sonnetGroup(), health: healthOf(), config: config(), limits: limitsOf({ anthropic: nearly }) }
    const { actions } = play([{ type: "turn_started", at: at(0) }, ...stepOn(0, copilot, 5_000), { type: "step_requested", at: at(100), contextTokens: 5_000 }], ctx)
    const uses = actions.filter((action) => action.type === "use")
    expect(uses.map((use) => (use.type === "use" ? use.notice : "not a use"))).toEqual(["anthropic near its limit, resets in 40 s → github-copilot", undefined])
  })

  test("mid-turn, the sticky member near its limit is left for the next step, with a notice", () => {
    const limits = new LimitsTable()
    const ctx: FailoverContext = { group: sonnetGroup(), health: healthOf(), config: config(), limits }
    const first = play([{ type: "turn_started", at: at(0) }, ...stepOn(0, anthropic, 5_000)], ctx)
    limits.record(anthropic, nearly, at(20))
    const next = play([{ type: "step_requested", at: at(30), contextTokens: 5_000 }], ctx, first.state)
    expect(next.actions).toEqual([
      { type: "use", member: expect.objectContaining(copilot), mode: "fresh", notice: "anthropic near its limit, resets in 40 s → github-copilot" },
    ])
  })

  test("a member lower in the order than the one serving gives no notice", () => {
    const ctx: FailoverContext = { group: sonnetGroup(), health: healthOf(), config: config(), limits: limitsOf({ openrouter: nearly }) }
    const { actions } = play([{ type: "step_requested", at: at(0), contextTokens: 5_000 }], ctx)
    expect(actions).toEqual([{ type: "use", member: expect.objectContaining(anthropic), mode: "fresh" }])
  })
})

describe("strategies at routing time", () => {
  const twoProviders = (strategy: Group["strategy"]): Group => ({
    ...sonnetGroup(),
    strategy,
    members: [member("anthropic", "claude-sonnet-4-5"), member("github-copilot", "claude-sonnet-4.5"), member("openrouter", "anthropic/claude-sonnet-4.5")],
  })

  test("round_robin: each turn starts at the next member, and keeps it for the turn", () => {
    const ctx: FailoverContext = { group: twoProviders("round_robin"), health: healthOf(), config: config() }
    let state = initialState(ctx.group.id)
    const served: string[] = []
    for (let turn = 0; turn < 4; turn++) {
      const events: FailoverEvent[] = [{ type: "turn_started", at: at(turn * 1000), rotation: turn }]
      let result = play(events, ctx, state)
      for (let step = 0; step < 2; step++) {
        result = play([{ type: "step_requested", at: at(turn * 1000 + step * 10) }], ctx, result.state)
        const use = result.actions.find((action) => action.type === "use")!
        if (use.type !== "use") throw new Error("expected a use")
        served.push(`${turn}:${use.member.providerID}`)
        result = play([{ type: "step_started", at: at(turn * 1000 + step * 10), member: use.member }, { type: "step_finished", at: at(turn * 1000 + step * 10 + 5) }], ctx, result.state)
      }
      state = result.state
    }
    expect(served).toEqual(["0:anthropic", "0:anthropic", "1:github-copilot", "1:github-copilot", "2:openrouter", "2:openrouter", "3:anthropic", "3:anthropic"])
  })

  test("round_robin turns over providers, not their ids: two ids of one provider get one turn", () => {
    const group: Group = { ...sonnetGroup(), strategy: "round_robin" }
    const chosen = [0, 1, 2, 3, 4].map((rotation) => {
      const picked = pick(group, healthOf(), config(), { rotation }, { now: at(0) })
      return picked.kind === "member" ? picked.member.modelID : picked.kind
    })
    expect(chosen).toEqual([anthropic.modelID, copilot.modelID, bedrockUS.modelID, openrouter.modelID, anthropic.modelID])
  })

  test("round_robin turns over the healthy members only: a cooled one is skipped, not waited for", () => {
    const group = twoProviders("round_robin")
    const health = healthOf([{ providerID: "github-copilot", modelID: "*", reason: "rate_limit", since: 0, until: at(60_000), failures: 1, message: "test" }])
    const chosen = [0, 1, 2].map((rotation) => {
      const picked = pick(group, health, config(), { rotation }, { now: at(0) })
      return picked.kind === "member" ? picked.member.providerID : picked.kind
    })
    expect(chosen).toEqual(["anthropic", "openrouter", "anthropic"])
  })

  test("least_limited: the members read are ranked by share left, in the places they hold; one never read keeps its place", () => {
    const group = twoProviders("least_limited")
    const limits = limitsOf({
      anthropic: { "anthropic-ratelimit-tokens-remaining": "10000", "anthropic-ratelimit-tokens-limit": "80000", "anthropic-ratelimit-tokens-reset": new Date(at(60_000)).toISOString() },
      "github-copilot": { "x-ratelimit-remaining-tokens": "70000", "x-ratelimit-limit-tokens": "80000", "x-ratelimit-reset-tokens": "60s" },
    })
    expect(ordered(group, group.members, {}, { now: at(0), limits }).map((m) => m.providerID)).toEqual(["github-copilot", "anthropic", "openrouter"])
    const first = pick(group, healthOf(), config(), {}, { now: at(0), limits })
    expect(first.kind === "member" && first.member.providerID).toBe("github-copilot")
    // openrouter first in priority and never read: it keeps first place; the two that reported swap behind it.
    const unreadFirst: Group = { ...group, members: [group.members[2]!, group.members[0]!, group.members[1]!] }
    expect(ordered(unreadFirst, unreadFirst.members, {}, { now: at(0), limits }).map((m) => m.providerID)).toEqual(["openrouter", "github-copilot", "anthropic"])
    const none = pick(group, healthOf(), config(), {}, { now: at(0), limits: new LimitsTable() })
    expect(none.kind === "member" && none.member.providerID).toBe("anthropic")
  })
})

describe('sticky: { window }', () => {
  const ctx = (windowMs: number): FailoverContext => ({ group: sonnetGroup(), health: healthOf(), config: config({ sticky: { windowMs } }) })
  const coolAnthropicThenRecover = (c: FailoverContext) => {
    // Turn 1 is served by Copilot (anthropic was cooling then); anthropic is healthy again for turn 2.
    const health = healthOf([{ providerID: "anthropic", modelID: "*", reason: "rate_limit", since: 0, until: at(50), failures: 1, message: "test" }])
    return play([{ type: "turn_started", at: at(0) }, ...stepOn(0, copilot)], { ...c, health })
  }

  test("the member that last answered stays across turns inside the window", () => {
    const c = ctx(15 * 60_000)
    const first = coolAnthropicThenRecover(c)
    const next = play([{ type: "turn_started", at: at(60_000) }, { type: "step_requested", at: at(60_000) }], c, first.state)
    expect(routing(next.actions)[0]).toMatchObject({ type: "use", member: copilot })
  })

  test("past the window the turn starts at the top of the order again", () => {
    const c = ctx(15 * 60_000)
    const first = coolAnthropicThenRecover(c)
    const late = play([{ type: "turn_started", at: at(16 * 60_000) }, { type: "step_requested", at: at(16 * 60_000) }], c, first.state)
    expect(routing(late.actions)[0]).toMatchObject({ type: "use", member: anthropic })
  })

  test("a sticky member that is cooling is not waited for", () => {
    const c = ctx(15 * 60_000)
    const first = coolAnthropicThenRecover(c)
    const health = healthOf([{ providerID: "github-copilot", modelID: "*", reason: "rate_limit", since: 0, until: at(120_000), failures: 1, message: "test" }])
    const next = play([{ type: "turn_started", at: at(60_000) }, { type: "step_requested", at: at(60_000) }], { ...c, health }, first.state)
    expect(routing(next.actions)[0]).toMatchObject({ type: "use", member: anthropic })
  })
})

describe("the context-window fallback", () => {
  const overflow: ClassifiedError = { reason: "context_overflow", statusCode: 400, message: "prompt is too long: 210000 tokens > 200000 maximum" }
  const optIn = config({ failoverOn: [...config().failoverOn, "context_overflow"] })

  test("off by default: the overflow passes through to OpenCode's compaction, and cools nothing", () => {
    const ctx: FailoverContext = { group: sonnetGroup(), health: healthOf(), config: config() }
    const { actions } = play([{ type: "step_requested", at: at(0) }, { type: "step_started", at: at(0), member: anthropic }, { type: "step_failed", at: at(10), error: overflow }], ctx)
    expect(actions.at(-1)).toEqual({ type: "pass_through", error: overflow })
  })

  test("on: the step is replayed on the smallest larger window in the group, without a cooldown", () => {
    const ctx: FailoverContext = { group: sonnetGroup(), health: healthOf(), config: optIn }
    const { actions, state } = play(
      [{ type: "turn_started", at: at(0) }, { type: "step_requested", at: at(0) }, { type: "step_started", at: at(0), member: anthropic }, { type: "step_failed", at: at(10), error: overflow }],
      ctx,
    )
    expect(actions.some((action) => action.type === "cool_down")).toBe(false)
    expect(actions.at(-1)).toEqual({
      type: "replay",
      from: anthropic,
      member: expect.objectContaining(openrouter),
      notice: "the conversation no longer fits anthropic (200k) → openrouter (1M)",
    })
    // The rest of the turn stays off the smaller windows, whatever the last finished step's token count says.
    const next = play([{ type: "step_requested", at: at(20), contextTokens: 150_000 }], ctx, state)
    expect(next.actions[0]).toMatchObject({ type: "use", member: openrouter })
  })

  test("on: a larger window down the fallback chain is taken when the group has none", () => {
    const small: Group = { ...sonnetGroup(), members: sonnetGroup().members.filter((m) => m.providerID !== "openrouter") }
    const wide: Group = { ...sonnetGroup(), id: "claude-sonnet-4-5-1m", name: "Claude Sonnet 4.5 (1M)", members: [member("anthropic", "claude-sonnet-4-5-1m", 1_000_000)] }
    const ctx: FailoverContext = { group: small, fallbacks: [wide], health: healthOf(), config: optIn }
    const { actions, state } = play([{ type: "step_requested", at: at(0) }, { type: "step_started", at: at(0), member: anthropic }, { type: "step_failed", at: at(10), error: overflow }], ctx)
    expect(actions.at(-1)).toMatchObject({
      type: "replay",
      member: { providerID: "anthropic", modelID: "claude-sonnet-4-5-1m" },
      notice: "the conversation no longer fits anthropic (200k) → Claude Sonnet 4.5 (1M) (anthropic, 1M)",
    })
    expect(state.turn.depth).toBe(1)
    // The next turn at a size that fits starts at the selected model again.
    const back = play([{ type: "turn_started", at: at(100) }, { type: "step_requested", at: at(100), contextTokens: 20_000 }], ctx, state)
    expect(back.actions.at(-1)).toMatchObject({ type: "use", member: anthropic })
  })

  test("on, with this model's switch budget spent: a larger window down the chain is still taken", () => {
    const small: Group = { ...sonnetGroup(), members: sonnetGroup().members.filter((m) => m.providerID !== "openrouter") }
    const wide: Group = { ...sonnetGroup(), id: "wide", name: "Wide", members: [member("openrouter", "anthropic/claude-sonnet-4.5", 1_000_000)] }
    const ctx: FailoverContext = { group: small, fallbacks: [wide], health: healthOf(), config: { ...optIn, maxSwitchesPerTurn: 0 } }
    const { actions, state } = play([{ type: "step_requested", at: at(0) }, { type: "step_started", at: at(0), member: anthropic }, { type: "step_failed", at: at(10), error: overflow }], ctx)
    expect(actions.at(-1)).toMatchObject({ type: "replay", member: openrouter })
    // The next model starts its own budget, as a move down the chain always does.
    expect(state.turn).toMatchObject({ depth: 1, switches: 0 })
    const inGroup = play(
      [{ type: "step_requested", at: at(0) }, { type: "step_started", at: at(0), member: anthropic }, { type: "step_failed", at: at(10), error: overflow }],
      { group: sonnetGroup(), health: healthOf(), config: { ...optIn, maxSwitchesPerTurn: 0 } },
    )
    expect(inGroup.actions.at(-1)).toEqual({ type: "pass_through", error: overflow })
  })

  test("on: a conversation with no room in any member of the model goes down the chain before anything fails", () => {
    const small: Group = { ...sonnetGroup(), members: sonnetGroup().members.filter((m) => m.providerID !== "openrouter") }
    const wide: Group = { ...sonnetGroup(), id: "wide", name: "Wide", members: [member("openrouter", "anthropic/claude-sonnet-4.5", 1_000_000)] }
    const ctx: FailoverContext = { group: small, fallbacks: [wide], health: healthOf(), config: optIn }
    const { actions, state } = play([{ type: "turn_started", at: at(0) }, { type: "step_requested", at: at(0), contextTokens: 175_000 }], ctx)
    expect(actions).toEqual([
      { type: "use", member: expect.objectContaining(openrouter), mode: "fresh", notice: "the conversation no longer fits anthropic (200k) → Wide (openrouter, 1M)" },
    ])
    expect(state.turn.depth).toBe(1)
    // Off, or with room here: the model's own member serves (and OpenCode compacts if it must).
    expect(play([{ type: "step_requested", at: at(0), contextTokens: 175_000 }], { ...ctx, config: config() }).actions[0]).toMatchObject({ member: anthropic })
    expect(play([{ type: "step_requested", at: at(0), contextTokens: 100_000 }], ctx).actions[0]).toMatchObject({ member: anthropic })
  })

  test("OpenCode's compaction.reserved is part of the usable window", () => {
    const withInput = member("github-copilot", "claude-sonnet-4.5", 200_000, 168_000)
    expect(usableWindow(withInput)).toBe(148_000)
    expect(usableWindow(withInput, 5_000)).toBe(163_000)
  })

  test("on, without a larger window anywhere: stock compaction (pass through)", () => {
    const small: Group = { ...sonnetGroup(), members: sonnetGroup().members.filter((m) => m.providerID !== "openrouter") }
    const ctx: FailoverContext = { group: small, health: healthOf(), config: optIn }
    const { actions, state } = play([{ type: "step_requested", at: at(0) }, { type: "step_started", at: at(0), member: anthropic }, { type: "step_failed", at: at(10), error: overflow }], ctx)
    expect(actions.at(-1)).toEqual({ type: "pass_through", error: overflow })
    expect(state.turn.minWindow).toBeUndefined()
  })

  test("on: a conversation past a member's usable window routes to one with room before anything fails", () => {
    const ctx: FailoverContext = { group: sonnetGroup(), health: healthOf(), config: optIn }
    // 170k fits anthropic's 200k window but is past what OpenCode fills before compacting (200k less the answer's room).
    expect(usableWindow(sonnetGroup().members[0]!)).toBe(168_000)
    const { actions } = play([{ type: "step_requested", at: at(0), contextTokens: 170_000 }], ctx)
    expect(actions[0]).toMatchObject({ type: "use", member: openrouter })
    const off = play([{ type: "step_requested", at: at(0), contextTokens: 170_000 }], { ...ctx, config: config() })
    expect(off.actions[0]).toMatchObject({ type: "use", member: anthropic })
  })

  test("a member too small for what a provider said, with no larger one ready, passes the overflow on", () => {
    const ctx: FailoverContext = { group: sonnetGroup(), health: healthOf(), config: optIn }
    const bedrockOnly: Group = { ...sonnetGroup(), members: sonnetGroup().members.filter((m) => m.providerID === "amazon-bedrock") }
    const { actions } = play(
      [{ type: "step_requested", at: at(0) }, { type: "step_started", at: at(0), member: bedrockUS }, { type: "step_failed", at: at(10), error: overflow }],
      { ...ctx, group: bedrockOnly },
    )
    expect(actions.at(-1)).toEqual({ type: "pass_through", error: overflow })
  })
})
