import { describe, expect, test } from "bun:test"
import { DEFAULTS, type ResolvedConfig } from "../src/config.ts"
import { buildGroups } from "../src/grouping.ts"
import { orderMembers } from "../src/priority.ts"
import type { CatalogModel, CatalogProvider, Group } from "../src/types.ts"
import { fixtureProviders } from "./catalog-fixture.ts"

const config = (overrides: Partial<ResolvedConfig> = {}): ResolvedConfig => ({ ...DEFAULTS, ...overrides })
const refs = (group: Group | undefined) => group?.members.map((member) => `${member.providerID}/${member.modelID}`) ?? []
const find = (groups: Group[], id: string) => groups.find((group) => group.id === id)

const auto = buildGroups(fixtureProviders, config())

describe("the real catalog", () => {
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

  test("every group has min_providers distinct providers, sorted ids, members in priority order", () => {
    for (const group of auto.groups) {
      expect(group.providers.length).toBeGreaterThanOrEqual(2)
      expect(orderMembers(group.members, [])).toEqual(group.members)
    }
    const ids = auto.groups.map((group) => group.id)
    expect(ids).toEqual([...ids].sort())
  })

  test("groups the whole catalog in well under 100 ms", () => {
    buildGroups(fixtureProviders, config())
    const start = performance.now()
    buildGroups(fixtureProviders, config())
    expect(performance.now() - start).toBeLessThan(100)
  })
})

describe("min_providers and priority", () => {
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
