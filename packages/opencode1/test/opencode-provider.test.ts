import { beforeEach, describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  addCombinedProvider,
  COMBINED_NPM,
  combinedModelInfo,
  combinedProviderInfo,
  combinedSmallModelProvider,
  resolveCombinedModel,
} from "../src/provider.ts"
import { CombinedRuntime, resetRuntime, runtime, type OpenCodeProvider } from "../src/runtime.ts"
import { ocModel, ocProvider } from "./opencode-fixtures.ts"
import { encodeFrame } from "../../combined-models/src/wires/aws-event-stream.ts"
import { BedrockStreamException } from "../../combined-models/src/wires/bedrock.ts"
import { CombinedModelsTimeoutError } from "../../combined-models/src/errors.ts"
import { failoverFor, resetSessions, routeStep } from "../src/session.ts"

/** Anthropic and Copilot both serve Claude Sonnet 4.5; Copilot's window is smaller and it has no `max` variant. */
function loadedProviders() {
  return {
    anthropic: ocProvider("anthropic", "Anthropic", [
      ocModel("anthropic", "claude-sonnet-4-5"),
      ocModel("anthropic", "claude-haiku-4-5", { name: "Claude Haiku 4.5", family: "claude-haiku" }),
    ]),
    "github-copilot": ocProvider("github-copilot", "GitHub Copilot", [
      ocModel("github-copilot", "claude-sonnet-4.5", {
        limit: { context: 128_000, input: 128_000, output: 16_000 },
        cost: { input: 0, output: 0, cache: { read: 0, write: 0 } },
        release_date: "2025-09-30",
        variants: { high: { reasoningEffort: "high" } },
        capabilities: {
          temperature: true,
          reasoning: true,
          attachment: false,
          toolcall: true,
          input: { text: true, audio: false, image: false, video: false, pdf: false },
          output: { text: true, audio: false, image: false, video: false, pdf: false },
          interleaved: false,
        },
      }),
    ]),
  } as Record<string, ReturnType<typeof ocProvider>>
}

const rateLimited = { reason: "rate_limit" as const, message: "rate limited", retryAfterMs: 60_000 }

beforeEach(() => {
  resetRuntime(new CombinedRuntime())
  resetSessions()
})

test("the virtual provider's SDK can never be installed from a registry: a file URL to nothing", async () => {
  expect(COMBINED_NPM.startsWith("file://")).toBe(true)
  expect(await import(COMBINED_NPM).then(() => "loaded", () => "refused")).toBe("refused")
})

