import { describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import {
  CombinedModelsConfigError,
  DEFAULTS,
  configJsonSchema,
  parseDuration,
  resolveConfig,
  fallbackChainFor,
  resolveConfigOrThrow,
} from "../src/config.ts"

const problems = (raw: unknown) => {
  const result = resolveConfig(raw)
  if (result.ok) throw new Error(`expected ${JSON.stringify(raw)} to be rejected`)
  return result.errors.map((problem) => `${problem.path}: ${problem.message}`)
}

describe("bad config gets a message naming the path and the fix", () => {
  const table: [string, unknown, string[]][] = [
    [
      "provider_priority not a list",
      { provider_priority: "anthropic" },
      ['provider_priority: expected a list of provider ids, e.g. ["anthropic", "github-copilot"]'],
    ],
    ["an empty provider id", { provider_priority: [""] }, ['provider_priority[0]: expected a provider id such as "anthropic"']],
    [
      "a misspelt key",
      { combined_models: { min_provider: 2 } },
      ['combined_models: unknown key "min_provider"; remove it or check the spelling against docs/configuration.md'],
    ],
    ["min_providers below 1", { combined_models: { min_providers: 0 } }, ["combined_models.min_providers: expected at least 1"]],
    [
      "min_providers not whole",
      { combined_models: { min_providers: 1.5 } },
      ["combined_models.min_providers: expected a whole number of providers, at least 1"],
    ],
    [
      "a duration without a unit",
      { combined_models: { cooldowns: { rate_limit: "30" } } },
      ['combined_models.cooldowns.rate_limit: expected a duration such as "30s", "5m", "6h" or a number of milliseconds, got "30"'],
    ],
    [
      "a cooldown for a reason that never fails over",
      { combined_models: { cooldowns: { aborted: "1s" } } },
      ['combined_models.cooldowns: unknown key "aborted"; remove it or check the spelling against docs/configuration.md'],
    ],
    [
      "an unknown failover reason",
      { combined_models: { failover_on: ["rate_limit", "ratelimit"] } },
      [
        'combined_models.failover_on[1]: unknown reason "ratelimit"; use one of: rate_limit, quota, overloaded, server_error, network, timeout, auth, model_unavailable, context_overflow, invalid_request, aborted, unknown',
      ],
    ],
    ["sticky misspelt", { combined_models: { sticky: "always" } }, ["combined_models.sticky: expected one of: turn, session, off, or { \"window\": \"15m\" }"]],
    ["a sticky window that is not a duration", { combined_models: { sticky: { window: "soon" } } }, ['combined_models.sticky: expected one of: turn, session, off, or { "window": "15m" }']],
    ["an account without its provider", { combined_models: { accounts: { "anthropic-work": {} } } }, ['combined_models.accounts.anthropic-work.provider: expected the provider this is an account of, e.g. "anthropic"']],
    [
      "an account id that cannot be a provider id",
      { combined_models: { accounts: { "Anthropic Work": { provider: "anthropic" } } } },
      ['combined_models.accounts.Anthropic Work: expected an account id of lower-case letters, digits, ".", "_" or "-" (it becomes a provider id), e.g. "anthropic-work"'],
    ],
    [
      "a manual group with a typo",
      { combined_models: { groups: { sonnet: { member: ["anthropic/*"] } } } },
      ['combined_models.groups.sonnet: unknown key "member"; remove it or check the spelling against docs/configuration.md'],
    ],
    [
      "an empty member pattern",
      { combined_models: { groups: { sonnet: { members: [""] } } } },
      ['combined_models.groups.sonnet.members[0]: expected "provider/model" (globs allowed, e.g. "openrouter/*") or a provider id'],
    ],
    [
      "a fallback model without a provider",
      { combined_models: { fallback_models: ["gpt-5"] } },
      ['combined_models.fallback_models[0]: expected "provider/model", e.g. "combined/gpt-5" or "openrouter/anthropic/claude-sonnet-4.5"'],
    ],
    [
      "an agent's fallback_models not a list",
      { agent: { build: { fallback_models: "combined/gpt-5" } } },
      ['agent.build.fallback_models: expected a list of models, e.g. ["combined/gpt-5", "openrouter/openai/gpt-5"]'],
    ],
    [
      "negative retries",
      { combined_models: { retries_before_failover: -1 } },
      ["combined_models.retries_before_failover: expected 0 or more"],
    ],
    [
      "a timeout as a boolean",
      { combined_models: { timeouts: { stall: true } } },
      ['combined_models.timeouts.stall: expected a duration such as "30s", "5m", "6h" or a number of milliseconds'],
    ],
  ]
  for (const [name, raw, expected] of table) test(name, () => expect(problems(raw)).toEqual(expected))

  test("every problem is reported at once, not just the first", () => {
    expect(problems({ combined_models: { sticky: 1, min_providers: "2", max_wait: "forever" } })).toHaveLength(3)
  })

  test("resolveConfigOrThrow raises a typed error carrying every problem", () => {
    let caught: unknown
    try {
      resolveConfigOrThrow({ combined_models: { enabled: "yes" } })
    } catch (error) {
      caught = error
    }
    expect(CombinedModelsConfigError.isInstance(caught)).toBe(true)
    expect(CombinedModelsConfigError.isInstance(new Error("x"))).toBe(false)
    expect((caught as CombinedModelsConfigError).problems[0]?.path).toBe("combined_models.enabled")
  })
})

describe("good config", () => {
  test("nothing set means the documented defaults", () => {
    expect(resolveConfig({})).toEqual({ ok: true, config: DEFAULTS, warnings: [] })
    expect(resolveConfig(undefined)).toEqual({ ok: true, config: DEFAULTS, warnings: [] })
  })

  test("OpenCode's own keys pass through untouched", () => {
    expect(resolveConfig({ model: "anthropic/claude-sonnet-4-5", provider: { x: {} } }).ok).toBe(true)
  })

  test("durations, reasons and overrides resolve to what the engine reads", () => {
    const result = resolveConfig({
      provider_priority: ["anthropic", "openrouter"],
      combined_models: {
        cooldowns: { rate_limit: "10s", quota: "2h", auth: 600000 },
        failover_on: ["rate_limit", "quota"],
        max_retry_wait: "1.5s",
        sticky: "session",
        timeouts: { first_byte: "45s" },
      },
    })
    expect(result.ok).toBe(true)
    if (!result.ok) return
    expect(result.config.providerPriority).toEqual(["anthropic", "openrouter"])
    expect(result.config.cooldowns).toMatchObject({ rate_limit: 10_000, quota: 7_200_000, auth: 600_000, overloaded: 30_000 })
    expect(result.config.failoverOn).toEqual(["rate_limit", "quota"])
    expect(result.config.maxRetryWaitMs).toBe(1_500)
    expect(result.config.sticky).toBe("session")
    expect(result.config.timeouts).toEqual({ firstByteMs: 45_000, stallMs: 120_000 })
  })

  test("parseDuration", () => {
    expect([parseDuration("250ms"), parseDuration("30s"), parseDuration("5m"), parseDuration("6h"), parseDuration("1d")]).toEqual([
      250, 30_000, 300_000, 21_600_000, 86_400_000,
    ])
    expect([parseDuration("soon"), parseDuration(-1), parseDuration("5 minutes"), parseDuration(Number.NaN)]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ])
  })
})

