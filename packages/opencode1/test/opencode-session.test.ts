import { afterEach, beforeEach, describe, expect, test } from "bun:test"
import { APICallError } from "@ai-sdk/provider"
import { Cause, Duration, Effect, Option, Schedule } from "effect"
import { CombinedRuntime, resetRuntime, runtime } from "../src/runtime.ts"
import { ocModel } from "./opencode-fixtures.ts"
import { addCombinedProvider } from "../src/provider.ts"
import { memberFetch } from "../../combined-models/src/wires/index.ts"
import {
  failoverFor,
  guardRetry,
  hasRoomElsewhere,
  MAX_ROUTED_SESSIONS,
  routedSessionCount,
  resetSessions,
  retriesCompaction,
  routedRefusal,
  routeStep,
  selectionFor,
  sessionRoute,
  type SettleServices,
} from "../src/session.ts"

/** Sonnet at one provider, with that provider's window. */
function model(providerID: string, id: string, context = 200_000, input?: number) {
  return ocModel(providerID, id, { limit: { context, output: 64_000, ...(input ? { input } : {}) } })
}

const providers = {
  anthropic: { id: "anthropic", name: "Anthropic", models: { "claude-sonnet-4-5": model("anthropic", "claude-sonnet-4-5") } },
  "github-copilot": {
    id: "github-copilot",
    name: "GitHub Copilot",
    models: { "claude-sonnet-4.5": model("github-copilot", "claude-sonnet-4.5", 200_000, 168_000) },
  },
  openrouter: {
    id: "openrouter",
    name: "OpenRouter",
    models: { "anthropic/claude-sonnet-4.5": model("openrouter", "anthropic/claude-sonnet-4.5", 1_000_000) },
  },
}

const user = (id: string) => ({ id, model: { providerID: "combined", modelID: "claude-sonnet-4-5" } })
const rateLimited = (retryAfter: string) =>
  new APICallError({
    message: "Too Many Requests",
    url: "https://api.anthropic.com/v1/messages",
    requestBodyValues: {},
    statusCode: 429,
    responseHeaders: { "retry-after": retryAfter },
    responseBody: '{"type":"error","error":{"type":"rate_limit_error","message":"Rate limited"}}',
    isRetryable: true,
  })
const serverError = () =>
  new APICallError({ message: "Internal", url: "x", requestBodyValues: {}, statusCode: 500, responseBody: "{}", isRetryable: true })
const overflow = () =>
  new APICallError({
    message: "prompt is too long",
    url: "x",
    requestBodyValues: {},
    statusCode: 400,
    responseBody: '{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}',
    isRetryable: false,
  })

/**
 * OpenCode's services as the hunk passes them: they record what the adapter asked for. `parts` is what the attempt's
 * message holds (its tool parts, as the processor recorded them).
 */
function services(message: SettleServices["message"], parts: unknown[] = []) {
  const calls: { op: string; value: unknown }[] = []
  const record = (op: string) => (value: unknown, info?: unknown) =>
    Effect.sync(() => void calls.push({ op, value: info ?? value }))
  let nextPart = 0
  const settle: SettleServices = {
    session: {
      removeMessage: record("removeMessage"),
      updateMessage: record("updateMessage"),
      findMessage: (_sessionID: never, predicate: (message: never) => boolean) =>
        Effect.sync(() => {
          const held = { info: { id: message.id, sessionID: message.sessionID, role: "assistant" }, parts }
          return predicate(held as never) ? Option.some(held as unknown) : Option.none()
        }),
      updatePart: record("updatePart"),
    },
    status: { set: record("status") },
    message,
    partID: () => `prt_new_${++nextPart}`,
  }
  return { settle, calls }
}

const ids = (route: { providerID: string; modelID: string }) => `${route.providerID}/${route.modelID}`

beforeEach(() => {
  resetRuntime(new CombinedRuntime())
  resetSessions()
  runtime().configure({
    config: { provider_priority: ["anthropic", "github-copilot", "openrouter"] },
    providers,
  })
})
afterEach(() => resetRuntime())

describe("routeStep", () => {
  test("a model that is not combined passes through untouched", () => {
    const route = routeStep("s1", { id: "u1", model: { providerID: "anthropic", modelID: "claude-sonnet-4-5" } })
    expect(route).toEqual({ providerID: "anthropic", modelID: "claude-sonnet-4-5", waitMs: 0, replay: false })
    expect(failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })).toBeUndefined()
  })

  test("an unknown group passes through, so OpenCode reports it as any unknown model", () => {
    const route = routeStep("s1", { id: "u1", model: { providerID: "combined", modelID: "nope" } })
    expect(route).toEqual({ providerID: "combined", modelID: "nope", waitMs: 0, replay: false })
  })

  test("the first member in priority serves", () => {
    expect(ids(routeStep("s1", user("u1")))).toBe("anthropic/claude-sonnet-4-5")
  })

  test("a conversation larger than a member's window skips it", () => {
    runtime().health.report({ providerID: "anthropic", modelID: "claude-sonnet-4-5" }, { reason: "quota", message: "x" })
    expect(ids(routeStep("s1", user("u1"), { tokens: { input: 170_000, output: 2_000 } }))).toBe("openrouter/anthropic/claude-sonnet-4.5")
  })

  test("when every member is cooling down beyond max_wait, nobody is asked: the error names each member at once", async () => {
    for (const provider of Object.values(providers))
      for (const id of Object.keys(provider.models))
        runtime().health.report({ providerID: provider.id, modelID: id }, { reason: "rate_limit", message: "Rate limited", retryAfterMs: 3_600_000 + provider.id.length * 1000 })
    const route = routeStep("s1", user("u1"))
    // The step is handed to a member only so that OpenCode's processor runs and shows the error.
    const failover = failoverFor("s1", { providerID: route.providerID, id: route.modelID })!
    // The member's request is refused before it leaves: its fetch is never called.
    let sent = 0
    const fetch = memberFetch({
      npm: "@ai-sdk/anthropic",
      inner: (async () => {
        sent++
        return new Response("{}")
      }) as unknown as typeof globalThis.fetch,
      timeoutsFor: () => undefined,
      refuse: ({ headers }) => routedRefusal(route.providerID, headers),
    })
    const refused = await fetch("https://api.anthropic.com/v1/messages", { headers: { "x-session-id": "s1" } }).catch((error: unknown) => error)
    expect(sent).toBe(0)
    expect(failover.claims(refused)).toBe(true)
    let halted: unknown
    await Effect.runPromise(failover.settle((e) => Effect.sync(() => void (halted = e)), refused))
    const message = (halted as Error).message
    expect(message).toContain("Every provider of Claude Sonnet 4.5 is out for longer than combined_models.max_wait (1 min); no request was sent:")
    expect(message).toContain("- anthropic/claude-sonnet-4-5: anthropic rate-limited: Rate limited; 1 h left")
    expect(message).toContain("- openrouter/anthropic/claude-sonnet-4.5: openrouter rate-limited")
    // Nothing was recorded against the member the step was handed to.
    expect(runtime().health.cooldownOf({ providerID: "anthropic", modelID: "claude-sonnet-4-5" })?.failures).toBe(1)
    // Another session's request to that provider is not refused.
    expect(routedRefusal(route.providerID, new Headers({ "x-session-id": "s2" }))).toBeUndefined()
  })
})