describe("addCombinedProvider: the virtual provider in OpenCode's provider state", () => {
  test("one model per group under `combined`, in OpenCode's provider shape", () => {
    const providers = loadedProviders()
    const { warnings } = addCombinedProvider({ providers, config: { provider_priority: ["github-copilot", "anthropic"] } })
    expect(warnings).toEqual([])
    const combined = providers.combined!
    expect(combined).toMatchObject({ id: "combined", name: "Combined", source: "custom", env: [], options: {} })
    expect(Object.keys(combined.models)).toEqual(["claude-sonnet-4-5"])
    // The real providers are left as they were.
    expect(Object.keys(providers).sort()).toEqual(["anthropic", "combined", "github-copilot"])
  })

  test("no provider-level timeouts: a member's request times out only while its session is routed to that member", async () => {
    const providers = loadedProviders()
    // A provider that answers with headers and then never sends a byte.
    const hanging = (async (_input: RequestInfo | URL, init?: RequestInit) =>
      new Response(
        new ReadableStream({
          start(stream) {
            init?.signal?.addEventListener("abort", () => stream.error(init.signal!.reason))
          },
        }),
        { headers: { "content-type": "text/event-stream" } },
      )) as unknown as typeof fetch
    ;(providers.anthropic as OpenCodeProvider).options = { fetch: hanging }
    addCombinedProvider({ providers, config: { combined_models: { timeouts: { first_byte: "50ms", stall: "50ms" } } } })
    const options = providers.anthropic!.options as Record<string, unknown> & { fetch: typeof fetch }
    expect(options).not.toHaveProperty("headerTimeout")
    expect(options).not.toHaveProperty("chunkTimeout")

    routeStep("routed", { id: "u1", model: { providerID: "combined", modelID: "claude-sonnet-4-5" } })
    expect(failoverFor("routed", { providerID: "anthropic", id: "claude-sonnet-4-5" })).toBeDefined()
    const routed = await options.fetch("http://127.0.0.1/v1/messages", { headers: { "X-Session-Id": "routed" } })
    const failure = await routed.text().catch((error: unknown) => error)
    expect(CombinedModelsTimeoutError.isInstance(failure) && failure.phase).toBe("first_byte")

    // A session on a concrete selection: stock behaviour, no timeout of ours.
    const abort = new AbortController()
    const stock = await options.fetch("http://127.0.0.1/v1/messages", { headers: { "X-Session-Id": "concrete" }, signal: abort.signal })
    const outcome = Promise.race([stock.text().then(() => "ended", () => "failed"), Bun.sleep(200).then(() => "still waiting")])
    expect(await outcome).toBe("still waiting")
    abort.abort()
  })

  test("OpenCode Zen members time out too: their requests name the session in x-opencode-session", async () => {
    // A loopback provider registered as `opencode` that never answers.
    const hanging = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () => new Response(new ReadableStream({ start() {} }), { headers: { "content-type": "text/event-stream" } }),
    })
    try {
      const providers = {
        opencode: ocProvider("opencode", "OpenCode Zen", [ocModel("opencode", "claude-sonnet-4-5")]),
        ...loadedProviders(),
      } as Record<string, ReturnType<typeof ocProvider>>
      addCombinedProvider({
        providers,
        config: { provider_priority: ["opencode"], combined_models: { timeouts: { first_byte: "50ms", stall: "50ms" } } },
      })
      // The headers OpenCode sends (session/llm/request.ts at the pin): a provider id starting with `opencode` gets
      // x-opencode-session and no X-Session-Id.
      const upstreamHeaders = (providerID: string, sessionID: string): Record<string, string> =>
        providerID.startsWith("opencode")
          ? { "x-opencode-session": sessionID, "x-opencode-request": "u1", "x-opencode-client": "cli" }
          : { "x-session-affinity": sessionID, "X-Session-Id": sessionID }
      routeStep("zen", { id: "u1", model: { providerID: "combined", modelID: "claude-sonnet-4-5" } })
      expect(failoverFor("zen", { providerID: "opencode", id: "claude-sonnet-4-5" })).toBeDefined()
      const fetchOf = (id: string) => (providers[id]!.options as { fetch: typeof fetch }).fetch
      const failure = await fetchOf("opencode")(`${hanging.url}v1/messages`, { headers: upstreamHeaders("opencode", "zen") })
        .then((response) => response.text())
        .catch((error: unknown) => error)
      expect(CombinedModelsTimeoutError.isInstance(failure) && failure.phase).toBe("first_byte")
    } finally {
      hanging.stop(true)
    }
  })

  test("a Bedrock member's fetch watches its stream (around the fetch it had), wrapped once across reloads", async () => {
    const providers = loadedProviders()
    const bedrockModel = ocModel("amazon-bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0")
    ;(bedrockModel.api as { npm: string }).npm = "@ai-sdk/amazon-bedrock"
    providers["amazon-bedrock"] = ocProvider("amazon-bedrock", "Amazon Bedrock", [bedrockModel])
    const seen: string[] = []
    const own = (async (input: RequestInfo | URL) => {
      seen.push(String(input))
      return new Response(new Uint8Array(encodeFrame({ ":message-type": "exception", ":exception-type": "throttlingException" }, '{"message":"slow down"}')), {
        headers: { "content-type": "application/vnd.amazon.eventstream" },
      })
    }) as unknown as typeof fetch
    ;(providers["amazon-bedrock"] as OpenCodeProvider).options = { fetch: own }
    addCombinedProvider({ providers, config: {} })
    addCombinedProvider({ providers, config: {} })
    const watched = (providers["amazon-bedrock"] as OpenCodeProvider).options as { fetch: typeof fetch }
    expect(watched.fetch).not.toBe(own)
    const response = await watched.fetch("http://127.0.0.1/model/x/converse-stream")
    const failure = await response.arrayBuffer().catch((error: unknown) => error)
    expect(BedrockStreamException.isInstance(failure) && failure.exceptionType).toBe("throttlingException")
    // Wrapped once, whatever the number of provider loads.
    expect(seen).toEqual(["http://127.0.0.1/model/x/converse-stream"])
  })

  test("with a fallback chain, providers outside any group are watched too: a concrete selection routes through the engine", () => {
    const gemini = ocModel("google", "gemini-2.5-pro", { name: "Gemini 2.5 Pro", family: "gemini-pro" })
    ;(gemini.api as { npm: string }).npm = "@ai-sdk/google"
    const providers = { ...loadedProviders(), google: ocProvider("google", "Google", [gemini]) }
    addCombinedProvider({ providers, config: {} })
    expect((providers.google as OpenCodeProvider).options ?? {}).not.toHaveProperty("fetch")
    addCombinedProvider({ providers, config: { combined_models: { fallback_models: ["anthropic/claude-sonnet-4-5"] } } })
    expect(typeof ((providers.google as OpenCodeProvider).options as { fetch?: unknown }).fetch).toBe("function")
  })

  test("no groups, no provider: an empty one would crash OpenCode's defaultModelIDs", () => {
    const providers = { anthropic: loadedProviders().anthropic! }
    addCombinedProvider({ providers, config: {} })
    expect(Object.keys(providers)).toEqual(["anthropic"])
    const off = loadedProviders()
    addCombinedProvider({ providers: off, config: { combined_models: { enabled: false } } })
    expect(off.combined).toBeUndefined()
  })

  test("config warnings name the configured providers and are handed out once per process", () => {
    const config = { provider_priority: ["anthropic", "nope-provider"] }
    const first = addCombinedProvider({ providers: loadedProviders(), config })
    expect(first.warnings).toEqual([
      'combined-models: provider_priority[1]: provider "nope-provider" is not configured; it is ignored. Configured providers: anthropic, github-copilot',
    ])
    expect(addCombinedProvider({ providers: loadedProviders(), config }).warnings).toEqual([])
  })
})

