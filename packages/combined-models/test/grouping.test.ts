import { describe, expect, test } from "bun:test"
import { DEFAULTS, type ResolvedConfig } from "../src/config.ts"
import { buildGroups } from "../src/grouping.ts"
import { orderMembers } from "../src/priority.ts"
import type { CatalogModel, CatalogProvider, Group } from "../src/types.ts"
import { describeWithCatalog, fixtureProviders } from "./catalog-fixture.ts"

const config = (overrides: Partial<ResolvedConfig> = {}): ResolvedConfig => ({ ...DEFAULTS, ...overrides })
const refs = (group: Group | undefined) => group?.members.map((member) => `${member.providerID}/${member.modelID}`) ?? []
const find = (groups: Group[], id: string) => groups.find((group) => group.id === id)

const auto = buildGroups(fixtureProviders, config())

describeWithCatalog("the real catalog", () => {
  test("Claude Sonnet 4.5 gathers every provider's spelling", () => {
    const sonnet = find(auto.groups, "claude-sonnet-4-5")!
    expect(sonnet.name).toBe("Claude Sonnet 4.5")
    expect(refs(sonnet)).toEqual(
      expect.arrayContaining([
        "anthropic/claude-sonnet-4-5",
        "anthropic/claude-sonnet-4-5-20250929",
        "github-copilot/claude-sonnet-4.5",
        "amazon-bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "amazon-bedrock/eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "openrouter/anthropic/claude-sonnet-4.5",
        "google-vertex-anthropic/claude-sonnet-4-5@20250929",
        "google-vertex/claude-sonnet-4-5@20250929",
      ]),
    )
    expect(refs(sonnet).some((ref) => /4-6|4\.6|haiku|opus|thinking/.test(ref))).toBe(false)
    expect(new Set(sonnet.providers).size).toBe(sonnet.providers.length)
    expect(sonnet.providers.filter((id) => id === "amazon-bedrock")).toHaveLength(1)
  })

  test("limits are the smallest member's; capabilities the intersection", () => {
    const sonnet = find(auto.groups, "claude-sonnet-4-5")!
    // Copilot takes 168k input and 32k output; Anthropic 200k / 64k.
    expect(sonnet.limit.input).toBe(168_000)
    expect(sonnet.limit.output).toBeLessThanOrEqual(32_000)
    for (const member of sonnet.members) {
      expect(member.limit.context).toBeGreaterThanOrEqual(sonnet.limit.context)
      for (const modality of sonnet.capabilities.input) expect(member.capabilities.input).toContain(modality)
      if (sonnet.capabilities.toolCall) expect(member.capabilities.toolCall).toBe(true)
    }
  })

  test("sizes, versions and variants stay apart", () => {
    const gpt4o = refs(find(auto.groups, "gpt-4o"))
    expect(gpt4o).toContain("openai/gpt-4o")
    expect(gpt4o.some((ref) => ref.includes("mini"))).toBe(false)
    expect(refs(find(auto.groups, "gpt-4o-mini"))).toContain("openai/gpt-4o-mini")
    const gpt5 = find(auto.groups, "gpt-5")!
    expect(gpt5.name).toBe("GPT-5")
    expect(gpt5.members.filter((member) => /codex|mini|nano|pro|5[.-]\d/.test(member.modelID))).toEqual([])
    for (const id of ["gemini-2-5-flash", "gemini-2-5-flash-lite", "gemini-2-5-pro", "kimi-k2-5", "kimi-k2-6", "glm-4-6", "glm-4-6v", "glm-5", "glm-5-1"])
      expect(find(auto.groups, id)).toBeDefined()
  })

  test("a dated snapshot with its alias's date and limits joins it; a different one stays apart", () => {
    expect(refs(find(auto.groups, "gpt-4o-mini"))).toContain("openrouter/openai/gpt-4o-mini-2024-07-18")
    expect(refs(find(auto.groups, "gpt-4o"))).not.toContain("openai/gpt-4o-2024-05-13")
    const may = find(auto.groups, "gpt-4o-2024-05-13")
    expect(may?.name).toBe("GPT-4o (2024-05-13)")
    const [joined] = may!.members
    expect(joined!.joined.kind === "identity" && joined!.joined.detail).toContain("kept apart")
  })

  test("outliers are left out: Poe's 4k-output GPT-4o mini and nano-gpt's copy without tool calls", () => {
    const mini = find(auto.groups, "gpt-4o-mini")!
    expect(refs(mini)).not.toContain("poe/openai/gpt-4o-mini")
    expect(refs(mini)).not.toContain("nano-gpt/openai/gpt-4o-mini")
    // What the group promises once they are out: OpenAI's own limits, and tool calls.
    expect(mini.limit).toEqual({ context: 128_000, output: 16_384 })
    expect(mini.capabilities.toolCall).toBe(true)
    const leftOut = (ref: string) => auto.ungrouped.find((model) => `${model.providerID}/${model.modelID}` === ref)
    expect(leftOut("poe/openai/gpt-4o-mini")).toEqual({
      providerID: "poe",
      modelID: "openai/gpt-4o-mini",
      groupID: "gpt-4o-mini",
      reason: "output limit 4,096 is below half the group's typical 16,384; add it by hand with combined_models.groups.gpt-4o-mini.add if you want it",
    })
    expect(leftOut("nano-gpt/openai/gpt-4o-mini")?.reason).toMatch(/^no tool calls, while \d+ of the group's \d+ providers have them;/)
  })

  test("providers that serve a model with a smaller window on purpose stay", () => {
    // Copilot's Sonnet 4.5: 32k output, exactly half of Anthropic's 64k.
    const sonnet = find(auto.groups, "claude-sonnet-4-5")!
    expect(refs(sonnet)).toContain("github-copilot/claude-sonnet-4.5")
    expect(sonnet.limit.input).toBe(168_000)
    // Larger limits count only up to what OpenCode uses: 128k against 1M, 32k output against 128k.
    expect(refs(find(auto.groups, "gemini-2-5-pro"))).toContain("github-copilot/gemini-2.5-pro")
    expect(refs(find(auto.groups, "claude-opus-4-6"))).toContain("github-copilot/claude-opus-4.6")
    expect(auto.ungrouped.filter((model) => model.providerID === "github-copilot" && model.groupID !== undefined)).toEqual([])
  })

  test("a member added by hand is never left out, and the group then promises what it takes", () => {
    const { groups, ungrouped, problems } = buildGroups(
      fixtureProviders,
      config({ groups: { "gpt-4o-mini": { add: ["poe/openai/gpt-4o-mini"] } } }),
    )
    expect(problems).toEqual([])
    const mini = find(groups, "gpt-4o-mini")!
    expect(mini.members.find((member) => member.providerID === "poe")?.joined.kind).toBe("manual")
    expect(mini.limit.output).toBe(4_096)
    expect(ungrouped.some((model) => model.providerID === "poe" && model.modelID === "openai/gpt-4o-mini")).toBe(false)
    // The rule brings back only what it names.
    expect(refs(mini)).not.toContain("nano-gpt/openai/gpt-4o-mini")
  })

  test("every group has min_providers distinct providers, sorted ids, members in priority order", () => {
    for (const group of auto.groups) {
      expect(group.providers.length).toBeGreaterThanOrEqual(2)
      expect(orderMembers(group.members, [])).toEqual(group.members)
    }
    const ids = auto.groups.map((group) => group.id)
    expect(ids).toEqual([...ids].sort())
  })

})

describeWithCatalog("min_providers and priority", () => {
  test("a higher min_providers drops smaller groups", () => {
    const strict = buildGroups(fixtureProviders, config({ minProviders: 20 }))
    expect(strict.groups.length).toBeLessThan(auto.groups.length)
    for (const group of strict.groups) expect(group.providers.length).toBeGreaterThanOrEqual(20)
  })
  test("provider_priority puts listed providers first, the rest alphabetically", () => {
    const { groups } = buildGroups(fixtureProviders, config({ providerPriority: ["github-copilot", "anthropic"] }))
    const sonnet = find(groups, "claude-sonnet-4-5")!
    expect(sonnet.providers.slice(0, 2)).toEqual(["github-copilot", "anthropic"])
    const rest = sonnet.providers.slice(2)
    expect(rest).toEqual([...rest].sort())
    expect(refs(sonnet).slice(1, 3)).toEqual(["anthropic/claude-sonnet-4-5", "anthropic/claude-sonnet-4-5-20250929"])
  })
})

function model(providerID: string, modelID: string, overrides: Partial<CatalogModel> = {}): CatalogModel {
  return {
    providerID,
    modelID,
    name: modelID,
    releaseDate: "2025-09-29",
    limit: { context: 200_000, output: 64_000 },
    capabilities: { reasoning: true, toolCall: true, attachment: true, temperature: true, input: ["text", "image"], output: ["text"] },
    ...overrides,
  }
}
function catalog(...models: CatalogModel[]): CatalogProvider[] {
  const byProvider = new Map<string, CatalogModel[]>()
  for (const entry of models) byProvider.set(entry.providerID, [...(byProvider.get(entry.providerID) ?? []), entry])
  return [...byProvider].map(([id, list]) => ({ id, name: id, models: list }))
}

describe("small catalogs", () => {
  const small = catalog(
    model("anthropic", "claude-sonnet-4-5", { name: "Claude Sonnet 4.5" }),
    model("anthropic", "claude-sonnet-4-5-20250929", { name: "Claude Sonnet 4.5" }),
    model("github-copilot", "claude-sonnet-4.5", {
      name: "Claude Sonnet 4.5",
      limit: { context: 200_000, input: 168_000, output: 32_000 },
      capabilities: { reasoning: true, toolCall: true, attachment: false, temperature: true, input: ["text"], output: ["text"] },
    }),
    model("openrouter", "anthropic/claude-sonnet-4.5", { name: "Anthropic: Claude Sonnet 4.5", limit: { context: 1_000_000, output: 64_000 } }),
    model("amazon-bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", { name: "Claude Sonnet 4.5 (US)" }),
    model("amazon-bedrock", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", { name: "Claude Sonnet 4.5 (EU)" }),
    model("anthropic", "claude-opus-4-5", { name: "Claude Opus 4.5", releaseDate: "2025-11-24" }),
    model("openrouter", "anthropic/claude-opus-4.5", { name: "Claude Opus 4.5", releaseDate: "2025-11-24" }),
    model("anthropic", "claude-haiku-4-5", { name: "Claude Haiku 4.5" }),
  )

  test("limits: minimum, input when any member has it; capabilities: intersection", () => {
    const sonnet = find(buildGroups(small, config()).groups, "claude-sonnet-4-5")!
    expect(sonnet.limit).toEqual({ context: 200_000, input: 168_000, output: 32_000 })
    expect(sonnet.capabilities).toEqual({ reasoning: true, toolCall: true, attachment: false, temperature: true, input: ["text"], output: ["text"] })
    expect(sonnet.providers).toEqual(["amazon-bedrock", "anthropic", "github-copilot", "openrouter"])
  })

  test("a model offered by one provider is no group (aliases count once)", () => {
    const { groups } = buildGroups(small, config())
    expect(find(groups, "claude-haiku-4-5")).toBeUndefined()
    const bedrockOnly = catalog(
      model("amazon-bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
      model("amazon-bedrock", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    )
    expect(buildGroups(bedrockOnly, config()).groups).toEqual([])
    expect(buildGroups(bedrockOnly, config({ minProviders: 1 })).groups[0]?.members).toHaveLength(2)
  })

  test("manual add, exclude, rename and priority", () => {
    const result = buildGroups(
      small,
      config({
        exclude: ["openrouter/anthropic/claude-opus-4.5"],
        groups: {
          "claude-sonnet-4-5": {
            name: "Sonnet",
            add: ["anthropic/claude-haiku-4-5"],
            exclude: ["amazon-bedrock"],
            priority: ["openrouter", "anthropic"],
          },
        },
      }),
    )
    expect(result.problems).toEqual([])
    const sonnet = find(result.groups, "claude-sonnet-4-5")!
    expect(sonnet.name).toBe("Sonnet")
    expect(sonnet.manual).toBe(true)
    expect(sonnet.priority).toEqual(["openrouter", "anthropic"])
    expect(refs(sonnet)).toEqual([
      "openrouter/anthropic/claude-sonnet-4.5",
      "anthropic/claude-haiku-4-5",
      "anthropic/claude-sonnet-4-5",
      "anthropic/claude-sonnet-4-5-20250929",
      "github-copilot/claude-sonnet-4.5",
    ])
    expect(sonnet.members.find((member) => member.modelID === "claude-haiku-4-5")?.joined).toEqual({
      kind: "manual",
      rule: 'combined_models.groups.claude-sonnet-4-5.add[0]: "anthropic/claude-haiku-4-5"',
    })
    // Excluding the OpenRouter opus leaves it with one provider: no group.
    expect(find(result.groups, "claude-opus-4-5")).toBeUndefined()
  })

  test("members splits a group: exactly those, taken out of the detected group, kept with one provider", () => {
    const { groups, problems } = buildGroups(
      small,
      config({ groups: { "sonnet-on-bedrock": { members: ["amazon-bedrock/*sonnet*"] } } }),
    )
    expect(problems).toEqual([])
    expect(refs(find(groups, "sonnet-on-bedrock"))).toEqual([
      "amazon-bedrock/eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
      "amazon-bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    ])
    expect(refs(find(groups, "claude-sonnet-4-5")).some((ref) => ref.startsWith("amazon-bedrock/"))).toBe(false)
  })

  test("bad rules become problems naming the path and the fix", () => {
    const { problems } = buildGroups(
      small,
      config({
        exclude: ["nowhere/model"],
        groups: {
          mine: { members: ["anthropic/claude-sonet-4-5", "anthropic/claude-opus-4-5"] },
          "no-such-group": { name: "Renamed" },
          "claude-sonnet-4-5": { exclude: ["openrouter/anthropic/claude-opus-4.5"] },
        },
      }),
    )
    const paths = problems.map((problem) => problem.path)
    expect(paths).toContain("combined_models.exclude[0]")
    expect(paths).toContain("combined_models.groups.mine.members[0]")
    expect(paths).toContain("combined_models.groups.no-such-group")
    expect(paths).toContain("combined_models.groups.claude-sonnet-4-5.exclude[0]")
    const unknown = problems.find((problem) => problem.path === "combined_models.groups.mine.members[0]")!
    expect(unknown.message).toContain("matches no model")
  })

  test("outliers: below half the typical limit goes, exactly half stays, two providers are never judged", () => {
    const gpt = (providerID: string, output: number, toolCall = true) =>
      model(providerID, "gpt-4o-mini", {
        releaseDate: "2024-07-18",
        limit: { context: 128_000, output },
        capabilities: { reasoning: false, toolCall, attachment: true, temperature: true, input: ["text", "image"], output: ["text"] },
      })
    const group = (...models: CatalogModel[]) => buildGroups(catalog(...models), config())
    const outliers = (result: ReturnType<typeof buildGroups>) => result.ungrouped.map((entry) => entry.providerID)

    const quarter = group(gpt("openai", 16_384), gpt("azure", 16_384), gpt("poe", 4_096))
    expect(outliers(quarter)).toEqual(["poe"])
    expect(find(quarter.groups, "gpt-4o-mini")!.limit.output).toBe(16_384)
    // 8,000 is half of "16k" written as 16,384; it stays.
    expect(outliers(group(gpt("openai", 16_384), gpt("azure", 16_384), gpt("poe", 8_000)))).toEqual([])
    // With two providers neither is typical.
    expect(outliers(group(gpt("openai", 16_384), gpt("poe", 4_096)))).toEqual([])
    // Tool calls: left out only when most providers have them.
    expect(outliers(group(gpt("openai", 16_384), gpt("azure", 16_384), gpt("nano-gpt", 16_384, false)))).toEqual(["nano-gpt"])
    expect(outliers(group(gpt("openai", 16_384), gpt("azure", 16_384, false), gpt("nano-gpt", 16_384, false)))).toEqual([])
    // min_providers counts what is left.
    const strict = buildGroups(catalog(gpt("openai", 16_384), gpt("azure", 16_384), gpt("poe", 4_096)), config({ minProviders: 3 }))
    expect(strict.groups).toEqual([])
    // A group defined with members is taken as given.
    const manual = buildGroups(
      catalog(gpt("openai", 16_384), gpt("azure", 16_384), gpt("poe", 4_096)),
      config({ groups: { mini: { members: ["openai/gpt-4o-mini", "azure/gpt-4o-mini", "poe/gpt-4o-mini"] } } }),
    )
    expect(refs(find(manual.groups, "mini"))).toHaveLength(3)
  })

  test("a model claimed by two hand-made groups stays in the first by id, with a problem", () => {
    const { groups, problems } = buildGroups(
      small,
      config({ groups: { a: { members: ["anthropic/claude-haiku-4-5"] }, b: { members: ["anthropic/claude-haiku-4-5"] } } }),
    )
    expect(refs(find(groups, "a"))).toEqual(["anthropic/claude-haiku-4-5"])
    expect(find(groups, "b")).toBeUndefined()
    expect(problems.map((problem) => problem.path)).toContain("combined_models.groups.b.members[0]")
  })
})

describe("the input as it comes", () => {
  test("a provider listed twice is one provider, and a ref listed twice keeps the entry with the smallest name", () => {
    const sonnet = (providerID: string, name: string, output: number) =>
      model(providerID, "claude-sonnet-4-5", { name, limit: { context: 200_000, output } })
    const providers: CatalogProvider[] = [
      { id: "anthropic", name: "Anthropic", models: [sonnet("anthropic", "Claude Sonnet 4.5 (b)", 64_000)] },
      { id: "openrouter", name: "OpenRouter", models: [sonnet("elsewhere", "Claude Sonnet 4.5", 64_000)] },
      { id: "anthropic", name: "Anthropic", models: [sonnet("anthropic", "Claude Sonnet 4.5 (a)", 32_000)] },
    ]
    for (const order of [providers, [...providers].reverse()]) {
      const group = find(buildGroups(order, config()).groups, "claude-sonnet-4-5")!
      // The provider a list sits under wins over the id a model carries.
      expect(refs(group)).toEqual(["anthropic/claude-sonnet-4-5", "openrouter/claude-sonnet-4-5"])
      expect(group.members[0]!.name).toBe("Claude Sonnet 4.5 (a)")
      expect(group.limit.output).toBe(32_000)
    }
  })

  test("the same catalog grouped twice gives the same groups (cached identities change nothing)", () => {
    const first = buildGroups(fixtureProviders, config())
    const second = buildGroups(structuredClone(fixtureProviders), config())
    expect(second).toEqual(first)
  })
})

describe('strategy "cost"', () => {
  const priced = (providerID: string, modelID: string, input: number | undefined) =>
    model(providerID, modelID, { name: "Claude Sonnet 4.5", ...(input === undefined ? {} : { cost: { input, output: input * 5 } }) })
  const sonnet = catalog(
    priced("anthropic", "claude-sonnet-4-5", 3),
    priced("github-copilot", "claude-sonnet-4.5", 0),
    priced("openrouter", "anthropic/claude-sonnet-4.5", 2),
    priced("amazon-bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", undefined),
    priced("vertex", "claude-sonnet-4-5@20250929", 2),
  )
  const priority = ["anthropic", "vertex", "openrouter"]

  test("cheapest first, a subscription (0) before all, no price last, priority breaking ties", () => {
    const group = find(buildGroups(sonnet, config({ providerPriority: priority, strategy: "cost" })).groups, "claude-sonnet-4-5")!
    expect(group.providers).toEqual(["github-copilot", "vertex", "openrouter", "anthropic", "amazon-bedrock"])
    expect(group.strategy).toBe("cost")
  })

  test("a group's own strategy wins over the global one; priority stays the default", () => {
    const byDefault = find(buildGroups(sonnet, config({ providerPriority: priority })).groups, "claude-sonnet-4-5")!
    expect(byDefault.providers.slice(0, 3)).toEqual(priority)
    expect(byDefault.strategy).toBeUndefined()
    const own = find(
      buildGroups(sonnet, config({ providerPriority: priority, groups: { "claude-sonnet-4-5": { strategy: "cost" } } })).groups,
      "claude-sonnet-4-5",
    )!
    expect(own.providers[0]).toBe("github-copilot")
  })
})