describe("sticky across processes: the session's own messages say who served last", () => {
  const configure = (sticky: unknown) =>
    runtime().configure({ config: { provider_priority: ["anthropic", "github-copilot", "openrouter"], combined_models: { sticky } }, providers })
  // `opencode run -c` a minute later: a new process, no memory of the session; its last finished message was Copilot's.
  const NOW = 1_800_000_000_000
  const servedByCopilot = (minutesAgo: number) => ({
    providerID: "github-copilot",
    modelID: "claude-sonnet-4.5",
    tokens: { input: 2_000, output: 100 },
    time: { completed: NOW - minutesAgo * 60_000 },
  })

  test('sticky "session": the new process stays on the member that served', () => {
    configure("session")
    expect(ids(routeStep("s1", user("u2"), servedByCopilot(1), { now: NOW }))).toBe("github-copilot/claude-sonnet-4.5")
  })

  test("sticky { window }: within the window it stays, past it the order starts at the top again", () => {
    configure({ window: "15m" })
    expect(ids(routeStep("s1", user("u2"), servedByCopilot(1), { now: NOW }))).toBe("github-copilot/claude-sonnet-4.5")
    resetSessions()
    expect(ids(routeStep("s2", user("u2"), servedByCopilot(20), { now: NOW }))).toBe("anthropic/claude-sonnet-4-5")
  })

  test('sticky "turn" (the default) starts at the top; a cooling member is not stuck to; a member off the route is ignored', () => {
    configure("turn")
    expect(ids(routeStep("s1", user("u2"), servedByCopilot(1), { now: NOW }))).toBe("anthropic/claude-sonnet-4-5")
    resetSessions()
    configure("session")
    runtime().health.report({ providerID: "github-copilot", modelID: "claude-sonnet-4.5" }, { reason: "overloaded", message: "busy" })
    expect(ids(routeStep("s2", user("u2"), servedByCopilot(1)))).toBe("anthropic/claude-sonnet-4-5")
    resetSessions()
    expect(ids(routeStep("s3", user("u2"), { ...servedByCopilot(1), providerID: "somewhere-else" }, { now: NOW }))).toBe("anthropic/claude-sonnet-4-5")
  })
})

describe("one runtime per OpenCode instance", () => {
  // One `opencode serve` holding two projects: each project's provider_priority routes its own sessions.
  const build = (priority: string[], instance: string) =>
    addCombinedProvider({ providers: structuredClone(providers), config: { provider_priority: priority }, instance })

  test("two projects with reversed priorities: each session is served by its own project's first provider", () => {
    build(["anthropic", "github-copilot", "openrouter"], "/projects/a")
    build(["openrouter", "github-copilot", "anthropic"], "/projects/b")
    expect(ids(routeStep("sa", user("u1"), undefined, { instance: "/projects/a" }))).toBe("anthropic/claude-sonnet-4-5")
    expect(ids(routeStep("sb", user("u2"), undefined, { instance: "/projects/b" }))).toBe("openrouter/anthropic/claude-sonnet-4.5")
    // A later turn of the first project, after the second one loaded: still its own order.
    expect(ids(routeStep("sa", user("u3"), undefined, { instance: "/projects/a" }))).toBe("anthropic/claude-sonnet-4-5")
  })

  test("a failure seen by one project's session cools the provider for the other project too", () => {
    build(["anthropic", "openrouter", "github-copilot"], "/projects/a")
    build(["anthropic", "github-copilot", "openrouter"], "/projects/b")
    runtime("/projects/a").health.report({ providerID: "anthropic", modelID: "claude-sonnet-4-5" }, { reason: "quota", message: "x" })
    expect(ids(routeStep("sb", user("u1"), undefined, { instance: "/projects/b" }))).toBe("github-copilot/claude-sonnet-4.5")
  })

  test("disposing an instance's old provider state leaves the runtime a reload configured since", () => {
    const first = build(["anthropic"], "/projects/a")
    build(["openrouter"], "/projects/a")
    first.dispose()
    expect(runtime("/projects/a").config.providerPriority).toEqual(["openrouter"])
  })
})

