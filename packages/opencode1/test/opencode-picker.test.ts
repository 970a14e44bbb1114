import { expect, test } from "bun:test"
import { HealthRegistry } from "../../combined-models/src/health.ts"
import { DEFAULT_COOLDOWNS } from "../../combined-models/src/config.ts"
import { pickerMode, pickerView } from "../src/picker.ts"

const NOW = 1_800_000_000_000
/** The provider list as the TUI holds it: the combined provider's models carry their members in priority order. */
const providers = [
  {
    id: "combined",
    name: "Combined",
    models: {
      "claude-sonnet-4-5": {
        name: "Claude Sonnet 4.5",
        options: {
          members: [
            { providerID: "anthropic", modelID: "claude-sonnet-4-5" },
            { providerID: "anthropic", modelID: "claude-sonnet-4-5-20250929" },
            { providerID: "github-copilot", modelID: "claude-sonnet-4.5" },
            { providerID: "amazon-bedrock", modelID: "us.anthropic.claude-sonnet-4-5-20250929-v1:0" },
            { providerID: "amazon-bedrock", modelID: "eu.anthropic.claude-sonnet-4-5-20250929-v1:0" },
          ],
        },
      },
    },
  },
  { id: "anthropic", name: "Anthropic", models: { "claude-sonnet-4-5": { name: "Claude Sonnet 4.5" }, "claude-opus-4-1": { name: "Claude Opus 4.1" } } },
  { id: "github-copilot", name: "GitHub Copilot", models: { "claude-sonnet-4.5": { name: "Claude Sonnet 4.5" } } },
  {
    id: "amazon-bedrock",
    name: "Amazon Bedrock",
    models: {
      "us.anthropic.claude-sonnet-4-5-20250929-v1:0": { name: "Claude Sonnet 4.5 (US)" },
      "eu.anthropic.claude-sonnet-4-5-20250929-v1:0": { name: "Claude Sonnet 4.5 (EU)" },
    },
  },
]

test("members are not listed under their providers; ungrouped models and the combined model are", () => {
  const view = pickerView({ providers })
  expect(view.listed({ providerID: "anthropic", modelID: "claude-sonnet-4-5" })).toBe(false)
  expect(view.listed({ providerID: "amazon-bedrock", modelID: "eu.anthropic.claude-sonnet-4-5-20250929-v1:0" })).toBe(false)
  expect(view.listed({ providerID: "anthropic", modelID: "claude-opus-4-1" })).toBe(true)
  expect(view.listed({ providerID: "combined", modelID: "claude-sonnet-4-5" })).toBe(true)
})

test('"all" lists every provider\'s entry and maps nothing, as stock', () => {
  const view = pickerView({ providers, mode: "all" })
  expect(view.listed({ providerID: "github-copilot", modelID: "claude-sonnet-4.5" })).toBe(true)
  expect(view.shownAs({ providerID: "github-copilot", modelID: "claude-sonnet-4.5" })).toEqual({ providerID: "github-copilot", modelID: "claude-sonnet-4.5" })
})

test("a favorite or recent that points at a member shows as its combined model; others as they are", () => {
  const view = pickerView({ providers })
  expect(view.shownAs({ providerID: "github-copilot", modelID: "claude-sonnet-4.5" })).toEqual({ providerID: "combined", modelID: "claude-sonnet-4-5" })
  expect(view.shownAs({ providerID: "anthropic", modelID: "claude-opus-4-1" })).toEqual({ providerID: "anthropic", modelID: "claude-opus-4-1" })
})

test("search finds the combined model by any member's id or name", () => {
  const text = pickerView({ providers }).searchText({ providerID: "combined", modelID: "claude-sonnet-4-5" })
  expect(text).toContain("github-copilot/claude-sonnet-4.5")
  expect(text).toContain("us.anthropic.claude-sonnet-4-5-20250929-v1:0")
  expect(text).toContain("Claude Sonnet 4.5 (EU)")
  expect(pickerView({ providers }).searchText({ providerID: "anthropic", modelID: "claude-opus-4-1" })).toBe("")
})

test("the description counts providers (regions and aliases of one count once) and names who answers now, as routing does", () => {
  const health = new HealthRegistry({ cooldowns: DEFAULT_COOLDOWNS, clock: () => NOW })
  const sonnet = { providerID: "combined", modelID: "claude-sonnet-4-5" }
  expect(pickerView({ providers, health }).description(sonnet, NOW)).toBe("3 providers · anthropic")
  health.report({ providerID: "anthropic", modelID: "claude-sonnet-4-5" }, { reason: "rate_limit", message: "429", retryAfterMs: 20_000 })
  expect(pickerView({ providers, health }).description(sonnet, NOW)).toBe("3 providers · anthropic cooling 20 s → github-copilot")
  expect(pickerView({ providers, health }).description({ providerID: "anthropic", modelID: "claude-opus-4-1" }, NOW)).toBeUndefined()
})

test("a cooldown of one member shows on the combined models that member is in, not on the provider's other models", () => {
  const withOpus = [
    ...providers.slice(0, 1).map((provider) => ({
      ...provider,
      models: {
        ...provider.models,
        "claude-opus-4-1": {
          name: "Claude Opus 4.1",
          options: { members: [{ providerID: "anthropic", modelID: "claude-opus-4-1" }, { providerID: "github-copilot", modelID: "claude-opus-4.1" }] },
        },
      },
    })),
    ...providers.slice(1),
  ]
  const health = new HealthRegistry({ cooldowns: DEFAULT_COOLDOWNS, clock: () => NOW })
  health.report(
    { providerID: "anthropic", modelID: "claude-sonnet-4-5" },
    { reason: "model_unavailable", scope: "model", message: "model: claude-sonnet-4-5" },
  )
  const view = pickerView({ providers: withOpus, health })
  expect(view.description({ providerID: "combined", modelID: "claude-sonnet-4-5" }, NOW)).toBe("3 providers · anthropic cooling 6 h → github-copilot")
  expect(view.description({ providerID: "combined", modelID: "claude-opus-4-1" }, NOW)).toBe("2 providers · anthropic")
  // Paired: the account's refusal shows on both.
  health.report({ providerID: "anthropic", modelID: "claude-sonnet-4-5" }, { reason: "auth", scope: "credential", message: "invalid x-api-key" })
  expect(pickerView({ providers: withOpus, health }).description({ providerID: "combined", modelID: "claude-opus-4-1" }, NOW)).toBe(
    "2 providers · anthropic cooling 1 h → github-copilot",
  )
})

test("combined_models.picker: combined unless it says all", () => {
  expect(pickerMode({})).toBe("combined")
  expect(pickerMode({ combined_models: { picker: "all" } })).toBe("all")
  expect(pickerMode({ combined_models: { picker: "nonsense" } })).toBe("combined")
  expect(pickerMode(undefined)).toBe("combined")
})

test("favorites: members show as their combined model once, in order; the rest as they are", async () => {
  const { shownAsAll } = await import("../src/picker.ts")
  const favorites = [
    { providerID: "github-copilot", modelID: "claude-sonnet-4.5" },
    { providerID: "anthropic", modelID: "claude-opus-4-1" },
    { providerID: "anthropic", modelID: "claude-sonnet-4-5" },
  ]
  expect(shownAsAll(pickerView({ providers }), favorites)).toEqual([
    { providerID: "combined", modelID: "claude-sonnet-4-5" },
    { providerID: "anthropic", modelID: "claude-opus-4-1" },
  ])
  expect(shownAsAll(pickerView({ providers, mode: "all" }), favorites)).toEqual(favorites)
})
