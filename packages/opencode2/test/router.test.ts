/**
 * The router against a catalog shaped as OpenCode 2's model editor hands it: grouping, pointing the combined model at
 * a member, and the retry hook's decisions. The real binary's side of the same is test/e2e/v2.
 */
import { describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { RetryEvent, V2Model } from "../src/api.ts"
import { requestTokens, Router, type RouterOptions } from "../src/router.ts"
import { memoryEditor } from "./editor.ts"

const sonnet = (providerID: string, id: string): V2Model => ({
  id,
  providerID,
  name: "Claude Sonnet 4.5",
  family: "claude-sonnet",
  capabilities: { tools: true, input: ["text", "image"], output: ["text"], temperature: true },
  time: { released: Date.UTC(2025, 8, 29) },
  limit: { context: 200000, output: 64000 },
})


const catalog = () =>
  memoryEditor({
    anthropic: {
      info: { id: "anthropic", name: "Anthropic", activation: "enabled", package: "@opencode/ai/providers/anthropic", settings: { baseURL: "http://a/v1", apiKey: "ka" } },
      models: [sonnet("anthropic", "claude-sonnet-4-5")],
    },
    openrouter: {
      info: { id: "openrouter", name: "OpenRouter", activation: "enabled", package: "@opencode/ai/providers/openrouter", settings: { baseURL: "http://o/v1", apiKey: "ko" } },
      // GPT-5 only at OpenRouter: no combined model, a `fallback_models` entry.
      models: [sonnet("openrouter", "anthropic/claude-sonnet-4.5"), { ...sonnet("openrouter", "openai/gpt-5"), name: "GPT-5", family: "gpt" }],
    },
  })

function setup(options: unknown = { provider_priority: ["anthropic", "openrouter"] }, extra: Partial<RouterOptions> = {}) {
  const stateDir = mkdtempSync(join(tmpdir(), "cm-v2-router-"))
  let now = 1_000_000
  const edit = catalog()
  let reloads = 0
  const router: Router = new Router({
    options,
    stateDir,
    clock: () => now,
    ...extra,
    reload: async () => {
      reloads++
      router.transform(edit)
    },
  })
  router.transform(edit)
  return {
    router,
    edit,
    reloads: () => reloads,
    advance: (ms: number) => (now += ms),
    [Symbol.dispose]: () => rmSync(stateDir, { recursive: true, force: true }),
  }
}

/** A request body of this many characters, in words (not a base64 run, which read-ahead counts as an attachment). */
const text = (length: number) => "word ".repeat(Math.ceil(length / 5)).slice(0, length)

const retry = (error: RetryEvent["error"], decision: RetryEvent["decision"] = { retry: true, delay: 2000 }): RetryEvent => ({
  sessionID: "s",
  agent: "build",
  model: { providerID: "combined", id: "claude-sonnet-4-5" },
  attempt: 2,
  error,
  decision,
})

/**
 * The machine ended the step (`surface`): the retry hook asks for one more attempt, which carries the engine's message
 * to the plugin's loopback (`refusal.ts`), and the retry after it stops core's retries. Returns what it carried.
 */
async function ended(env: { router: Router }, event: RetryEvent) {
  expect(event.decision).toEqual({ retry: true, delay: 0 })
  env.router.onRequest(event.sessionID, event.model.id)
  expect(await env.router.route(event.sessionID, event.model.id, text(400))).toBe(true)
  const refusal = env.router.takeRefusal(event.sessionID, event.model.id)
  const last = { ...retry({ type: "provider.rate-limit", message: refusal?.message ?? "", status: refusal?.status }), sessionID: event.sessionID }
  await env.router.onRetry(last)
  expect(last.decision).toEqual({ retry: false })
  return refusal!
}

const rateLimit = { type: "provider.rate-limit", message: "rate limited", status: 429, response: { body: '{"type":"error","error":{"type":"rate_limit_error","message":"rate limited"}}' }, retryAfterMs: 30_000 }

describe("router", () => {
  test("the combined model points at the first member in the user's order, with its wire, endpoint, key and model id", () => {
    using env = setup()
    const model = env.edit.get("combined", "claude-sonnet-4-5")!
    expect({ package: model.package, settings: model.settings, modelID: model.modelID, name: model.name }).toEqual({
      package: "@opencode/ai/providers/anthropic",
      settings: { baseURL: "http://a/v1", apiKey: "ka" },
      modelID: "claude-sonnet-4-5",
      name: "Claude Sonnet 4.5",
    })
  })

  test("a 429 cools the member, points the model at the next one and retries at once", async () => {
    using env = setup()
    env.router.onRequest("s", "claude-sonnet-4-5")
    const event = retry(rateLimit)
    await env.router.onRetry(event)
    expect(event.decision).toEqual({ retry: true, delay: 0 })
    const model = env.edit.get("combined", "claude-sonnet-4-5")!
    expect({ package: model.package, modelID: model.modelID, baseURL: model.settings?.baseURL }).toEqual({
      package: "@opencode/ai/providers/openrouter",
      modelID: "anthropic/claude-sonnet-4.5",
      baseURL: "http://o/v1",
    })
    expect(env.router.health.cooldownOf({ providerID: "anthropic", modelID: "claude-sonnet-4-5" })?.reason).toBe("rate_limit")
    expect(env.router.switches.map((s) => s.notice)).toEqual(["anthropic rate-limited, retry in 30 s → openrouter"])
  })

  test("the failed response's Retry-After (the retry hook gets no headers) sets the member's cooldown", async () => {
    using env = setup()
    env.router.onRequest("s", "claude-sonnet-4-5")
    env.router.onFailedResponse("s", "claude-sonnet-4-5", new Headers({ "Retry-After": "120", "content-type": "application/json" }))
    const { retryAfterMs: _, ...withoutRetryAfter } = rateLimit
    await env.router.onRetry(retry(withoutRetryAfter))
    const cooldown = env.router.health.cooldownOf({ providerID: "anthropic", modelID: "claude-sonnet-4-5" }, 1_000_000)
    expect({ reason: cooldown?.reason, for: cooldown && cooldown.until - 1_000_000 }).toEqual({ reason: "rate_limit", for: 120_000 })
  })

  test("a bad request is not a failover matter: core's decision stands, nothing is cooled", async () => {
    using env = setup()
    env.router.onRequest("s", "claude-sonnet-4-5")
    const event = retry({ type: "provider.invalid-request", message: "messages: field required", status: 400 }, { retry: false })
    await env.router.onRetry(event)
    expect(event.decision).toEqual({ retry: false })
    expect(env.reloads()).toBe(0)
  })

  test("every member failed in the step and none is back soon: stop now", async () => {
    using env = setup()
    env.router.onRequest("s", "claude-sonnet-4-5")
    await env.router.onRetry(retry({ ...rateLimit, retryAfterMs: 600_000 }))
    env.router.onRequest("s", "claude-sonnet-4-5")
    const second = retry({ ...rateLimit, retryAfterMs: 600_000 })
    await env.router.onRetry(second)
    const refusal = await ended(env, second)
    expect(refusal.status).toBe(429)
    expect(refusal.message).toContain("anthropic")
    expect(refusal.message).toContain("openrouter")
  })

  test("after the cooldown, the next served step goes back to the first member", async () => {
    using env = setup()
    env.router.onRequest("s", "claude-sonnet-4-5")
    await env.router.onRetry(retry(rateLimit))
    env.advance(31_000)
    await env.router.refresh("claude-sonnet-4-5")
    expect(env.router.serving.get("claude-sonnet-4-5")).toEqual({ providerID: "anthropic", modelID: "claude-sonnet-4-5" })
  })
})

describe("max_switches_per_turn", () => {
  test("0: a failure shows its error instead of moving the step", async () => {
    using env = setup({ provider_priority: ["anthropic", "openrouter"], combined_models: { max_switches_per_turn: 0 } })
    env.router.onRequest("s", "claude-sonnet-4-5")
    const event = retry(rateLimit)
    await env.router.onRetry(event)
    expect((await ended(env, event)).message).toContain("max_switches_per_turn")
    expect(env.router.serving.get("claude-sonnet-4-5")).toEqual({ providerID: "anthropic", modelID: "claude-sonnet-4-5" })
  })
})

/** The failover decisions come from the engine's state machine (machine.ts), as in the 1.x edition. */
describe("the engine's failover machine", () => {
  const overloaded = { type: "provider.overloaded", message: "Overloaded", status: 529, response: { body: '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}' } }

  test("retries_before_failover: an overload is retried once on the same member after a short wait, then moves on", async () => {
    using env = setup()
    env.router.onRequest("s", "claude-sonnet-4-5")
    const first = retry(overloaded)
    await env.router.onRetry(first)
    expect(first.decision).toEqual({ retry: true, delay: 2000 })
    expect(env.router.serving.get("claude-sonnet-4-5")).toEqual({ providerID: "anthropic", modelID: "claude-sonnet-4-5" })
    env.advance(2000)
    env.router.onRequest("s", "claude-sonnet-4-5")
    // The retry's own attempt is not turned away for the member's short cooldown.
    expect(await env.router.route("s", "claude-sonnet-4-5", text(4000))).toBe(false)
    const second = retry(overloaded)
    await env.router.onRetry(second)
    expect(second.decision).toEqual({ retry: true, delay: 0 })
    expect(env.router.serving.get("claude-sonnet-4-5")).toEqual({ providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" })
  })

  test("retries_before_failover: 0 moves an overload on at once", async () => {
    using env = setup({ provider_priority: ["anthropic", "openrouter"], combined_models: { retries_before_failover: 0 } })
    env.router.onRequest("s", "claude-sonnet-4-5")
    const event = retry(overloaded)
    await env.router.onRetry(event)
    expect(event.decision).toEqual({ retry: true, delay: 0 })
    expect(env.router.serving.get("claude-sonnet-4-5")?.providerID).toBe("openrouter")
  })

  for (const [where, options] of [
    ["combined_models.fallback_models", { combined_models: { fallback_models: ["openrouter/openai/gpt-5"] } }],
    ['the "*" agent', { agent: { "*": { fallback_models: ["openrouter/openai/gpt-5"] } } }],
    ["the step's own agent", { agent: { build: { fallback_models: ["openrouter/openai/gpt-5"] }, "*": { fallback_models: [] } } }],
  ] as const)
    test(`fallback_models (${where}): every member out, the step goes on at the next model of the chain`, async () => {
      using env = setup({ provider_priority: ["anthropic", "openrouter"], ...options })
      env.router.onRequest("s", "claude-sonnet-4-5")
      await env.router.onRetry(retry({ ...rateLimit, retryAfterMs: 600_000 }))
      env.router.onRequest("s", "claude-sonnet-4-5")
      const second = retry({ ...rateLimit, retryAfterMs: 600_000 })
      await env.router.onRetry(second)
      expect(second.decision).toEqual({ retry: true, delay: 0 })
      const model = env.edit.get("combined", "claude-sonnet-4-5")!
      expect({ modelID: model.modelID, baseURL: model.settings?.baseURL }).toEqual({ modelID: "openai/gpt-5", baseURL: "http://o/v1" })
      // Still pointed there after a reload (the chain's member is a place the entry may point).
      await env.router.refresh("claude-sonnet-4-5")
      expect(env.router.serving.get("claude-sonnet-4-5")).toEqual({ providerID: "openrouter", modelID: "openai/gpt-5" })
    })

  test("a chain for another agent only does not apply: every member out shows the error", async () => {
    using env = setup({ provider_priority: ["anthropic", "openrouter"], agent: { plan: { fallback_models: ["openrouter/openai/gpt-5"] } } })
    env.router.onRequest("s", "claude-sonnet-4-5")
    await env.router.onRetry(retry({ ...rateLimit, retryAfterMs: 600_000 }))
    env.router.onRequest("s", "claude-sonnet-4-5")
    const second = retry({ ...rateLimit, retryAfterMs: 600_000 })
    await env.router.onRetry(second)
    expect((await ended(env, second)).message).not.toContain("gpt-5")
  })

  for (const message of ["Timed out waiting for response headers", "Timed out waiting for response data"])
    test(`core's own timeout ("${message}") is the engine's timeout: the step moves on at once`, async () => {
      using env = setup()
      env.router.onRequest("s", "claude-sonnet-4-5")
      const event = retry({ type: "provider.transport", message })
      await env.router.onRetry(event)
      expect(event.decision).toEqual({ retry: true, delay: 0 })
      expect(env.router.serving.get("claude-sonnet-4-5")?.providerID).toBe("openrouter")
      expect(env.router.health.cooldownOf({ providerID: "anthropic", modelID: "claude-sonnet-4-5" })?.reason).toBe("timeout")
    })

  test("a served step clears the member's failure streak (the machine's recovered action)", async () => {
    using env = setup()
    env.router.onRequest("s", "claude-sonnet-4-5")
    await env.router.onRetry(retry(overloaded))
    env.advance(2000)
    env.router.onRequest("s", "claude-sonnet-4-5")
    env.router.onServed("s", "claude-sonnet-4-5")
    expect(env.router.health.cooldownOf({ providerID: "anthropic", modelID: "claude-sonnet-4-5" }, 1_002_001)).toBeUndefined()
  })
})

/** Routing a fresh step where its request leaves (`route`): the same decisions as the 1.x edition's, from the engine. */
describe("routing each step: read-ahead, least_limited, sticky, the turn", () => {
  const SONNET = "claude-sonnet-4-5"
  const anthropic = { providerID: "anthropic", modelID: SONNET }
  const openrouter = { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" }
  /** A served step at `member` whose response said this much is left of its tokens, reset in a minute. */
  const served = (env: ReturnType<typeof setup>, sessionID: string, remaining: number, limit = 100_000) => {
    env.router.onResponse(sessionID, SONNET, new Headers({ "x-ratelimit-limit-tokens": String(limit), "x-ratelimit-remaining-tokens": String(remaining), "x-ratelimit-reset-tokens": "60s" }))
    return env.router.onServed(sessionID, SONNET)
  }
  const deflected = async (env: ReturnType<typeof setup>, sessionID: string, bodyLength: number) => {
    const turned = await env.router.route(sessionID, SONNET, text(bodyLength))
    if (!turned) return undefined
    const event = { ...retry({ type: "provider.transport", message: "Unable to connect" }, { retry: false }), sessionID }
    await env.router.onRetry(event)
    return { decision: event.decision, serving: env.router.serving.get(SONNET) }
  }

  test("read-ahead: the member's headers say a step this size would pass what it has left: it goes to the next member, unsent, with a notice", async () => {
    using env = setup()
    env.router.onRequest("s", SONNET)
    expect(await env.router.route("s", SONNET, text(4_000))).toBe(false)
    served(env, "s", 2_000)
    env.router.onContext("s", SONNET, [{ role: "user" }])
    env.router.onRequest("s", SONNET)
    // 40,000 characters ≈ 10,000 tokens > 2,000 left.
    expect(await deflected(env, "s", 40_000)).toEqual({ decision: { retry: true, delay: 0 }, serving: openrouter })
    expect(env.router.switches.at(-1)?.notice).toMatch(/^anthropic near its limit, resets in 1 min → openrouter$/)
    // Nothing was recorded against anthropic: it was never asked.
    expect(env.router.view.cooldownOf(anthropic, Date.now())).toBeUndefined()
    // A step that fits what anthropic has left goes back there.
    env.router.onRequest("s", SONNET)
    served(env, "s", 50_000)
    env.router.onContext("s", SONNET, [{ role: "user" }, { role: "assistant" }, { role: "user" }])
    env.router.onRequest("s", SONNET)
    expect(await deflected(env, "s", 400)).toEqual({ decision: { retry: true, delay: 0 }, serving: anthropic })
  })

  test("read-ahead: a step that fits what is left stays on the member", async () => {
    using env = setup()
    env.router.onRequest("s", SONNET)
    await env.router.route("s", SONNET, text(4_000))
    served(env, "s", 20_000)
    env.router.onContext("s", SONNET, [{ role: "user" }])
    env.router.onRequest("s", SONNET)
    expect(await env.router.route("s", SONNET, text(4_000))).toBe(false)
  })

  test("least_limited: a new turn goes to the member with the most left by the headers last seen", async () => {
    using env = setup({ provider_priority: ["anthropic", "openrouter"], combined_models: { strategy: "least_limited" } })
    env.router.onRequest("s", SONNET)
    await env.router.route("s", SONNET, text(400))
    served(env, "s", 10_000, 100_000)
    // Another session's step at openrouter (the catalog pointed there for it) read 90% left.
    await env.router.refresh(SONNET)
    env.edit.update("combined", SONNET, () => {})
    ;(env.router.serving as Map<string, typeof openrouter>).set(SONNET, openrouter)
    env.router.onRequest("t", SONNET)
    await env.router.route("t", SONNET, text(400))
    served(env, "t", 90_000, 100_000)
    // A new turn of the first session: openrouter has more left, so it goes there (priority alone would say anthropic).
    ;(env.router.serving as Map<string, typeof openrouter>).set(SONNET, anthropic)
    env.router.onContext("s", SONNET, [{ role: "user" }])
    env.router.onRequest("s", SONNET)
    expect(await deflected(env, "s", 400)).toEqual({ decision: { retry: true, delay: 0 }, serving: openrouter })
    // No failure, no notice: least_limited is an order, not a switch.
    expect(env.router.switches).toEqual([])
  })

  test("the turn goes on (the step starts from tool results) on the member that served it, though the first one is back", async () => {
    using env = setup()
    env.router.onRequest("s", SONNET)
    const event = retry(rateLimit)
    await env.router.onRetry(event)
    env.router.onRequest("s", SONNET)
    expect(env.router.memberOf("s", SONNET)).toEqual(openrouter)
    served(env, "s", 50_000)
    // Anthropic's 30 s pass while the tool runs; the catalog is pointed back at it (another session's new turn).
    env.advance(31_000)
    ;(env.router.serving as Map<string, typeof openrouter>).set(SONNET, anthropic)
    env.router.onContext("s", SONNET, [{ role: "user" }, { role: "assistant" }, { role: "tool" }])
    env.router.onRequest("s", SONNET)
    expect(await deflected(env, "s", 4_000)).toEqual({ decision: { retry: true, delay: 0 }, serving: openrouter })
    // A new turn of the session starts at anthropic again (sticky "turn", the default).
    env.router.onRequest("s", SONNET)
    served(env, "s", 50_000)
    env.router.onContext("s", SONNET, [{ role: "user" }])
    env.router.onRequest("s", SONNET)
    expect(await deflected(env, "s", 4_000)).toEqual({ decision: { retry: true, delay: 0 }, serving: anthropic })
  })

  test('sticky "session": a new turn stays on the member that served the last one while it is healthy', async () => {
    using env = setup({ provider_priority: ["anthropic", "openrouter"], combined_models: { sticky: "session" } })
    env.router.onRequest("s", SONNET)
    await env.router.onRetry(retry(rateLimit))
    env.router.onRequest("s", SONNET)
    served(env, "s", 50_000)
    env.advance(31_000)
    // After the step the entry was pointed where this session's next turn goes: openrouter still.
    await env.router.refresh(SONNET, "s")
    expect(env.router.serving.get(SONNET)).toEqual(openrouter)
    env.router.onContext("s", SONNET, [{ role: "user" }])
    env.router.onRequest("s", SONNET)
    expect(await env.router.route("s", SONNET, text(4_000))).toBe(false)
  })

  test('sticky "session" across processes: a session this process never routed goes on at the member its last step was served by', async () => {
    const lastServed = () => ({ member: openrouter, at: 999_000 })
    using env = setup({ provider_priority: ["anthropic", "openrouter"], combined_models: { sticky: "session" } }, { lastServed })
    env.router.onRequest("s", SONNET)
    expect(await deflected(env, "s", 4_000)).toEqual({ decision: { retry: true, delay: 0 }, serving: openrouter })
    // sticky "turn" (the default) starts each turn where the order says.
    using plain = setup(undefined, { lastServed })
    plain.router.onRequest("s", SONNET)
    expect(await plain.router.route("s", SONNET, text(4_000))).toBe(false)
  })

  test("cost: the cheapest member by OpenCode 2's catalog price (its base tier, not the long-context one) serves first, against the priority order", () => {
    const priced = (model: V2Model, cost: V2Model["cost"]) => ({ ...model, cost })
    const edit = memoryEditor({
      anthropic: {
        info: { id: "anthropic", name: "Anthropic", activation: "enabled", package: "@opencode/ai/providers/anthropic", settings: { baseURL: "http://a/v1", apiKey: "ka" } },
        models: [priced(sonnet("anthropic", SONNET), [{ input: 3, output: 15 }])],
      },
      openrouter: {
        info: { id: "openrouter", name: "OpenRouter", activation: "enabled", package: "@opencode/ai/providers/openrouter", settings: { baseURL: "http://o/v1", apiKey: "ko" } },
        models: [priced(sonnet("openrouter", "anthropic/claude-sonnet-4.5"), [{ input: 9, output: 40, tier: { type: "context", size: 200000 } }, { input: 1, output: 5 }])],
      },
    })
    const stateDir = mkdtempSync(join(tmpdir(), "cm-v2-router-"))
    try {
      const router = new Router({ options: { provider_priority: ["anthropic", "openrouter"], combined_models: { strategy: "cost" } }, stateDir, reload: async () => {} })
      router.transform(edit)
      expect(router.serving.get(SONNET)).toEqual(openrouter)
      expect(router.groups.get(SONNET)?.members.map((member) => member.providerID)).toEqual(["openrouter", "anthropic"])
    } finally {
      rmSync(stateDir, { recursive: true, force: true })
    }
  })

  test("a retry given up (the user stopped the turn while it waited): the next question is a new step, routed afresh, not the retry's attempt", async () => {
    using env = setup()
    const overloaded = { type: "provider.overloaded", message: "Overloaded", status: 529, response: { body: '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}' } }
    env.router.onContext("s", SONNET, [{ role: "user" }])
    env.router.onRequest("s", SONNET)
    expect(await env.router.route("s", SONNET, text(4_000))).toBe(false)
    const event = retry(overloaded)
    await env.router.onRetry(event)
    expect(event.decision).toEqual({ retry: true, delay: 2000 })
    // The retry's own attempt would carry one message, 2 s from now; this one, a minute later, carries the stopped turn
    // and a new question.
    env.advance(60_000)
    env.router.onContext("s", SONNET, [{ role: "user" }, { role: "assistant" }, { role: "user" }])
    env.router.onRequest("s", SONNET)
    expect(await env.router.route("s", SONNET, text(4_000))).toBe(false)
    // A new turn: its own same-member retry is still to come (the given-up one does not count against it).
    const again = retry(overloaded)
    await env.router.onRetry(again)
    expect(again.decision).toEqual({ retry: true, delay: 2000 })
    expect(env.router.serving.get(SONNET)).toEqual(anthropic)
  })

  test("core's continuation after a failure with output (the partial answer and a note to go on), as soon as the retry is due, is the retry's attempt", async () => {
    using env = setup()
    env.router.onContext("s", SONNET, [{ role: "user" }])
    env.router.onRequest("s", SONNET)
    await env.router.route("s", SONNET, text(400))
    const failed = retry(rateLimit)
    await env.router.onRetry(failed)
    expect(env.router.serving.get(SONNET)).toEqual(openrouter)
    env.router.onContext("s", SONNET, [{ role: "user" }, { role: "assistant" }, { role: "user" }])
    env.router.onRequest("s", SONNET)
    // The attempt the machine chose: not routed again, and the turn (anthropic given up) goes on.
    expect(await env.router.route("s", SONNET, text(400))).toBe(false)
    expect(env.router.memberOf("s", SONNET)).toEqual(openrouter)
    const again = retry(rateLimit)
    await env.router.onRetry(again)
    await ended(env, again)
  })

  test("the retry's own attempt (same conversation) is the retry: sent to the member it named, not routed again", async () => {
    using env = setup()
    const overloaded = { type: "provider.overloaded", message: "Overloaded", status: 529, response: { body: '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}' } }
    env.router.onContext("s", SONNET, [{ role: "user" }])
    env.router.onRequest("s", SONNET)
    await env.router.route("s", SONNET, text(4_000))
    await env.router.onRetry(retry(overloaded))
    env.router.onContext("s", SONNET, [{ role: "user" }])
    env.router.onRequest("s", SONNET)
    expect(await env.router.route("s", SONNET, text(4_000))).toBe(false)
    expect(env.router.memberOf("s", SONNET)).toEqual(anthropic)
  })

  test("read-ahead after a served step sizes the next one by what the provider counted, its cached prefix apart (Anthropic's limit leaves cache reads out): a mostly cached conversation stays", async () => {
    using env = setup()
    env.router.onRequest("s", SONNET)
    await env.router.route("s", SONNET, text(4_000))
    const reset = new Date(1_000_000 + 60_000).toISOString()
    env.router.onResponse("s", SONNET, new Headers({ "anthropic-ratelimit-input-tokens-limit": "400000", "anthropic-ratelimit-input-tokens-remaining": "29000", "anthropic-ratelimit-input-tokens-reset": reset }))
    env.router.onServed("s", SONNET, { input: 50_000, output: 1_000, cacheRead: 48_000 })
    env.router.onContext("s", SONNET, [{ role: "user" }, { role: "assistant" }, { role: "user" }])
    env.router.onRequest("s", SONNET)
    // The body alone (200,000 characters ≈ 50,000 tokens) would say it does not fit; 3,000 uncached tokens do.
    expect(await env.router.route("s", SONNET, text(200_000))).toBe(false)
    // Without a cached prefix the same count does not fit: it goes on at openrouter.
    env.router.onServed("s", SONNET, { input: 50_000, output: 1_000 })
    env.router.onContext("s", SONNET, [{ role: "user" }, { role: "assistant" }, { role: "user" }, { role: "assistant" }, { role: "user" }])
    env.router.onRequest("s", SONNET)
    expect(await deflected(env, "s", 4_000)).toEqual({ decision: { retry: true, delay: 0 }, serving: openrouter })
  })

  test("an attachment in the body (a base64 run) counts as what a provider counts for one, not four characters a token", () => {
    expect(requestTokens(`{"messages":[{"text":"${text(400)}"},{"image":"${"iVBORw0KGgo".repeat(40_000)}"}]}`)).toBeLessThan(2_000)
    expect(requestTokens(text(40_000))).toBe(10_000)
  })

  test("a key OpenCode holds: a 401 cools that key; a new key stored while OpenCode runs is read again before routing, and the provider is asked", async () => {
    let key = "key-revoked"
    const edit = memoryEditor({
      anthropic: { info: { id: "anthropic", name: "Anthropic", activation: "enabled", package: "@opencode/ai/providers/anthropic", settings: { baseURL: "http://a/v1" } }, models: [sonnet("anthropic", SONNET)] },
      openrouter: { info: { id: "openrouter", name: "OpenRouter", activation: "enabled", package: "@opencode/ai/providers/openrouter", settings: { baseURL: "http://o/v1", apiKey: "ko" } }, models: [sonnet("openrouter", "anthropic/claude-sonnet-4.5")] },
    })
    const stateDir = mkdtempSync(join(tmpdir(), "cm-v2-router-"))
    try {
      const router: Router = new Router({ options: { provider_priority: ["anthropic", "openrouter"] }, stateDir, keyOf: async () => key, reload: async () => router.transform(edit) })
      router.transform(edit)
      router.onRequest("s", SONNET)
      expect(await router.route("s", SONNET, text(400))).toBe(false)
      const refused = retry({ type: "provider.auth", message: "invalid x-api-key", status: 401, response: { body: '{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}' } }, { retry: false })
      await router.onRetry(refused)
      expect(router.serving.get(SONNET)).toEqual(openrouter)
      router.onRequest("s", SONNET)
      router.onServed("s", SONNET)
      // Still the refused key: anthropic stays out.
      router.onContext("s", SONNET, [{ role: "user" }, { role: "assistant" }, { role: "user" }])
      router.onRequest("s", SONNET)
      expect(await router.route("s", SONNET, text(400))).toBe(false)
      router.onServed("s", SONNET)
      // The user stores a new key: the next turn goes to anthropic.
      key = "key-new"
      ;(router.serving as Map<string, typeof anthropic>).set(SONNET, openrouter)
      router.onContext("s", SONNET, [{ role: "user" }, { role: "assistant" }, { role: "user" }, { role: "assistant" }, { role: "user" }])
      router.onRequest("s", SONNET)
      expect(await router.route("s", SONNET, text(400))).toBe(true)
      const moved = retry({ type: "provider.transport", message: "Unable to connect" }, { retry: false })
      await router.onRetry(moved)
      expect(router.serving.get(SONNET)).toEqual(anthropic)
    } finally {
      rmSync(stateDir, { recursive: true, force: true })
    }
  })

  test("while the catalog reloads, a step resolves the entry as it was: serving changes once the reload is done", async () => {
    let release: () => void = () => {}
    const edit = catalog()
    const stateDir = mkdtempSync(join(tmpdir(), "cm-v2-router-"))
    try {
      const router: Router = new Router({
        options: { provider_priority: ["anthropic", "openrouter"] },
        stateDir,
        reload: async () => {
          router.transform(edit)
          await new Promise<void>((done) => (release = done))
        },
      })
      router.transform(edit)
      router.onRequest("a", SONNET)
      const switching = router.onRetry({ ...retry(rateLimit), sessionID: "a" })
      await Bun.sleep(5)
      // Session b's step started during the reload: it went to anthropic, the entry as it still was.
      router.onRequest("b", SONNET)
      expect(router.memberOf("b", SONNET)).toEqual(anthropic)
      release()
      await switching
      expect(router.serving.get(SONNET)).toEqual(openrouter)
    } finally {
      rmSync(stateDir, { recursive: true, force: true })
    }
  })

  test("a compaction between two steps of a turn is a request of its own: the turn's switch budget and given-up providers stay", async () => {
    using env = setup()
    env.router.onContext("s", SONNET, [{ role: "user" }])
    env.router.onRequest("s", SONNET)
    await env.router.onRetry(retry(rateLimit))
    env.router.onRequest("s", SONNET)
    env.router.onServed("s", SONNET)
    // A summary request on the same model, then the turn goes on from tool results.
    env.router.onRequest("s", SONNET, "compaction")
    env.router.onServed("s", SONNET, undefined, "compaction")
    env.router.onContext("s", SONNET, [{ role: "user" }, { role: "assistant" }, { role: "tool" }])
    env.router.onRequest("s", SONNET)
    env.advance(31_000)
    expect(await env.router.route("s", SONNET, text(400))).toBe(false)
    expect(env.router.memberOf("s", SONNET)).toEqual(openrouter)
    // Openrouter fails too: anthropic's 30 s are over, but this turn gave it up, so the error shows.
    const again = retry(rateLimit)
    await env.router.onRetry(again)
    await ended(env, again)
  })

  test("the step's own agent's fallback chain applies when it is routed: every member cooling, it goes down that chain before it leaves", async () => {
    using env = setup({ provider_priority: ["anthropic", "openrouter"], agent: { plan: { fallback_models: ["openrouter/openai/gpt-5"] } } })
    env.router.onRequest("s", SONNET, "primary", "plan")
    await env.router.onRetry({ ...retry(rateLimit), agent: "plan" })
    env.router.onRequest("s", SONNET, "primary", "plan")
    await env.router.onRetry({ ...retry(rateLimit), agent: "plan" })
    expect(env.router.serving.get(SONNET)).toEqual({ providerID: "openrouter", modelID: "openai/gpt-5" })
    env.router.onRequest("s", SONNET, "primary", "plan")
    env.router.onServed("s", SONNET)
    // A new turn of the plan agent while both Sonnet members are still cooling: straight down its chain.
    ;(env.router.serving as Map<string, typeof anthropic>).set(SONNET, anthropic)
    env.router.onContext("s", SONNET, [{ role: "user" }, { role: "assistant" }, { role: "user" }])
    env.router.onRequest("s", SONNET, "primary", "plan")
    expect(await deflected(env, "s", 400)).toEqual({ decision: { retry: true, delay: 0 }, serving: { providerID: "openrouter", modelID: "openai/gpt-5" } })
  })

  test("every member cooling beyond max_wait: no provider is asked; the step's one attempt carries the engine's message, and core stops there", async () => {
    using env = setup()
    const long = { ...rateLimit, retryAfterMs: 600_000 }
    env.router.onRequest("s", SONNET)
    await env.router.onRetry(retry(long))
    env.router.onRequest("s", SONNET)
    const last = retry(long)
    await env.router.onRetry(last)
    await ended(env, last)
    env.router.onContext("s", SONNET, [{ role: "user" }, { role: "assistant" }, { role: "user" }])
    env.router.onRequest("s", SONNET)
    expect(await env.router.route("s", SONNET, text(400))).toBe(true)
    const refusal = env.router.takeRefusal("s", SONNET)
    expect(refusal?.status).toBe(429)
    expect(refusal?.message).toMatch(/^Every provider of Claude Sonnet 4\.5 is out for longer than combined_models\.max_wait \(.+\); no request was sent:\n- anthropic\/claude-sonnet-4-5: .*\n- openrouter\/anthropic\/claude-sonnet-4\.5: /)
    const stop = retry({ type: "provider.rate-limit", message: refusal!.message, status: 429 })
    await env.router.onRetry(stop)
    expect(stop.decision).toEqual({ retry: false })
  })

  test("a title request on the same combined model beside the step: the step's failure is the step's (its headers, its retry)", async () => {
    using env = setup()
    env.router.onContext("s", SONNET, [{ role: "user" }])
    env.router.onRequest("s", SONNET)
    await env.router.route("s", SONNET, text(400))
    env.router.onRequest("s", SONNET, "title")
    await env.router.route("s", SONNET, text(100), "title")
    env.router.onFailedResponse("s", SONNET, new Headers({ "retry-after": "600" }), "primary")
    const failed = retry({ type: "provider.rate-limit", message: "rate limited", status: 429, response: { body: '{"type":"error","error":{"type":"rate_limit_error","message":"rate limited"}}' } })
    await env.router.onRetry(failed)
    expect(failed.decision).toEqual({ retry: true, delay: 0 })
    // The primary's Retry-After (600 s) was read: it was the primary's failure.
    const cooldown = env.router.health.cooldownOf(anthropic, 1_000_000)
    expect(cooldown && cooldown.until - 1_000_000).toBe(600_000)
    // The title request's step is untouched: its own request goes on as it was.
    expect(env.router.memberOf("s", SONNET, "title")).toEqual(anthropic)
  })

  test("round_robin takes a place in the counter once a turn: a turn's tool steps stay on its provider, the next turn moves on", async () => {
    let counter = 0
    const rotation = { peek: () => counter, take: () => counter++ }
    using env = setup({ provider_priority: ["anthropic", "openrouter"], combined_models: { strategy: "round_robin" } }, { rotation })
    env.router.onContext("s", SONNET, [{ role: "user" }])
    env.router.onRequest("s", SONNET)
    expect(counter).toBe(1)
    // The first turn takes place 0: anthropic, where the entry points.
    expect(await env.router.route("s", SONNET, text(400))).toBe(false)
    served(env, "s", 50_000)
    env.router.onContext("s", SONNET, [{ role: "user" }, { role: "assistant" }, { role: "tool" }])
    env.router.onRequest("s", SONNET)
    // The turn goes on at anthropic, and takes no place.
    expect(await env.router.route("s", SONNET, text(400))).toBe(false)
    expect(counter).toBe(1)
    served(env, "s", 50_000)
    // A title request reads the counter, takes nothing.
    env.router.onRequest("s", SONNET, "title")
    expect(counter).toBe(1)
    // The next turn takes place 1: openrouter.
    env.router.onContext("s", SONNET, [{ role: "user" }, { role: "assistant" }, { role: "tool" }, { role: "assistant" }, { role: "user" }])
    env.router.onRequest("s", SONNET)
    expect(counter).toBe(2)
    expect(await deflected(env, "s", 400)).toEqual({ decision: { retry: true, delay: 0 }, serving: openrouter })
  })
})