describe("a failing step", () => {
  test("a long rate limit replays the step on the next member: the attempt's message is removed", async () => {
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    expect(failover).toBeDefined()
    failover.observe({ type: "text-delta", text: "Half an ans" })
    expect(failover.claims(rateLimited("30"))).toBe(true)
    expect(failover.switching).toBe(true)

    const { settle, calls } = services({ id: "m1", sessionID: "s1" })
    let halted: unknown
    await Effect.runPromise(failover.settle((e) => Effect.sync(() => void (halted = e)), rateLimited("30")))
    expect(halted).toBeUndefined()
    expect(await Effect.runPromise(failover.finish(settle))).toBe("continue")
    expect(calls.map((call) => call.op)).toEqual(["removeMessage", "status"])
    expect(calls[0]!.value).toEqual({ sessionID: "s1", messageID: "m1" })
    expect(calls[1]!.value).toMatchObject({
      type: "retry",
      message: "anthropic rate-limited, retry in 30 s → github-copilot",
      action: { reason: "failover", provider: "github-copilot" },
    })

    expect(ids(routeStep("s1", user("u1")))).toBe("github-copilot/claude-sonnet-4.5")
    expect(runtime().health.cooldownOf({ providerID: "anthropic", modelID: "claude-sonnet-4-5" })?.reason).toBe("rate_limit")
    expect(runtime().switches).toHaveLength(1)
    expect(runtime().switches[0]).toMatchObject({ sessionID: "s1", from: { providerID: "anthropic" }, to: { providerID: "github-copilot" } })
  })

  test("after a completed tool call the attempt is kept as a finished tool step and the next member continues", async () => {
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    failover.observe({ type: "tool-call", id: "call_1" })
    failover.observe({ type: "tool-result", id: "call_1" })
    expect(failover.claims(rateLimited("60"))).toBe(true)
    const message = { id: "m1", sessionID: "s1", error: { name: "APIError" } as unknown, finish: undefined as string | undefined }
    const { settle, calls } = services(message)
    await Effect.runPromise(failover.finish(settle))
    expect(calls.map((call) => call.op)).toEqual(["updateMessage", "status"])
    expect(message).toMatchObject({ finish: "tool-calls", error: undefined })
    expect(ids(routeStep("s1", user("u1")))).toBe("github-copilot/claude-sonnet-4.5")
  })

  test("a continued attempt's open thinking block is marked cut (so no member gets it back); its text stays", async () => {
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    failover.observe({ type: "tool-call", id: "call_1" })
    failover.observe({ type: "tool-result", id: "call_1" })
    expect(failover.claims(rateLimited("60"))).toBe(true)
    const thinking: { type: string; text: string; metadata: Record<string, unknown> } = { type: "reasoning", text: "half a thou", metadata: { anthropic: {} } }
    const open = { currentText: { type: "text", text: "kept" }, reasoningMap: { r1: thinking } as Record<string, unknown> }
    await Effect.runPromise(failover.settle(() => Effect.void, rateLimited("60"), open))
    expect(thinking.metadata).toEqual({ anthropic: {}, "combined-models": { cut: true } })
    expect(open.currentText).toEqual({ type: "text", text: "kept" })
  })

  test("a 500 is retried once on the same member, as a fresh step after the wait", async () => {
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    expect(failover.claims(serverError())).toBe(true)
    const { settle, calls } = services({ id: "m1", sessionID: "s1" })
    await Effect.runPromise(failover.finish(settle))
    expect(calls[0]!.op).toBe("removeMessage")
    const route = routeStep("s1", user("u1"))
    expect(ids(route)).toBe("anthropic/claude-sonnet-4-5")
    expect(route.waitMs).toBeGreaterThan(900)
    expect(route.waitMs).toBeLessThanOrEqual(1_000)
    expect(runtime().switches).toHaveLength(0)
  })

  test("context overflow stays OpenCode's: the stock path compacts", () => {
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    expect(failover.claims(overflow())).toBe(false)
    expect(failover.claimed).toBe(false)
    expect(runtime().health.entries()).toEqual([])
  })

  test('with "context_overflow" in failover_on the overflow moves the step to a larger window, cooling nothing', async () => {
    runtime().configure({
      config: { provider_priority: ["anthropic", "github-copilot", "openrouter"], combined_models: { failover_on: ["rate_limit", "context_overflow"] } },
      providers,
    })
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    expect(failover.claims(overflow())).toBe(true)
    const { settle, calls } = services({ id: "m1", sessionID: "s1" })
    await Effect.runPromise(failover.finish(settle))
    expect(calls.map((call) => call.op)).toEqual(["removeMessage", "status"])
    expect(calls[1]!.value).toMatchObject({ message: "the conversation no longer fits anthropic (200k) → openrouter (1M)" })
    // The replay goes to the larger window even though the last finished step's tokens would fit the smaller ones.
    expect(ids(routeStep("s1", user("u1"), { tokens: { input: 150_000 } }))).toBe("openrouter/anthropic/claude-sonnet-4.5")
    expect(runtime().health.entries()).toEqual([])
    // The next turn at a size that fits comes back.
    expect(ids(routeStep("s1", user("u2"), { tokens: { input: 20_000 } }))).toBe("anthropic/claude-sonnet-4-5")
  })

  test("a compaction summary's tokens do not size the next step: it is the old conversation, summed up", () => {
    // 250k would fit only OpenRouter's 1M window; as a summary's count it sizes nothing.
    expect(ids(routeStep("s1", user("u1"), { tokens: { input: 250_000 }, summary: true }))).toBe("anthropic/claude-sonnet-4-5")
    expect(ids(routeStep("s1", user("u2"), { tokens: { input: 250_000 } }))).toBe("openrouter/anthropic/claude-sonnet-4.5")
  })

  test("hasRoomElsewhere: a finished step past its member's usable window is not compacted when a larger one is ready", () => {
    const optIn = { provider_priority: ["anthropic", "github-copilot", "openrouter"], combined_models: { failover_on: ["rate_limit", "context_overflow"] } }
    runtime().configure({ config: optIn, providers })
    routeStep("s1", user("u1"))
    expect(hasRoomElsewhere("s1", { input: 180_000 })).toBe(true)
    expect(hasRoomElsewhere("s1", { input: 2_000_000 })).toBe(false)
    expect(hasRoomElsewhere("other-session", { input: 180_000 })).toBe(false)
    runtime().configure({ config: { provider_priority: ["anthropic"] }, providers })
    routeStep("s2", user("u9"))
    expect(hasRoomElsewhere("s2", { input: 180_000 })).toBe(false)
  })

  test("when every member fails, the error the user sees names each", async () => {
    const failures = [rateLimited("30"), rateLimited("40"), rateLimited("50")]
    let halted: unknown
    for (const [index, error] of failures.entries()) {
      const route = routeStep("s1", user("u1"))
      const failover = failoverFor("s1", { providerID: route.providerID, id: route.modelID })!
      expect(failover.claims(error)).toBe(true)
      await Effect.runPromise(failover.settle((e) => Effect.sync(() => void (halted = e)), error))
      if (index < 2) await Effect.runPromise(failover.finish(services({ id: `m${index}`, sessionID: "s1" }).settle))
    }
    expect(halted).toBeInstanceOf(Error)
    const message = (halted as Error).message
    expect(message).toContain("Every provider of Claude Sonnet 4.5 failed:")
    for (const id of ["anthropic/claude-sonnet-4-5", "github-copilot/claude-sonnet-4.5", "openrouter/anthropic/claude-sonnet-4.5"])
      expect(message).toContain(id)
  })

  test("a new user message starts a new turn: providers failed in the last one are tried again once healthy", async () => {
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    failover.claims(rateLimited("0"))
    await Effect.runPromise(failover.finish(services({ id: "m1", sessionID: "s1" }).settle))
    expect(ids(routeStep("s1", user("u2")))).toBe("anthropic/claude-sonnet-4-5")
  })
})