describe("warnings never fail the config", () => {
  test("an unconfigured provider in provider_priority is named with the configured ones", () => {
    const result = resolveConfig(
      { provider_priority: ["anthropic", "bedrock", "anthropic"] },
      { configuredProviders: ["openrouter", "anthropic", "amazon-bedrock"] },
    )
    expect(result.ok).toBe(true)
    expect(result.warnings).toEqual([
      {
        path: "provider_priority[1]",
        message: 'provider "bedrock" is not configured; it is ignored. Configured providers: amazon-bedrock, anthropic, openrouter',
      },
      { path: "provider_priority", message: 'provider "anthropic" is listed more than once; the first place counts' },
    ])
    if (result.ok) expect(result.config.providerPriority).toEqual(["anthropic", "bedrock"])
  })

  test("reasons that never fail over are dropped from failover_on with a warning; context_overflow is an opt-in", () => {
    const result = resolveConfig({ combined_models: { failover_on: ["rate_limit", "aborted", "context_overflow", "invalid_request"] } })
    expect(result.ok && result.config.failoverOn).toEqual(["rate_limit", "context_overflow"])
    expect(result.warnings.map((warning) => warning.path)).toEqual(["combined_models.failover_on[1]", "combined_models.failover_on[3]"])
    const defaults = resolveConfig({})
    expect(defaults.ok && defaults.config.failoverOn.includes("context_overflow")).toBe(false)
  })
})

test("the committed config.schema.json is what the zod schema publishes (run `bun run combined-models schema > packages/combined-models/config.schema.json`)", () => {
  const committed = JSON.parse(readFileSync(new URL("../config.schema.json", import.meta.url), "utf8"))
  expect(committed).toEqual(configJsonSchema())
})

