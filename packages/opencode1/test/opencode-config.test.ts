import { describe, expect, test } from "bun:test"
import { addCombinedConfigSchema, combinedConfigIssues, combinedConfigSchemaProperties } from "../src/config.ts"

describe("combinedConfigIssues: our keys in one loaded opencode.json", () => {
  test("absent or good keys give no issues, and OpenCode's own keys are not ours to judge", () => {
    expect(combinedConfigIssues({})).toEqual([])
    expect(combinedConfigIssues(undefined)).toEqual([])
    expect(
      combinedConfigIssues({
        model: "combined/claude-sonnet-4-5",
        provider: { anthropic: { options: {} } },
        provider_priority: ["anthropic", "github-copilot"],
        combined_models: { cooldowns: { rate_limit: "30s" }, sticky: "turn", groups: { "gpt-4.1": { name: "GPT" } } },
      }),
    ).toEqual([])
  })

  test("an unknown provider id is not an error here: it needs the provider list (the provider patch warns)", () => {
    expect(combinedConfigIssues({ provider_priority: ["no-such-provider"] })).toEqual([])
  })

  test("problems come back in OpenCode's issue shape, with the path to the bad value", () => {
    const issues = combinedConfigIssues({
      provider_priority: "anthropic",
      combined_models: { cooldowns: { rate_limit: "soon" }, stickyy: "turn" },
    })
    expect(issues).toContainEqual({
      path: ["provider_priority"],
      message: 'expected a list of provider ids, e.g. ["anthropic", "github-copilot"]',
    })
    expect(issues).toContainEqual({
      path: ["combined_models.cooldowns.rate_limit"],
      message: 'expected a duration such as "30s", "5m", "6h" or a number of milliseconds, got "soon"',
    })
    expect(issues).toContainEqual({
      path: ["combined_models"],
      message: 'unknown key "stickyy"; remove it or check the spelling against docs/configuration.md',
    })
    expect(issues).toHaveLength(3)
  })

  test("a group id with a dot stays one path element, so OpenCode's `path.join('.')` prints it as written", () => {
    const [issue] = combinedConfigIssues({ combined_models: { groups: { "gpt-4.1": { members: "x" } } } })
    expect(issue?.path).toEqual(["combined_models.groups.gpt-4.1.members"])
  })
})

/** What OpenCode's `InvalidError` accepts as `issues` (its Issue schema is a struct with an open rest). */
type OpenCodeIssues = readonly { readonly [key: string]: unknown; readonly message: string; readonly path: readonly string[] }[]

test("the issues type-check as OpenCode's InvalidError issues, so the hunk needs no cast", () => {
  const issues: OpenCodeIssues = combinedConfigIssues({ provider_priority: [1] })
  expect(issues).toEqual([{ message: "Invalid input: expected string, received number", path: ["provider_priority[0]"] }])
})

describe("combinedConfigSchemaProperties", () => {
  test("describes both keys, self-contained (no $ref into definitions OpenCode's document lacks)", () => {
    const properties = combinedConfigSchemaProperties()
    expect(Object.keys(properties).sort()).toEqual(["combined_models", "provider_priority"])
    expect(properties.provider_priority).toMatchObject({ type: "array", items: { type: "string" } })
    expect(properties.combined_models).toMatchObject({ type: "object", additionalProperties: false })
    expect(JSON.stringify(properties)).not.toContain("$ref")
  })
})

describe("addCombinedConfigSchema: OpenCode's published config schema", () => {
  test("follows the document's $ref into $defs, as OpenCode's generator emits it", () => {
    const document = {
      $ref: "#/$defs/Config",
      $defs: {
        Config: { type: "object", properties: { model: { type: "string" }, combined_models: { description: "declared" } } },
      },
    }
    const result = addCombinedConfigSchema(document)
    const properties = result.$defs.Config.properties as Record<string, Record<string, unknown>>
    expect(properties.model).toEqual({ type: "string" })
    expect(properties.combined_models).toMatchObject({ type: "object" })
    expect(properties.provider_priority).toMatchObject({ type: "array" })
  })

  test("an inline object schema works too; a document without properties throws", () => {
    expect(addCombinedConfigSchema({ type: "object", properties: {} }).properties).toHaveProperty("combined_models")
    expect(() => addCombinedConfigSchema({ $ref: "#/$defs/Missing", $defs: {} })).toThrow(/no object with properties/)
  })
})
