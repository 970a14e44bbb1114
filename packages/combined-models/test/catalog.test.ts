import { describe, expect, test } from "bun:test"
import { fromModelsDev, fromOpenCodeProviders } from "../src/catalog.ts"
import { describeWithCatalog, fixtureJson } from "./catalog-fixture.ts"

const goodModel = {
  id: "claude-sonnet-4-5",
  name: "Claude Sonnet 4.5",
  family: "claude-sonnet",
  release_date: "2025-09-29",
  limit: { context: 200_000, output: 64_000 },
  cost: { input: 3, output: 15, cache_read: 0.3, cache_write: 3.75 },
  modalities: { input: ["text", "image", "pdf"], output: ["text"] },
  reasoning: true,
  tool_call: true,
  attachment: true,
  temperature: true,
}

describeWithCatalog("fromModelsDev", () => {
  test("reads the real catalog without a problem", () => {
    const { providers, problems } = fromModelsDev(fixtureJson)
    expect(problems).toEqual([])
    expect(providers).toHaveLength(147)
    // 5,098 catalog entries, and the 40 `<id>-<mode>` models OpenCode makes of their experimental modes.
    expect(providers.reduce((sum, provider) => sum + provider.models.length, 0)).toBe(5_138)
    const fast = providers.find((provider) => provider.id === "anthropic")!.models.find((model) => model.modelID === "claude-opus-4-6-fast")
    expect(fast).toMatchObject({ name: "Claude Opus 4.6 Fast", cost: { input: 30, output: 150 } })
  })

  test("maps a model", () => {
    const { providers } = fromModelsDev({ anthropic: { id: "anthropic", name: "Anthropic", models: { "claude-sonnet-4-5": goodModel } } })
    expect(providers[0]!.models[0]).toEqual({
      providerID: "anthropic",
      modelID: "claude-sonnet-4-5",
      name: "Claude Sonnet 4.5",
      family: "claude-sonnet",
      releaseDate: "2025-09-29",
      limit: { context: 200_000, output: 64_000 },
      cost: { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
      capabilities: { reasoning: true, toolCall: true, attachment: true, temperature: true, input: ["text", "image", "pdf"], output: ["text"] },
    })
  })

  test("skips malformed providers and models, reporting each", () => {
    const { providers, problems } = fromModelsDev({
      broken: "not a provider",
      nomodels: { id: "nomodels", name: "No models", models: [] },
      mixed: {
        id: "mixed",
        name: "Mixed",
        models: {
          ok: goodModel,
          nolimit: { ...goodModel, limit: undefined },
          badcontext: { ...goodModel, limit: { context: "lots", output: 1 } },
          negative: { ...goodModel, limit: { context: 1000, output: -1 } },
          badinput: { ...goodModel, limit: { context: 1000, input: null, output: 1 } },
          notobject: 42,
          badcost: { ...goodModel, cost: { input: "cheap" } },
        },
      },
    })
    expect(providers.map((provider) => provider.id)).toEqual(["mixed"])
    expect(providers[0]!.models.map((model) => model.modelID)).toEqual(["ok", "badcost"])
    expect(providers[0]!.models[1]!.cost).toBeUndefined()
    expect(problems.map((problem) => problem.path)).toEqual([
      "broken",
      "nomodels.models",
      "mixed.models.nolimit.limit",
      "mixed.models.badcontext.limit.context",
      "mixed.models.negative.limit.output",
      "mixed.models.badinput.limit.input",
      "mixed.models.notobject",
    ])
    for (const problem of problems) expect(problem.message).toContain("skipped")
  })

  test("non-object input is one problem, never a throw", () => {
    for (const input of [null, undefined, 42, "x", []]) {
      const result = fromModelsDev(input)
      expect(result.providers).toEqual([])
      expect(result.problems).toHaveLength(1)
    }
  })
})

describe("fromOpenCodeProviders", () => {
  const openCodeModel = {
    id: "claude-sonnet-4.5",
    providerID: "github-copilot",
    api: { id: "claude-sonnet-4.5", url: "https://api.githubcopilot.com", npm: "@ai-sdk/github-copilot" },
    name: "Claude Sonnet 4.5",
    family: "claude-sonnet",
    release_date: "2025-09-29",
    limit: { context: 200_000, input: 168_000, output: 32_000 },
    cost: { input: 0, output: 0, cache: { read: 0, write: 0 } },
    capabilities: {
      temperature: true,
      reasoning: true,
      attachment: true,
      toolcall: true,
      input: { text: true, audio: false, image: true, video: false, pdf: false },
      output: { text: true, audio: false, image: false, video: false, pdf: false },
      interleaved: false,
    },
    status: "active",
    options: {},
    headers: {},
  }

  test("maps OpenCode's provider state, as a record or a list", () => {
    const info = { id: "github-copilot", name: "GitHub Copilot", source: "env", env: [], options: {}, models: { "claude-sonnet-4.5": openCodeModel } }
    for (const input of [{ "github-copilot": info }, [info]]) {
      const { providers, problems } = fromOpenCodeProviders(input)
      expect(problems).toEqual([])
      expect(providers[0]!.models[0]).toEqual({
        providerID: "github-copilot",
        modelID: "claude-sonnet-4.5",
        name: "Claude Sonnet 4.5",
        family: "claude-sonnet",
        releaseDate: "2025-09-29",
        limit: { context: 200_000, input: 168_000, output: 32_000 },
        cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
        capabilities: { reasoning: true, toolCall: true, attachment: true, temperature: true, input: ["text", "image"], output: ["text"] },
        status: "active",
      })
    }
  })

  test("skips a model without capabilities or limits", () => {
    const { providers, problems } = fromOpenCodeProviders({
      p: { id: "p", name: "P", models: { a: { ...openCodeModel, capabilities: undefined }, b: { ...openCodeModel, limit: null }, c: openCodeModel } },
    })
    expect(providers[0]!.models.map((model) => model.modelID)).toEqual(["c"])
    expect(problems.map((problem) => problem.path)).toEqual(["p.models.a.capabilities", "p.models.b.limit"])
  })
})
