import { expect, test } from "bun:test"
import fc from "fast-check"
import { DEFAULTS } from "../src/config.ts"
import { buildGroups } from "../src/grouping.ts"
import type { CatalogModel, CatalogProvider, Group } from "../src/types.ts"
import { describeWithCatalog, fixtureProviders } from "./catalog-fixture.ts"

/**
 * Catalogs drawn from the real one: a few providers that share many models, each with a random subset of its models,
 * in random order. Kept small so a run stays fast on two cores.
 */
const POOL_PROVIDERS = ["anthropic", "amazon-bedrock", "github-copilot", "openrouter", "openai", "google-vertex", "venice", "fireworks-ai", "zai", "moonshotai", "azure", "deepseek", "kilo"]
const pool = fixtureProviders.filter((provider) => POOL_PROVIDERS.includes(provider.id))

const catalogArbitrary = fc
  .tuple(...pool.map((provider) => fc.subarray(provider.models, { minLength: 0 })))
  .map((subsets) => subsets.map((models, index): CatalogProvider => ({ id: pool[index]!.id, name: pool[index]!.name, models })))

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const copy = [...items]
  let state = seed >>> 0 || 1
  for (let index = copy.length - 1; index > 0; index--) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0
    const other = state % (index + 1)
    ;[copy[index], copy[other]] = [copy[other]!, copy[index]!]
  }
  return copy
}

/**
 * Independent of identity.ts: the words and numbers an id is made of, less what providers wrap around a model
 * (paths, region profiles, vendor dots, Bedrock version suffixes, dates, gateway prefixes). Two members of one
 * provider may share a group only when these agree: an alias and its dated snapshot, region profiles of one model,
 * `claude-4.5-sonnet` beside `claude-sonnet-4.5`.
 */
const DECORATION = new Set(["anthropic", "openai", "zai", "alicloud", "coding", "databricks", "v1", "0", "default"])
function modelWords(modelID: string): string {
  const bare = modelID
    .toLowerCase()
    .split("/")
    .pop()!
    .replace(/^(us|eu|jp|au|apac|global)\./, "")
    .replace(/^[a-z]+\.(?=[a-z])/, "")
    .replace(/-v\d+:\d+$|-\d+:\d+$/, "")
    .replace(/[-@]?20\d\d-?\d\d-?\d\d/, "")
  const words = bare
    .split(/[^a-z0-9]+/)
    .filter((word) => word !== "" && !DECORATION.has(word))
    .map((word) => (word === "think" ? "thinking" : word))
  return [...new Set(words)].sort().join(" ")
}

/** What a user sees of a group; `joined` details may mention models that the smaller catalog no longer has. */
const summary = (groups: Group[]) =>
  groups.map((group) => ({
    id: group.id,
    name: group.name,
    providers: group.providers,
    limit: group.limit,
    capabilities: group.capabilities,
    members: group.members.map((member) => `${member.providerID}/${member.modelID}`),
  }))

describeWithCatalog("grouping properties", () => {
  test("deterministic and independent of catalog order", () => {
    fc.assert(
      fc.property(catalogArbitrary, fc.integer(), (providers, seed) => {
        const reordered = shuffled(providers, seed).map((provider) => ({ ...provider, models: shuffled(provider.models, seed + 1) }))
        expect(buildGroups(reordered, DEFAULTS)).toEqual(buildGroups(providers, DEFAULTS))
      }),
      { numRuns: 40 },
    )
  })

  test("idempotent: grouping only the grouped models gives the same groups", () => {
    fc.assert(
      fc.property(catalogArbitrary, (providers) => {
        const first = buildGroups(providers, DEFAULTS).groups
        const kept = new Set(first.flatMap((group) => group.members.map((member) => `${member.providerID}/${member.modelID}`)))
        const again = providers.map((provider) => ({
          ...provider,
          models: provider.models.filter((model: CatalogModel) => kept.has(`${provider.id}/${model.modelID}`)),
        }))
        expect(summary(buildGroups(again, DEFAULTS).groups)).toEqual(summary(first))
      }),
      { numRuns: 40 },
    )
  })

  test("never merges two different models of one provider", () => {
    const check = (providers: CatalogProvider[]) => {
      for (const group of buildGroups(providers, { ...DEFAULTS, minProviders: 1 }).groups) {
        const wordsByProvider = new Map<string, Set<string>>()
        for (const member of group.members) {
          const words = wordsByProvider.get(member.providerID) ?? new Set<string>()
          words.add(modelWords(member.modelID))
          wordsByProvider.set(member.providerID, words)
        }
        for (const [providerID, words] of wordsByProvider)
          expect({ group: group.id, providerID, words: [...words] }).toMatchObject({ words: [expect.any(String)] })
      }
    }
    check(fixtureProviders)
    fc.assert(fc.property(catalogArbitrary, (providers) => check(providers)), { numRuns: 20 })
  })

  test("every group respects min_providers and lists distinct providers", () => {
    fc.assert(
      fc.property(catalogArbitrary, fc.integer({ min: 1, max: 4 }), (providers, minProviders) => {
        for (const group of buildGroups(providers, { ...DEFAULTS, minProviders }).groups) {
          expect(group.providers.length).toBeGreaterThanOrEqual(minProviders)
          expect(new Set(group.providers).size).toBe(group.providers.length)
          expect(new Set(group.members.map((member) => member.providerID))).toEqual(new Set(group.providers))
        }
      }),
      { numRuns: 30 },
    )
  })
})
