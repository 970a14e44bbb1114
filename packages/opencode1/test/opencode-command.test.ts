import { afterEach, beforeEach, describe, expect, test } from "bun:test"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { limitsPath, readLimitsFile } from "combined-models"
import { combinedStatus, renderCombinedStatus, type CombinedStatus } from "../src/command.ts"
import { addCombinedProvider } from "../src/provider.ts"
import { CombinedRuntime, resetRuntime, runtime, type OpenCodeProvider, type SwitchRecord } from "../src/runtime.ts"
import { appendSwitch, mergeSwitches, readSwitches, switchesPath } from "../../combined-models/src/switch-store.ts"
import { settleStateFiles } from "../../combined-models/src/state-file.ts"
import { ocModel } from "./opencode-fixtures.ts"

const NOW = Date.UTC(2026, 6, 2, 12, 0, 0)

function providers(): Record<string, OpenCodeProvider> {
  return {
    anthropic: { id: "anthropic", name: "Anthropic", models: { "claude-sonnet-4-5": ocModel("anthropic", "claude-sonnet-4-5") } },
    "github-copilot": {
      id: "github-copilot",
      name: "GitHub Copilot",
      models: { "claude-sonnet-4.5": ocModel("github-copilot", "claude-sonnet-4.5") },
    },
  }
}

function aSwitch(at: number, overrides: Partial<SwitchRecord> = {}): SwitchRecord {
  return {
    at,
    sessionID: "ses_1",
    groupID: "claude-sonnet-4-5",
    from: { providerID: "anthropic", modelID: "claude-sonnet-4-5" },
    to: { providerID: "github-copilot", modelID: "claude-sonnet-4.5" },
    reason: "rate_limit",
    notice: "anthropic rate-limited, retry in 30 s → github-copilot",
    ...overrides,
  }
}

let stateDir: string
beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), "combined-command-"))
  resetRuntime(new CombinedRuntime({ clock: () => NOW }))
})
afterEach(() => rmSync(stateDir, { recursive: true, force: true }))

function loaded(config: unknown = { provider_priority: ["anthropic", "github-copilot"] }) {
  const list = providers()
  addCombinedProvider({ providers: list, config, stateDir })
  return list
}