describe("combinedModelInfo: a group as OpenCode's Provider.Model", () => {
  test("every required field, the group's promises, the first member's cost, date and shared variants", () => {
    const providers = loadedProviders()
    const { groups } = runtime().configure({ config: { provider_priority: ["anthropic"] }, providers })
    const model = combinedModelInfo(groups[0]!, providers)
    expect(model).toEqual({
      id: "claude-sonnet-4-5",
      providerID: "combined",
      api: { id: "claude-sonnet-4-5", url: "", npm: COMBINED_NPM },
      name: "Claude Sonnet 4.5",
      capabilities: {
        temperature: true,
        reasoning: true,
        attachment: false,
        toolcall: true,
        input: { text: true, audio: false, image: false, video: false, pdf: false },
        output: { text: true, audio: false, image: false, video: false, pdf: false },
        interleaved: false,
      },
      cost: { input: 3, output: 15, cache: { read: 0.3, write: 3.75 } },
      limit: { context: 128_000, input: 128_000, output: 16_000 },
      status: "active",
      options: {
        members: [
          { providerID: "anthropic", modelID: "claude-sonnet-4-5" },
          { providerID: "github-copilot", modelID: "claude-sonnet-4.5" },
        ],
      },
      headers: {},
      release_date: "2025-09-29",
      variants: { high: { thinking: { budgetTokens: 16_000 } } },
    })
  })

  test("priority decides whose cost and date the model shows", () => {
    const providers = loadedProviders()
    const { groups } = runtime().configure({ config: { provider_priority: ["github-copilot"] }, providers })
    const model = combinedModelInfo(groups[0]!, providers)
    expect(model.cost).toEqual({ input: 0, output: 0, cache: { read: 0, write: 0 } })
    expect(model.release_date).toBe("2025-09-30")
    expect(model.variants).toEqual({ high: { reasoningEffort: "high" } })
  })

  test("combinedProviderInfo is undefined without groups", () => {
    expect(combinedProviderInfo([], loadedProviders())).toBeUndefined()
  })
})