test("the published schema describes every key and rejects unknown ones", () => {
  const schema = configJsonSchema() as { properties: Record<string, { properties?: Record<string, unknown>; additionalProperties?: unknown }> }
  const settings = schema.properties.combined_models!
  expect(Object.keys(settings.properties ?? {}).sort()).toEqual(
    [
      "accounts",
      "cooldowns",
      "enabled",
      "exclude",
      "failover_on",
      "groups",
      "health_store",
      "picker",
      "fallback_models",
      "max_fallback_depth",
      "max_retry_wait",
      "max_switches_per_turn",
      "max_wait",
      "min_providers",
      "retries_before_failover",
      "sticky",
      "strategy",
      "timeouts",
    ].sort(),
  )
  expect(settings.additionalProperties).toBe(false)
})

describe("fallback chains per agent", () => {
  const resolved = resolveConfig({
    combined_models: { fallback_models: ["combined/gpt-5"], max_fallback_depth: 1 },
    agent: {
      "*": { fallback_models: ["combined/claude-haiku-4-5"] },
      plan: { fallback_models: ["openrouter/openai/gpt-5", "combined/gpt-5"], model: "anthropic/claude-opus-4-5" },
      build: { temperature: 0.2 },
    },
  })
  if (!resolved.ok) throw new Error("config should be valid")
  const { config } = resolved

  test("an agent's own chain wins, then the \"*\" agent's, then combined_models.fallback_models", () => {
    expect(fallbackChainFor(config, "plan")).toEqual(["openrouter/openai/gpt-5", "combined/gpt-5"])
    expect(fallbackChainFor(config, "build")).toEqual(["combined/claude-haiku-4-5"])
    expect(fallbackChainFor(config)).toEqual(["combined/claude-haiku-4-5"])
    expect(config.maxFallbackDepth).toBe(1)
    const noWildcard = resolveConfig({ combined_models: { fallback_models: ["combined/gpt-5"] } })
    expect(noWildcard.ok && fallbackChainFor(noWildcard.config, "build")).toEqual(["combined/gpt-5"])
  })

  test("OpenCode's other agent keys are not ours to judge", () => {
    expect(resolveConfig({ agent: { build: { model: 5, steps: "many" } } }).ok).toBe(true)
  })
})

test("strategy: four of them, globally and per group; anything else names the choices", () => {
  const ok = resolveConfig({ combined_models: { strategy: "cost", groups: { g: { strategy: "round_robin" }, h: { strategy: "least_limited" } } } })
  expect(ok.ok && ok.config.strategy).toBe("cost")
  expect(ok.ok && ok.config.groups.g?.strategy).toBe("round_robin")
  const bad = resolveConfig({ combined_models: { groups: { g: { strategy: "cost_first" } } } })
  expect(!bad.ok && bad.errors).toEqual([
    { path: "combined_models.groups.g.strategy", message: "expected one of: priority, round_robin, least_limited, cost" },
  ])
})

test("round_robin with a sticky mode that keeps a member across turns is warned about", () => {
  const result = resolveConfig({ combined_models: { strategy: "round_robin", sticky: "session" } })
  expect(result.warnings.map((warning) => warning.path)).toEqual(["combined_models.sticky"])
  expect(resolveConfig({ combined_models: { strategy: "round_robin" } }).warnings).toEqual([])
})

test("sticky: a mode, or a window as a duration", () => {
  const windowed = resolveConfig({ combined_models: { sticky: { window: "15m" } } })
  expect(windowed.ok && windowed.config.sticky).toEqual({ windowMs: 15 * 60_000 })
  const mode = resolveConfig({ combined_models: { sticky: "off" } })
  expect(mode.ok && mode.config.sticky).toBe("off")
})

test("accounts: an id per account, naming its provider", () => {
  const result = resolveConfig({
    combined_models: { accounts: { "anthropic-work": { provider: "anthropic", env: ["ANTHROPIC_WORK_KEY"] }, "or-2": { provider: "openrouter", name: "OpenRouter (team)" } } },
  })
  expect(result.ok && result.config.accounts).toEqual({
    "anthropic-work": { provider: "anthropic", env: ["ANTHROPIC_WORK_KEY"] },
    "or-2": { provider: "openrouter", name: "OpenRouter (team)" },
  })
  const unknownKey = resolveConfig({ combined_models: { accounts: { a: { provider: "anthropic", apiKey: "sk-1" } } } })
  expect(!unknownKey.ok && unknownKey.errors[0]?.path).toBe("combined_models.accounts.a")
})
