/**
 * The router against a catalog shaped as OpenCode 2's model editor hands it: grouping, pointing the combined model at
 * a member, and the retry hook's decisions. The real binary's side of the same is test/e2e/v2.
 */
import { describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { ModelEditor, RetryEvent, V2Model, V2ProviderInfo } from "../src/api.ts"
import { Router } from "../src/router.ts"

const sonnet = (providerID: string, id: string): V2Model => ({
  id,
  providerID,
  name: "Claude Sonnet 4.5",
  family: "claude-sonnet",
  capabilities: { tools: true, input: ["text", "image"], output: ["text"], temperature: true },
  time: { released: Date.UTC(2025, 8, 29) },
  limit: { context: 200000, output: 64000 },
})

/** A model editor over plain maps, as OpenCode 2's: `update` creates a model under a provider that exists. */
function editor(providers: Record<string, { info: V2ProviderInfo; models: V2Model[] }>) {
  const models = new Map<string, Map<string, V2Model>>(Object.entries(providers).map(([id, p]) => [id, new Map(p.models.map((m) => [m.id, m]))]))
  models.set("combined", new Map())
  const edit: ModelEditor = {
    list: (providerID) => (providerID ? [...(models.get(providerID)?.values() ?? [])] : [...models.values()].flatMap((m) => [...m.values()])),
    get: (providerID, modelID) => models.get(providerID)?.get(modelID),
    update: (providerID, modelID, fn) => {
      const model = models.get(providerID)?.get(modelID) ?? ({ id: modelID, providerID } as V2Model)
      fn(model)
      models.get(providerID)?.set(modelID, model)
    },
    remove: (providerID, modelID) => void models.get(providerID)?.delete(modelID),
    provider: { get: (providerID) => (providers[providerID] ? { provider: providers[providerID]!.info } : undefined) },
  }
  return edit
}

const catalog = () =>
  editor({
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

function setup(options: unknown = { provider_priority: ["anthropic", "openrouter"] }) {
  const stateDir = mkdtempSync(join(tmpdir(), "cm-v2-router-"))
  let now = 1_000_000
  const edit = catalog()
  let reloads = 0
  const router: Router = new Router({
    options,
    stateDir,
    clock: () => now,
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

const retry = (error: RetryEvent["error"], decision: RetryEvent["decision"] = { retry: true, delay: 2000 }): RetryEvent => ({
  sessionID: "s",
  agent: "build",
  model: { providerID: "combined", id: "claude-sonnet-4-5" },
  attempt: 2,
  error,
  decision,
})

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
    expect(second.decision).toEqual({ retry: false })
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
    expect(event.decision).toEqual({ retry: false })
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
    expect(await env.router.shouldDeflect("s", "claude-sonnet-4-5")).toBe(false)
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
    expect(second.decision).toEqual({ retry: false })
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