describe("compaction", () => {
  const summary = { summary: true }

  test("a failed compaction is removed and run again; its stateless model resolution then finds the next member", async () => {
    routeStep("s1", user("u1"))
    failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })
    const compaction = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" }, summary)!
    expect(compaction).toBeDefined()
    expect(compaction.claims(rateLimited("60"))).toBe(true)
    const { settle, calls } = services({ id: "sum1", sessionID: "s1" })
    await Effect.runPromise(compaction.finish(settle))
    expect(calls.map((call) => call.op)).toEqual(["removeMessage", "status"])
    expect(retriesCompaction({ id: "sum1" })).toBe(true)
    expect(retriesCompaction({ id: "sum1" })).toBe(false)
    // The cooldown it recorded is what moves the next compaction run to another member.
    expect(runtime().health.cooldownOf({ providerID: "anthropic", modelID: "claude-sonnet-4-5" })?.reason).toBe("rate_limit")
  })

  test("each member is tried once per compaction: when all fail, the compaction stops with every reason", async () => {
    routeStep("s1", user("u1"))
    let halted: unknown
    for (const member of [
      { providerID: "anthropic", id: "claude-sonnet-4-5" },
      { providerID: "github-copilot", id: "claude-sonnet-4.5" },
      { providerID: "openrouter", id: "anthropic/claude-sonnet-4.5" },
    ]) {
      const compaction = failoverFor("s1", member, summary)!
      expect(compaction.claims(rateLimited("60"))).toBe(true)
      await Effect.runPromise(compaction.settle((e) => Effect.sync(() => void (halted = e)), rateLimited("60")))
      if (compaction.switching) await Effect.runPromise(compaction.finish(services({ id: `sum-${member.providerID}`, sessionID: "s1" }).settle))
    }
    expect((halted as Error).message).toContain("Every provider of Claude Sonnet 4.5 failed:")
    // A later compaction starts afresh.
    expect(failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" }, summary)?.claims(rateLimited("60"))).toBe(true)
  })

  test("a compaction that succeeds ends its route: the next one's error names only its own failures", async () => {
    routeStep("s1", user("u1"))
    const first = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" }, summary)!
    first.claims(rateLimited("0.001"))
    await Effect.runPromise(first.finish(services({ id: "sum1", sessionID: "s1" }).settle))
    const second = failoverFor("s1", { providerID: "github-copilot", id: "claude-sonnet-4.5" }, summary)!
    second.observe({ type: "text-delta", text: "Summary." })
    second.observe({ type: "step-finish", reason: "stop" })

    const unauthorized = () =>
      new APICallError({ message: "Unauthorized", url: "x", requestBodyValues: {}, statusCode: 401, responseBody: "{}", isRetryable: false })
    let halted: unknown
    for (const member of [
      { providerID: "anthropic", id: "claude-sonnet-4-5" },
      { providerID: "github-copilot", id: "claude-sonnet-4.5" },
      { providerID: "openrouter", id: "anthropic/claude-sonnet-4.5" },
    ]) {
      const next = failoverFor("s1", member, summary)!
      next.claims(unauthorized())
      await Effect.runPromise(next.settle((e) => Effect.sync(() => void (halted = e)), unauthorized()))
    }
    const message = (halted as Error).message
    expect(message).toContain("Every provider of Claude Sonnet 4.5 failed:")
    expect(message).toContain("anthropic rejected the credentials")
    expect(message).not.toContain("rate-limited")
  })

  test("a compaction on a model outside the session's route (the compaction agent's own) stays OpenCode's", () => {
    routeStep("s1", user("u1"))
    expect(failoverFor("s1", { providerID: "openai", id: "gpt-5-mini" }, summary)).toBeUndefined()
    expect(failoverFor("other", { providerID: "anthropic", id: "claude-sonnet-4-5" }, summary)).toBeUndefined()
  })
})

test("a subagent inherits the combined selection, not the member that served its parent", () => {
  routeStep("s1", user("u1"))
  expect(selectionFor("s1", { providerID: "anthropic", modelID: "claude-sonnet-4-5" })).toEqual({
    providerID: "combined",
    modelID: "claude-sonnet-4-5",
  })
  expect(selectionFor("s1", { providerID: "openai", modelID: "gpt-5" })).toEqual({ providerID: "openai", modelID: "gpt-5" })
  expect(selectionFor("other", { providerID: "anthropic", modelID: "claude-sonnet-4-5" })).toEqual({
    providerID: "anthropic",
    modelID: "claude-sonnet-4-5",
  })
})