describe("combinedStatus: what `opencode combined` shows, as data", () => {
  test("groups with members in priority order, display names and health", () => {
    const list = loaded()
    runtime().health.report(
      { providerID: "anthropic", modelID: "claude-sonnet-4-5" },
      { reason: "rate_limit", message: "Too many requests", statusCode: 429, retryAfterMs: 30_000 },
    )
    const status = combinedStatus(list, Date.now())
    expect(status.providerID).toBe("combined")
    expect(status.providerName).toBe("Combined")
    expect(status.groups.map((group) => group.id)).toEqual(["claude-sonnet-4-5"])
    const [first, second] = status.groups[0]!.members
    expect(first).toMatchObject({
      providerID: "anthropic",
      providerName: "Anthropic",
      health: { state: "cooling", reason: "rate_limit", why: "anthropic rate-limited", scope: "model" },
    })
    expect(second).toEqual({
      providerID: "github-copilot",
      modelID: "claude-sonnet-4.5",
      providerName: "GitHub Copilot",
      health: { state: "healthy" },
    })
  })

  test("an auth cooldown covers the whole provider, ends within 1 h, and says which credential change brings it back", () => {
    const list = loaded()
    runtime().health.report({ providerID: "github-copilot", modelID: "claude-sonnet-4.5" }, { reason: "auth", message: "bad token" })
    const status = combinedStatus(list)
    const health = status.groups[0]!.members[1]!.health
    expect(health).toMatchObject({ state: "cooling", reason: "auth", scope: "provider" })
    // The runtime's registry runs on the real clock here: the bound is an hour from the report.
    const until = health.state === "cooling" ? (health.until ?? Infinity) : 0
    expect(until - Date.now()).toBeGreaterThan(3_500_000)
    expect(until - Date.now()).toBeLessThanOrEqual(3_600_000)
    expect(health.state === "cooling" && health.backWith).toEqual([
      "opencode auth login github-copilot",
      "provider.github-copilot.options.apiKey in opencode.json",
    ])
    expect(renderCombinedStatus(status)).toContain(
      " left; back sooner with opencode auth login github-copilot or provider.github-copilot.options.apiKey in opencode.json",
    )
  })

  test("a model Copilot's plan does not include cools that member alone: the group with Copilot's other model shows it healthy", () => {
    const list = providers()
    list["github-copilot"]!.models["gpt-5.2"] = ocModel("github-copilot", "gpt-5.2")
    list.openai = { id: "openai", name: "OpenAI", models: { "gpt-5.2": ocModel("openai", "gpt-5.2") } }
    const config = {
      provider_priority: ["github-copilot", "anthropic", "openai"],
      combined_models: { groups: { "gpt-5-2": { name: "GPT-5.2", members: ["github-copilot/gpt-5.2", "openai/gpt-5.2"] } } },
    }
    addCombinedProvider({ providers: list, config, stateDir })
    runtime().health.report(
      { providerID: "github-copilot", modelID: "claude-sonnet-4.5" },
      { reason: "model_unavailable", scope: "model", code: "model_not_supported", statusCode: 400, message: "The requested model is not supported." },
    )
    const status = combinedStatus(list)
    const copilotIn = (groupID: string) => status.groups.find((group) => group.id === groupID)?.members.find((m) => m.providerID === "github-copilot")
    expect(copilotIn("claude-sonnet-4-5")?.health).toMatchObject({
      state: "cooling",
      reason: "model_unavailable",
      why: "github-copilot does not serve claude-sonnet-4.5 on this plan",
      scope: "model",
      reach: "model",
    })
    expect(copilotIn("gpt-5-2")?.health).toEqual({ state: "healthy" })
    const text = renderCombinedStatus(status)
    expect(text).toMatch(/github-copilot\/claude-sonnet-4\.5 .*cooling down \(github-copilot does not serve claude-sonnet-4\.5 on this plan: The requested model is not supported\.\), 6 h left; back sooner with opencode auth login github-copilot/)
    expect(text).not.toMatch(/github-copilot\/gpt-5\.2 .*cooling/)
  })

  test("switches recorded by another process are read from the file; config warnings come along", async () => {
    loaded()
    runtime().recordSwitch(aSwitch(NOW - 60_000))
    await settleStateFiles()
    // A fresh process: a new runtime over the same state dir, nothing in memory.
    resetRuntime(new CombinedRuntime())
    const list = loaded({ provider_priority: ["anthropic", "nope"] })
    const status = combinedStatus(list)
    expect(status.switches).toEqual([aSwitch(NOW - 60_000)])
    expect(status.warnings).toEqual([
      'provider_priority[1]: provider "nope" is not configured; it is ignored. Configured providers: anthropic, github-copilot',
    ])
  })
})