describe("resolveCombinedModel: getModel('combined', id) without a session", () => {
  test("the first member by priority, as that provider's own model object", () => {
    const providers = loadedProviders()
    addCombinedProvider({ providers, config: { provider_priority: ["github-copilot", "anthropic"] } })
    const model = resolveCombinedModel(providers, "claude-sonnet-4-5")
    expect(model).toBe(providers["github-copilot"]!.models["claude-sonnet-4.5"]!)
  })

  test("a member cooling down in the shared health registry is passed over", () => {
    const providers = loadedProviders()
    addCombinedProvider({ providers, config: { provider_priority: ["github-copilot", "anthropic"] } })
    runtime().health.report({ providerID: "github-copilot", modelID: "claude-sonnet-4.5" }, rateLimited)
    expect(resolveCombinedModel(providers, "claude-sonnet-4-5")?.providerID).toBe("anthropic")
  })

  test("when every member is cooling, the first allowed member still answers (never the virtual model)", () => {
    const providers = loadedProviders()
    addCombinedProvider({ providers, config: { provider_priority: ["github-copilot", "anthropic"] } })
    runtime().health.report({ providerID: "github-copilot", modelID: "claude-sonnet-4.5" }, rateLimited)
    runtime().health.report({ providerID: "anthropic", modelID: "claude-sonnet-4-5" }, rateLimited)
    expect(resolveCombinedModel(providers, "claude-sonnet-4-5")?.providerID).toBe("github-copilot")
  })

  test("the virtual model's options (its members, for the TUI) never reach a provider SDK: no path returns that model", () => {
    const providers = loadedProviders()
    addCombinedProvider({ providers, config: { provider_priority: ["github-copilot", "anthropic"] } })
    const virtual = (providers as Record<string, OpenCodeProvider>).combined!.models["claude-sonnet-4-5"]!
    expect(virtual.options).toEqual({
      members: [
        { providerID: "github-copilot", modelID: "claude-sonnet-4.5" },
        { providerID: "anthropic", modelID: "claude-sonnet-4-5" },
      ],
    })
    // Healthy, one cooling, all cooling: getModel('combined', …) always hands out a member's own model object.
    const served = [resolveCombinedModel(providers, "claude-sonnet-4-5")]
    runtime().health.report({ providerID: "github-copilot", modelID: "claude-sonnet-4.5" }, rateLimited)
    served.push(resolveCombinedModel(providers, "claude-sonnet-4-5"))
    runtime().health.report({ providerID: "anthropic", modelID: "claude-sonnet-4-5" }, rateLimited)
    served.push(resolveCombinedModel(providers, "claude-sonnet-4-5"))
    for (const model of served) {
      expect(model).not.toBe(virtual)
      expect(model?.providerID).not.toBe("combined")
      expect(model?.options ?? {}).not.toHaveProperty("members")
    }
  })

  test("an unknown group id is undefined, so OpenCode raises its own model-not-found error", () => {
    const providers = loadedProviders()
    addCombinedProvider({ providers, config: {} })
    expect(resolveCombinedModel(providers, "claude-sonnet-9")).toBeUndefined()
  })

  test("each provider state resolves against its own groups, not the last one configured", () => {
    const first = loadedProviders()
    addCombinedProvider({ providers: first, config: { provider_priority: ["anthropic"] } })
    const second = { anthropic: loadedProviders().anthropic! }
    addCombinedProvider({ providers: second, config: {} })
    expect(resolveCombinedModel(first, "claude-sonnet-4-5")).toBe(first.anthropic!.models["claude-sonnet-4-5"]!)
    expect(resolveCombinedModel(second, "claude-sonnet-4-5")).toBeUndefined()
  })
})

describe("combinedSmallModelProvider: whose small model titles a combined session", () => {
  test("the first provider by priority", () => {
    const providers = loadedProviders()
    addCombinedProvider({ providers, config: { provider_priority: ["github-copilot", "anthropic"] } })
    expect(combinedSmallModelProvider(providers)).toBe("github-copilot")
  })

  test("a rate limit on the big model does not move it; an account-wide cooldown (quota, auth) does", () => {
    const providers = loadedProviders()
    addCombinedProvider({ providers, config: { provider_priority: ["github-copilot", "anthropic"] } })
    runtime().health.report({ providerID: "github-copilot", modelID: "claude-sonnet-4.5" }, rateLimited)
    expect(combinedSmallModelProvider(providers)).toBe("github-copilot")
    runtime().health.report({ providerID: "github-copilot", modelID: "claude-sonnet-4.5" }, { reason: "quota", message: "out of quota" })
    expect(combinedSmallModelProvider(providers)).toBe("anthropic")
  })

  test("undefined when there are no groups", () => {
    const providers = { anthropic: loadedProviders().anthropic! }
    addCombinedProvider({ providers, config: {} })
    expect(combinedSmallModelProvider(providers)).toBeUndefined()
  })
})

test("a provider reload with the same state dir and cooldowns keeps the health registry, failure streaks and all", () => {
  const stateDir = mkdtempSync(join(tmpdir(), "combined-runtime-"))
  const rt = new CombinedRuntime()
  rt.configure({ config: {}, providers: loadedProviders(), stateDir })
  const first = rt.health
  rt.configure({ config: {}, providers: loadedProviders(), stateDir })
  expect(rt.health).toBe(first)
  rt.configure({ config: { combined_models: { cooldowns: { rate_limit: "5s" } } }, providers: loadedProviders(), stateDir })
  expect(rt.health).not.toBe(first)
  const second = rt.health
  rt.configure({ config: { combined_models: { cooldowns: { rate_limit: "5s" } } }, providers: loadedProviders(), stateDir: `${stateDir}/other` })
  expect(rt.health).not.toBe(second)
  rmSync(stateDir, { recursive: true, force: true })
})

describe("the loaded models a fallback chain can name", () => {
  test("follow the latest provider load, not the first one looked at", () => {
    const rt = new CombinedRuntime()
    rt.configure({ config: {}, providers: loadedProviders() })
    expect(rt.models.get("anthropic/claude-haiku-4-5")?.name).toBe("Claude Haiku 4.5")
    const reloaded = loadedProviders()
    delete (reloaded.anthropic!.models as Record<string, unknown>)["claude-haiku-4-5"]
    rt.configure({ config: {}, providers: reloaded })
    expect(rt.models.get("anthropic/claude-haiku-4-5")).toBeUndefined()
    expect(rt.models.get("anthropic/claude-sonnet-4-5")?.modelID).toBe("claude-sonnet-4-5")
  })
})