describe("guardRetry: the engine is asked before the stock retry policy", () => {
  /** The stock policy's shape: it retries only what it deems retryable, and records each of its own retries. */
  function stockPolicy(stockSteps: unknown[]) {
    return Schedule.fromStepWithMetadata(
      Effect.succeed((meta: Schedule.InputMetadata<unknown>) => {
        const retryable = APICallError.isInstance(meta.input) && meta.input.isRetryable
        if (!retryable || meta.attempt > 2) return Cause.done(meta.attempt)
        stockSteps.push(meta.input)
        return Effect.succeed([meta.attempt, Duration.millis(0)] as [number, Duration.Duration])
      }),
    )
  }
  const unauthorized = () =>
    new APICallError({ message: "Unauthorized", url: "x", requestBodyValues: {}, statusCode: 401, responseBody: "{}", isRetryable: false })

  async function attempts(error: () => unknown, guarded: boolean) {
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    const stockSteps: unknown[] = []
    let calls = 0
    const exit = await Effect.runPromiseExit(
      Effect.retry(
        Effect.suspend(() => (calls++, Effect.fail(error()))),
        guardRetry(guarded ? failover : undefined, stockPolicy(stockSteps)),
      ),
    )
    return { calls, stockSteps: stockSteps.length, failover, failed: exit._tag === "Failure" }
  }

  test("a 401 the stock policy would not retry still reaches the engine, which switches", async () => {
    const result = await attempts(unauthorized, true)
    expect(result).toMatchObject({ calls: 1, stockSteps: 0, failed: true })
    expect(result.failover.switching).toBe(true)
  })

  test("a claimed 429 never runs a stock retry step", async () => {
    const result = await attempts(() => rateLimited("30"), true)
    expect(result).toMatchObject({ calls: 1, stockSteps: 0 })
    expect(result.failover.claimed).toBe(true)
  })

  test("what the engine passes on gets the stock policy unchanged", async () => {
    const retryableOverflow = () =>
      new APICallError({ message: "prompt is too long", url: "x", requestBodyValues: {}, statusCode: 400, responseBody: "prompt is too long", isRetryable: true })
    const result = await attempts(retryableOverflow, true)
    expect(result).toMatchObject({ calls: 3, stockSteps: 2 })
    expect(result.failover.claimed).toBe(false)
  })

  test("without a failover handle the policy is the stock one", async () => {
    const result = await attempts(() => rateLimited("30"), false)
    expect(result).toMatchObject({ calls: 3, stockSteps: 2 })
  })
})

describe("fallback chains", () => {
  const gpt5 = (providerID: string, id: string) => ({ ...model(providerID, id, 400_000), name: "GPT-5", release_date: "2025-08-07" })
  const withGpt5 = {
    anthropic: providers.anthropic,
    "github-copilot": { ...providers["github-copilot"], models: { ...providers["github-copilot"].models, "gpt-5": gpt5("github-copilot", "gpt-5") } },
    openrouter: { ...providers.openrouter, models: { ...providers.openrouter.models, "openai/gpt-5": gpt5("openrouter", "openai/gpt-5") } },
  }
  const configure = (config: Record<string, unknown>) =>
    runtime().configure({ config: { provider_priority: ["anthropic", "github-copilot", "openrouter"], ...config }, providers: withGpt5 })

  async function failStep(sessionID: string, userID: string, error: unknown, agent?: string, selection = user(userID).model) {
    const route = routeStep(sessionID, { id: userID, agent, model: selection })
    const failover = failoverFor(sessionID, { providerID: route.providerID, id: route.modelID })!
    expect(failover.claims(error)).toBe(true)
    await Effect.runPromise(failover.finish(services({ id: "m", sessionID }).settle))
    return route
  }

  test("the \"*\" agent's chain takes the turn to the next model once every member of the selected one failed", async () => {
    configure({ agent: { "*": { fallback_models: ["combined/gpt-5"] } } })
    const tried = []
    for (let i = 0; i < 3; i++) tried.push(ids(await failStep("s1", "u1", rateLimited("60"), "build")))
    expect(tried).toEqual(["anthropic/claude-sonnet-4-5", "github-copilot/claude-sonnet-4.5", "openrouter/anthropic/claude-sonnet-4.5"])
    expect(ids(routeStep("s1", { ...user("u1"), agent: "build" }))).toBe("github-copilot/gpt-5")
    expect(sessionRoute("s1")).toMatchObject({ depth: 1, chain: [{ id: "claude-sonnet-4-5" }, { id: "gpt-5" }] })
    expect(runtime().switches.at(-1)).toMatchObject({ depth: 1, to: { providerID: "github-copilot", modelID: "gpt-5" } })
    // The subagent a step of GPT-5 launches inherits the selection, so it routes (and falls back) the same way.
    expect(selectionFor("s1", { providerID: "github-copilot", modelID: "gpt-5" })).toEqual({ providerID: "combined", modelID: "claude-sonnet-4-5" })
  })

  test("an agent's own chain wins over the \"*\" agent's", async () => {
    configure({ agent: { "*": { fallback_models: ["combined/gpt-5"] }, plan: { fallback_models: ["openrouter/openai/gpt-5"] } } })
    for (let i = 0; i < 3; i++) await failStep("s1", "u1", rateLimited("60"), "plan")
    expect(ids(routeStep("s1", { ...user("u1"), agent: "plan" }))).toBe("openrouter/openai/gpt-5")
  })

  test("a concrete selection with a chain fails over to the chain; without one it is OpenCode's as before", async () => {
    configure({ combined_models: { fallback_models: ["combined/gpt-5"] } })
    const concrete = { providerID: "anthropic", modelID: "claude-sonnet-4-5" }
    expect(ids(await failStep("s1", "u1", rateLimited("60"), "build", concrete))).toBe("anthropic/claude-sonnet-4-5")
    expect(ids(routeStep("s1", { id: "u1", agent: "build", model: concrete }))).toBe("github-copilot/gpt-5")
    configure({})
    expect(routeStep("s2", { id: "u9", agent: "build", model: concrete })).toEqual({ ...concrete, waitMs: 0, replay: false })
    expect(failoverFor("s2", { providerID: "anthropic", id: "claude-sonnet-4-5" })).toBeUndefined()
  })

  test("a concrete selection on a \"*\" chain: untouched while healthy; rerouted only when cooling, with a notice", () => {
    configure({ agent: { "*": { fallback_models: ["combined/gpt-5"] } } })
    const concrete = { providerID: "anthropic", modelID: "claude-sonnet-4-5" }
    const healthy = routeStep("s1", { id: "u1", agent: "build", model: concrete })
    expect(ids(healthy)).toBe("anthropic/claude-sonnet-4-5")
    expect(healthy.status).toBeUndefined()
    // Another process saw the selection rate-limited: the next turn goes down the chain, and says so.
    runtime().health.report(concrete, { reason: "rate_limit", message: "429", statusCode: 429, retryAfterMs: 600_000 })
    const moved = routeStep("s1", { id: "u2", agent: "build", model: concrete })
    expect(ids(moved)).toBe("github-copilot/gpt-5")
    expect(moved.status).toMatchObject({ type: "retry", action: { reason: "failover", provider: "github-copilot" } })
    expect(moved.status?.message).toContain("→ GPT-5 (github-copilot)")
  })

  test("a wait for the member back soonest shows as a notice with the time left", () => {
    for (const provider of Object.values(providers))
      for (const id of Object.keys(provider.models))
        runtime().health.report({ providerID: provider.id, modelID: id }, { reason: "rate_limit", message: "429", retryAfterMs: 20_000 + provider.id.length })
    const route = routeStep("s1", user("u1"))
    expect(route.waitMs).toBeGreaterThan(19_000)
    expect(route.status?.action.message).toMatch(/is cooling down; waiting \d+ s for \S+ \(in \d+ s\)$/)
    expect(route.status?.next).toBeGreaterThan(Date.now() + 19_000)
  })

  test("the selected model is back at the next turn", async () => {
    configure({ agent: { "*": { fallback_models: ["combined/gpt-5"] } } })
    for (let i = 0; i < 3; i++) await failStep("s1", "u1", rateLimited("60"), "build")
    expect(ids(routeStep("s1", { ...user("u1"), agent: "build" }))).toBe("github-copilot/gpt-5")
    // Still cooling at the next turn: the fallback serves again. Once healthy, the selected model is back.
    expect(ids(routeStep("s1", { ...user("u2"), agent: "build" }))).toBe("github-copilot/gpt-5")
    runtime().health.clear()
    expect(ids(routeStep("s1", { ...user("u3"), agent: "build" }))).toBe("anthropic/claude-sonnet-4-5")
    expect(sessionRoute("s1")?.depth).toBe(0)
  })

  test("chain entries that name nothing loaded are skipped", async () => {
    configure({ combined_models: { fallback_models: ["combined/nope", "mistral/large", "combined/gpt-5"] } })
    for (let i = 0; i < 3; i++) await failStep("s1", "u1", rateLimited("60"))
    expect(sessionRoute("s1")?.chain.map((entry) => entry.id)).toEqual(["claude-sonnet-4-5", "gpt-5"])
  })
})