describe("renderCombinedStatus", () => {
  const status: CombinedStatus = {
    providerID: "combined",
    providerName: "Combined",
    healthStore: { kind: "file" },
    now: NOW,
    groups: [
      {
        id: "claude-sonnet-4-5",
        name: "Claude Sonnet 4.5",
        order: "provider_priority",
        members: [
          {
            providerID: "anthropic",
            modelID: "claude-sonnet-4-5",
            providerName: "Anthropic",
            health: {
              state: "cooling",
              reason: "rate_limit",
              why: "anthropic rate-limited",
              message: "Too many requests",
              until: NOW + 90_000,
              scope: "model",
            },
          },
          {
            providerID: "github-copilot",
            modelID: "claude-sonnet-4.5",
            providerName: "GitHub Copilot",
            health: { state: "cooling", reason: "auth", why: "github-copilot rejected the credentials", message: "", until: null, scope: "provider" },
          },
          { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5", providerName: "openrouter", health: { state: "healthy" } },
        ],
      },
    ],
    switches: [aSwitch(NOW - 120_000), aSwitch(NOW - 60_000, { sessionID: "ses_2" })],
    warnings: ["provider_priority[1]: provider \"nope\" is not configured"],
  }

  test("warnings first, then groups, members with health and time left, newest switch first", () => {
    expect(renderCombinedStatus(status)).toBe(
      [
        'warning: provider_priority[1]: provider "nope" is not configured',
        "",
        "Combined (combined): 1 model, members in priority order",
        "",
        "combined/claude-sonnet-4-5  Claude Sonnet 4.5  (order: provider_priority, then alphabetical)",
        "  1. anthropic/claude-sonnet-4-5 (Anthropic)            cooling down (anthropic rate-limited: Too many requests), 2 min left",
        "  2. github-copilot/claude-sonnet-4.5 (GitHub Copilot)  cooling down (github-copilot rejected the credentials, whole provider), until re-authenticated",
        "  3. openrouter/anthropic/claude-sonnet-4.5             healthy",
        "",
        "Latest provider switches (newest first, 2 of 2):",
        "  2026-07-02 11:59:00Z  combined/claude-sonnet-4-5  anthropic → github-copilot  anthropic rate-limited, retry in 30 s → github-copilot  (session ses_2)",
        "  2026-07-02 11:58:00Z  combined/claude-sonnet-4-5  anthropic → github-copilot  anthropic rate-limited, retry in 30 s → github-copilot  (session ses_1)",
        "",
      ].join("\n"),
    )
  })

  test("no groups and no switches say so, with what to do", () => {
    const text = renderCombinedStatus({ ...status, groups: [], switches: [], warnings: [] })
    expect(text).toBe(
      [
        "No combined models: no model is offered by enough of the configured providers.",
        "Configure two providers that serve the same model, or see combined_models.min_providers.",
        "",
        "Provider switches: none recorded",
        "",
      ].join("\n"),
    )
  })
})

describe("switches.json", () => {
  test("sits next to the health file", () => {
    expect(switchesPath("/state")).toBe(join("/state", "combined-models", "switches.json"))
  })

  test("append keeps the newest, oldest first, without repeats", async () => {
    const path = switchesPath(stateDir)
    for (let index = 0; index < 5; index++) appendSwitch(path, aSwitch(NOW + index * 1000), 3)
    appendSwitch(path, aSwitch(NOW + 4000), 3)
    await settleStateFiles()
    expect(readSwitches(path).map((record) => record.at)).toEqual([NOW + 2000, NOW + 3000, NOW + 4000])
    expect(mergeSwitches([aSwitch(2)], [aSwitch(1), aSwitch(2)], 10).map((record) => record.at)).toEqual([1, 2])
  })

  test("a missing, broken or foreign file reads as no switches; bad records are skipped", async () => {
    const path = switchesPath(stateDir)
    expect(readSwitches(path)).toEqual([])
    appendSwitch(path, aSwitch(NOW), 10)
    await settleStateFiles()
    writeFileSync(path, readFileSync(path, "utf8").slice(0, 20))
    expect(readSwitches(path)).toEqual([])
    writeFileSync(path, JSON.stringify({ version: 2, switches: [aSwitch(NOW)] }))
    expect(readSwitches(path)).toEqual([])
    writeFileSync(path, JSON.stringify({ version: 1, switches: [aSwitch(NOW), { at: "x" }, aSwitch(NOW + 1, { reason: "bogus" as never })] }))
    expect(readSwitches(path)).toEqual([aSwitch(NOW)])
  })

  test("a runtime without a state dir keeps switches in memory only", () => {
    const rt = new CombinedRuntime()
    rt.recordSwitch(aSwitch(NOW))
    expect(rt.latestSwitches()).toEqual([aSwitch(NOW)])
  })
})

describe("strategies and limits in `opencode combined`", () => {
  test("least_limited lists the members in the order it gives now, with what each said it has left", () => {
    const list = loaded({ provider_priority: ["anthropic", "github-copilot"], combined_models: { strategy: "least_limited" } })
    const now = Date.now()
    const rt = runtime()
    rt.recordLimits({ providerID: "anthropic", modelID: "claude-sonnet-4-5" }, new Headers({ "anthropic-ratelimit-tokens-remaining": "4000", "anthropic-ratelimit-tokens-limit": "80000", "anthropic-ratelimit-tokens-reset": new Date(now + 40_000).toISOString() }), now)
    rt.recordLimits({ providerID: "github-copilot", modelID: "claude-sonnet-4.5" }, new Headers({ "x-ratelimit-remaining-tokens": "60000", "x-ratelimit-limit-tokens": "80000", "x-ratelimit-reset-tokens": "40s" }), now)
    const status = combinedStatus(list, now)
    const group = status.groups[0]!
    expect(group.order).toBe("least_limited")
    expect(group.members.map((member) => member.providerID)).toEqual(["github-copilot", "anthropic"])
    const text = renderCombinedStatus(status)
    expect(text).toContain("(order: strategy least_limited: most left first by the latest rate-limit headers, then priority)")
    expect(text).toContain("healthy; 60k of 80k tokens left, resets in 40 s")
    expect(text).toContain("healthy; 4k of 80k tokens left, resets in 40 s")
  })

  test("a status command of its own reads the readings the serving process wrote", async () => {
    loaded()
    const now = Date.now()
    runtime().recordLimits({ providerID: "anthropic", modelID: "claude-sonnet-4-5" }, new Headers({ "anthropic-ratelimit-tokens-remaining": "4000", "anthropic-ratelimit-tokens-reset": new Date(now + 40_000).toISOString() }), now)
    await settleStateFiles()
    // Another process: a fresh runtime over the same state dir.
    resetRuntime(new CombinedRuntime({ clock: () => NOW }))
    const list = loaded({ provider_priority: ["anthropic", "github-copilot"], combined_models: { strategy: "round_robin" } })
    const status = combinedStatus(list, now)
    expect(status.groups[0]!.order).toBe("round_robin")
    expect(status.groups[0]!.members[0]!.limits?.tokens?.remaining).toBe(4000)
  })

  test("a corrupt limits file reads as nothing known, and the next reading replaces it", async () => {
    const list = loaded()
    const file = limitsPath(stateDir)
    mkdirSync(dirname(file), { recursive: true })
    const reset = Date.now() + 40_000
    for (const garbage of [
      "{not json",
      JSON.stringify({ version: 9, readings: {} }),
      JSON.stringify({ version: 2, readings: { x: { tokens: "lots" } } }),
      // Written by an older version (one reading per provider, no limit class): read as nothing known, no crash.
      JSON.stringify({ version: 1, providers: { anthropic: { tokens: { remaining: 0, resetAt: reset }, seenAt: Date.now() } } }),
    ]) {
      writeFileSync(file, garbage)
      expect(readLimitsFile(file).size).toBe(0)
      expect(combinedStatus(list, Date.now()).groups[0]!.members[0]!.limits).toBeUndefined()
    }
    const now = Date.now()
    runtime().recordLimits({ providerID: "github-copilot", modelID: "claude-sonnet-4.5" }, new Headers({ "x-ratelimit-remaining-tokens": "5", "x-ratelimit-reset-tokens": "9s" }), now)
    await settleStateFiles()
    expect([...readLimitsFile(file).values()].map((reading) => [reading.providerID, reading.limitClass, reading.tokens])).toEqual([
      ["github-copilot", "claude-sonnet-4.5", { remaining: 5, resetAt: now + 9_000 }],
    ])
  })
})