describe("how the stream ended decides the step (the one edge)", () => {
  for (const reason of ["unknown", "error"]) {
    test(`a step-finish with reason ${reason} after text fails the step: its text is removed, the failure is counted`, async () => {
      routeStep("s1", user("u1"))
      const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
      failover.observe({ type: "text-delta", text: "Half an ans" })
      let thrown: unknown
      try {
        failover.observe({ type: "step-finish", reason })
      } catch (error) {
        thrown = error
      }
      expect(thrown).toBeInstanceOf(Error)
      expect(failover.claims(thrown)).toBe(true)
      expect(failover.switching).toBe(true)
      const { settle, calls } = services({ id: "m1", sessionID: "s1" })
      await Effect.runPromise(failover.finish(settle))
      expect(calls[0]!.op).toBe("removeMessage")
      expect(sessionRoute("s1")?.failures.map((failure) => failure.error.reason)).toEqual(["network"])
    })
  }

  test("a stream that drained without any step-finish is cut short (ended throws)", () => {
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    failover.observe({ type: "text-delta", text: "Half" })
    expect(() => failover.ended()).toThrow(/ended before the provider finished/)
  })

  test("a real finish records recovery and ended() is quiet", () => {
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    failover.observe({ type: "text-delta", text: "All of it." })
    failover.observe({ type: "step-finish", reason: "stop" })
    failover.observe({ type: "finish", reason: "stop" })
    expect(() => failover.ended()).not.toThrow()
    expect(failover.claimed).toBe(false)
  })

  test("a failure passed to the stock retry, then a tool call and result, then a 429: the step continues, the tool is kept", async () => {
    runtime().configure({
      config: { provider_priority: ["anthropic", "github-copilot", "openrouter"], combined_models: { failover_on: ["rate_limit"] } },
      providers,
    })
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    expect(failover.claims(serverError())).toBe(false)
    // OpenCode's own retry streams again on the same member.
    failover.observe({ type: "tool-call", id: "call_1" })
    failover.observe({ type: "tool-result", id: "call_1" })
    expect(failover.claims(rateLimited("30"))).toBe(true)
    const { settle, calls } = services({ id: "m1", sessionID: "s1" })
    await Effect.runPromise(failover.finish(settle))
    expect(calls[0]!.op).toBe("updateMessage")
  })
})

describe("a replayed step is the same step (the agent's steps budget)", () => {
  test("fresh and continued steps count, a replay does not", async () => {
    expect(routeStep("s1", user("u1")).replay).toBe(false)
    const failed = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    failed.observe({ type: "text-delta", text: "Half" })
    failed.claims(rateLimited("30"))
    await Effect.runPromise(failed.finish(services({ id: "m1", sessionID: "s1" }).settle))
    const replay = routeStep("s1", user("u1"))
    expect(replay).toMatchObject({ providerID: "github-copilot", replay: true })

    const tooled = failoverFor("s1", { providerID: "github-copilot", id: "claude-sonnet-4.5" })!
    tooled.observe({ type: "tool-call", id: "call_1" })
    tooled.observe({ type: "tool-result", id: "call_1" })
    tooled.claims(rateLimited("30"))
    await Effect.runPromise(tooled.finish(services({ id: "m2", sessionID: "s1" }).settle))
    expect(routeStep("s1", user("u1")).replay).toBe(false)
  })
})

test("routes of past sessions are evicted: a long-running server keeps at most MAX_ROUTED_SESSIONS", () => {
  for (let i = 0; i < MAX_ROUTED_SESSIONS + 50; i++) routeStep(`s${i}`, user(`u${i}`))
  expect(routedSessionCount()).toBe(MAX_ROUTED_SESSIONS)
  // The newest are kept: the last session still has its route, the first does not.
  expect(sessionRoute(`s${MAX_ROUTED_SESSIONS + 49}`)).toBeDefined()
  expect(sessionRoute("s0")).toBeUndefined()
})

describe("no tool runs twice: the step continues from what its message holds", () => {
  const overloaded = () => ({ type: "overloaded_error", message: "Overloaded" })
  const reset = () => Object.assign(new TypeError("terminated"), { code: "ECONNRESET" })
  /** A tool as OpenCode resolves it: `execute` returns `{ title, metadata, output }`. */
  function bashTool(onRun: () => void, result: () => Promise<unknown> = async () => ({ title: "echo ran", metadata: { exit: 0 }, output: "ran\n" })) {
    return {
      bash: {
        description: "run a command",
        execute: (_input: unknown, _options: { toolCallId: string; abortSignal?: AbortSignal }) => {
          onRun()
          return result()
        },
      },
    }
  }
  function leaveOverloadedToStock() {
    runtime().configure({
      config: { provider_priority: ["anthropic", "github-copilot", "openrouter"], combined_models: { failover_on: ["rate_limit"] } },
      providers,
    })
  }
  /** What the AI SDK does with a parsed call: runs the watched tool's `execute`. */
  async function runTool(tools: ReturnType<typeof bashTool>, toolCallId: string, input: unknown = { command: "echo ran >> marker" }) {
    return tools.bash.execute(input, { toolCallId })
  }

  test("a tool ran, the failure went to the stock retry, whose stream got a 429: continue, not replay", async () => {
    leaveOverloadedToStock()
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    let runs = 0
    const input = failover.watch({ tools: bashTool(() => runs++) })
    // The first stream: the call is parsed, run, and its result read; then anthropic's overloaded error.
    failover.observe({ type: "tool-call", id: "call_1" })
    await runTool(input.tools, "call_1")
    failover.observe({ type: "tool-result", id: "call_1" })
    expect(failover.claims(overloaded())).toBe(false)
    // OpenCode's own retry streams the step again into the same message and gets a 429 before any part.
    expect(failover.claims(rateLimited("600"))).toBe(true)
    const completed = { id: "prt_1", messageID: "m1", sessionID: "s1", type: "tool", callID: "call_1", tool: "bash", state: { status: "completed", input: { command: "echo ran >> marker" }, output: "ran\n", title: "echo ran", metadata: {}, time: { start: 1, end: 2 } } }
    const { settle, calls } = services({ id: "m1", sessionID: "s1" }, [completed])
    await Effect.runPromise(failover.finish(settle))
    // The message with the tool's result stays; nothing to rewrite: the processor recorded the result.
    expect(calls.map((call) => call.op)).toEqual(["updateMessage", "status"])
    const next = routeStep("s1", user("u1"))
    expect(next).toMatchObject({ providerID: "github-copilot", replay: false })
    expect(runs).toBe(1)
  })

  test("the AI SDK ran a tool whose call the processor never read before a reset: continue, with the tool's real result", async () => {
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    const input = failover.watch({ tools: bashTool(() => {}) })
    failover.observe({ type: "text-delta", text: "Running it." })
    // The call ran inside the SDK; the reset dropped its stream parts before the processor read them.
    await runTool(input.tools, "call_1")
    expect(failover.claims(reset())).toBe(true)
    expect(failover.switching).toBe(true)
    const { settle, calls } = services({ id: "m1", sessionID: "s1" }, [])
    await Effect.runPromise(failover.finish(settle))
    expect(calls.map((call) => call.op)).toEqual(["updateMessage", "updatePart", "status"])
    expect(calls[1]!.value).toMatchObject({
      id: "prt_new_1",
      messageID: "m1",
      sessionID: "s1",
      type: "tool",
      callID: "call_1",
      tool: "bash",
      state: { status: "completed", input: { command: "echo ran >> marker" }, output: "ran\n", title: "echo ran", metadata: { exit: 0 } },
    })
  })

  test("a tool the processor saw start, cut off by the failure, gets a result that says it may have run", async () => {
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    const aborted = Object.assign(new Error("The operation was aborted."), { name: "AbortError" })
    const input = failover.watch({ tools: bashTool(() => {}, () => Promise.reject(aborted)) })
    failover.observe({ type: "tool-call", id: "call_1" })
    await runTool(input.tools, "call_1").catch(() => {})
    expect(failover.claims(reset())).toBe(true)
    // The processor's cleanup marked the running call aborted, with what the shell printed so far.
    const marked = { id: "prt_1", messageID: "m1", sessionID: "s1", type: "tool", callID: "call_1", tool: "bash", state: { status: "error", input: { command: "echo ran >> marker" }, error: "Tool execution aborted", metadata: { interrupted: true, output: "half" }, time: { start: 1, end: 2 } } }
    const { settle, calls } = services({ id: "m1", sessionID: "s1" }, [marked])
    await Effect.runPromise(failover.finish(settle))
    const written = calls.find((call) => call.op === "updatePart")?.value as { id: string; state: { status: string; error: string; metadata: Record<string, unknown> } }
    expect(written.id).toBe("prt_1")
    expect(written.state.status).toBe("error")
    expect(written.state.error).toContain("It may have run; check before repeating it.")
    expect(written.state.error).toContain("half")
    // Not upstream's "interrupted" mark, which would send the partial output as if it were the whole result.
    expect(written.state.metadata.interrupted).toBeUndefined()
  })

  /** OpenCode's stock policy as far as it matters here: it retries an overload after a wait it names. */
  const stockRetriesOverload = (delayMs: number) =>
    Schedule.fromStepWithMetadata(
      Effect.succeed((meta: Schedule.InputMetadata<unknown>) =>
        meta.attempt > 5 ? Cause.done(meta.attempt) : Effect.succeed([meta.attempt, Duration.millis(delayMs)] as [number, Duration.Duration]),
      ),
    )

  test("a tool ran, then a failure left to the stock retry: the retry goes on from the tool's result instead of streaming the step again", async () => {
    leaveOverloadedToStock()
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    let runs = 0
    const input = failover.watch({ tools: bashTool(() => runs++) })
    let streams = 0
    const exit = await Effect.runPromiseExit(
      Effect.retry(
        Effect.suspend(() => {
          // Every stream of the step: the model calls the tool (it has not seen a result), then anthropic is overloaded.
          streams++
          return Effect.promise(() => runTool(input.tools, `call_${streams}`)).pipe(Effect.andThen(Effect.fail(overloaded())))
        }),
        guardRetry(failover, stockRetriesOverload(0)),
      ),
    )
    expect(exit._tag).toBe("Failure")
    expect(streams).toBe(1)
    expect(runs).toBe(1)
    expect(failover.claimed).toBe(true)
    const { settle, calls } = services({ id: "m1", sessionID: "s1" })
    await Effect.runPromise(failover.finish(settle))
    expect(calls[0]!.op).toBe("updateMessage")
    expect(calls.find((call) => call.op === "status")?.value).toMatchObject({ message: expect.stringContaining("anthropic overloaded, retrying in") })
    // Nothing cooled: the next step goes on at anthropic, from the tool's result.
    expect(routeStep("s1", user("u1"))).toMatchObject({ providerID: "anthropic", replay: false })
    expect(runtime().health.cooldownOf({ providerID: "anthropic", modelID: "claude-sonnet-4-5" })).toBeUndefined()
  })

  test("without a tool run the stock retry streams the step again, as before", async () => {
    leaveOverloadedToStock()
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    let streams = 0
    await Effect.runPromiseExit(Effect.retry(Effect.suspend(() => (streams++, Effect.fail(overloaded()))), guardRetry(failover, stockRetriesOverload(0))))
    expect(streams).toBe(6)
    expect(failover.claimed).toBe(false)
  })

  test("a command that returned after the step's abort (\"User aborted the command\") is reported as interrupted, may have run", async () => {
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    const controller = new AbortController()
    // OpenCode's shell: on abort it kills the command and returns what it printed, blaming the user.
    const shell = {
      bash: {
        execute: (_input: unknown, options: { toolCallId: string; abortSignal?: AbortSignal }) =>
          new Promise((resolve) =>
            options.abortSignal?.addEventListener("abort", () =>
              resolve({ title: "sleep 5", metadata: {}, output: "(no output)\n\n<shell_metadata>\nUser aborted the command\n</shell_metadata>" }),
            ),
          ),
      },
    }
    const input = failover.watch({ tools: shell })
    failover.observe({ type: "tool-call", id: "call_1" })
    const running = input.tools.bash.execute({ command: "sleep 5 && echo ran >> marker" }, { toolCallId: "call_1", abortSignal: controller.signal })
    // The stream fails; its scope aborts the step's tools.
    controller.abort()
    await running
    expect(failover.claims(rateLimited("600"))).toBe(true)
    // OpenCode's tool wrapper recorded what the shell returned after the abort.
    const recorded = { id: "prt_1", messageID: "m1", sessionID: "s1", type: "tool", callID: "call_1", tool: "bash", state: { status: "completed", input: { command: "sleep 5 && echo ran >> marker" }, output: "(no output)\n\n<shell_metadata>\nUser aborted the command\n</shell_metadata>", title: "sleep 5", metadata: {}, time: { start: 1, end: 2 } } }
    const { settle, calls } = services({ id: "m1", sessionID: "s1" }, [recorded])
    await Effect.runPromise(failover.finish(settle))
    const written = calls.find((call) => call.op === "updatePart")?.value as { id: string; state: { status: string; error: string } }
    expect(written.id).toBe("prt_1")
    expect(written.state.status).toBe("error")
    expect(written.state.error).toContain("It may have run; check before repeating it.")
    expect(written.state.error).toContain("User aborted the command")
  })

  test("a tool that finished its work after the step's abort (a read) keeps its whole result: it was not cut short", async () => {
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    const controller = new AbortController()
    let finish!: () => void
    const reader = {
      read: {
        execute: (_input: unknown, _options: { toolCallId: string; abortSignal?: AbortSignal }) =>
          new Promise((resolve) => (finish = () => resolve({ title: "notes.txt", metadata: {}, output: "1: The secret word is pelican." }))),
      },
    }
    const input = failover.watch({ tools: reader })
    failover.observe({ type: "tool-call", id: "call_1" })
    const running = input.tools.read.execute({ filePath: "notes.txt" }, { toolCallId: "call_1", abortSignal: controller.signal })
    // The stream fails while the read is under way; the read does not heed the signal and returns the whole file.
    controller.abort()
    finish()
    await running
    expect(failover.claims(rateLimited("600"))).toBe(true)
    const recorded = { id: "prt_1", messageID: "m1", sessionID: "s1", type: "tool", callID: "call_1", tool: "read", state: { status: "completed", input: { filePath: "notes.txt" }, output: "1: The secret word is pelican.", title: "notes.txt", metadata: {}, time: { start: 1, end: 2 } } }
    const { settle, calls } = services({ id: "m1", sessionID: "s1" }, [recorded])
    await Effect.runPromise(failover.finish(settle))
    // The processor's completed part stands as it is: nothing is rewritten as interrupted.
    expect(calls.filter((call) => call.op === "updatePart")).toEqual([])
  })

  test("with no tool run in any attempt the step still replays", async () => {
    leaveOverloadedToStock()
    routeStep("s1", user("u1"))
    const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
    failover.watch({ tools: bashTool(() => {}) })
    failover.observe({ type: "text-delta", text: "Half" })
    expect(failover.claims(overloaded())).toBe(false)
    expect(failover.claims(rateLimited("600"))).toBe(true)
    const { settle, calls } = services({ id: "m1", sessionID: "s1" })
    await Effect.runPromise(failover.finish(settle))
    expect(calls[0]!.op).toBe("removeMessage")
  })
})
