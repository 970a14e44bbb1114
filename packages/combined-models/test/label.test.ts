import { expect, test } from "bun:test"
import { cooldownLine, describeFailure, failureSummary, formatDuration, label, switchNotice } from "../src/label.ts"

test("label names the provider that served, or just the model before any step", () => {
  expect(label({ name: "Claude Sonnet 4.5" }, { providerID: "github-copilot" })).toBe("Claude Sonnet 4.5 (github-copilot)")
  expect(label({ name: "Claude Sonnet 4.5" })).toBe("Claude Sonnet 4.5")
})

test("switch notices read like a sentence", () => {
  expect(switchNotice({ providerID: "anthropic" }, { reason: "rate_limit", statusCode: 429 }, { providerID: "github-copilot" }, 30_000)).toBe(
    "anthropic rate-limited, retry in 30 s → github-copilot",
  )
  expect(switchNotice({ providerID: "openrouter" }, { reason: "server_error", statusCode: 503 }, { providerID: "anthropic" })).toBe(
    "openrouter failed with a server error (503) → anthropic",
  )
  expect(describeFailure("amazon-bedrock", { reason: "quota" })).toBe("amazon-bedrock out of quota")
})

test("durations round to what a person reads", () => {
  expect([0, 450, 2_000, 9_949, 30_000, 89_000, 3_600_000, 5_400_000, 6 * 3_600_000].map(formatDuration)).toEqual([
    "0 s",
    "0.5 s",
    "2 s",
    "9.9 s",
    "30 s",
    "1 min",
    "1 h",
    "1 h 30 min",
    "6 h",
  ])
  expect(formatDuration(Number.POSITIVE_INFINITY)).toBe("until re-authenticated")
})

test("the failure summary has one line per provider with what to do", () => {
  expect(failureSummary("GPT-5", [])).toBe("No provider of GPT-5 is available right now.")
  expect(
    failureSummary("GPT-5", [
      { member: { providerID: "openai", modelID: "gpt-5" }, error: { reason: "auth", message: "Invalid key" }, at: 0 },
    ]),
  ).toBe("Every provider of GPT-5 failed:\n- openai/gpt-5: openai rejected the credentials: Invalid key (run `opencode auth login` and sign in to openai again)")
})

test("notices say how far a failure reached, and a long rate limit by its wait", () => {
  const copilot = { providerID: "github-copilot", modelID: "claude-sonnet-4.5" }
  expect(switchNotice(copilot, { reason: "model_unavailable", code: "model_not_supported" }, { providerID: "anthropic" }, 6 * 3_600_000)).toBe(
    "github-copilot does not serve claude-sonnet-4.5 on this plan → anthropic",
  )
  // Paired: the same reason without the plan's code names no plan.
  expect(switchNotice(copilot, { reason: "model_unavailable", code: "model_not_found" }, { providerID: "anthropic" })).toBe(
    "github-copilot does not serve claude-sonnet-4.5 → anthropic",
  )
  expect(switchNotice({ providerID: "anthropic" }, { reason: "rate_limit", statusCode: 429 }, { providerID: "github-copilot" }, 58 * 60_000)).toBe(
    "anthropic rate-limited for 58 min → github-copilot",
  )
  const missing = "Anthropic API key is missing. Pass it using the 'apiKey' parameter or the ANTHROPIC_API_KEY environment variable."
  expect(switchNotice({ providerID: "anthropic" }, { reason: "auth", scope: "request", message: missing }, { providerID: "github-copilot" }, 3_600_000)).toBe(
    "anthropic has no API key here (ANTHROPIC_API_KEY is not set) → github-copilot",
  )
  // Paired: a refused key (the credential's) is out until it changes.
  expect(switchNotice({ providerID: "anthropic" }, { reason: "auth", scope: "credential" }, { providerID: "github-copilot" }, 3_600_000)).toBe(
    "anthropic rejected the credentials, out until its credential changes (at most 1 h) → github-copilot",
  )
})

test("a cooldown line for the all-out error: why, time left, and what brings it back sooner", () => {
  const now = 1_000_000
  const member = { providerID: "github-copilot", modelID: "claude-sonnet-4.5" }
  expect(
    cooldownLine(member, { reason: "model_unavailable", scope: "model", modelID: member.modelID, code: "model_not_supported", until: now + 6 * 3_600_000, message: "The requested model is not supported." }, now),
  ).toBe("github-copilot does not serve claude-sonnet-4.5 on this plan: The requested model is not supported.; 6 h left, or sooner with another credential")
  expect(cooldownLine(member, { reason: "rate_limit", scope: "model", modelID: member.modelID, until: now + 58 * 60_000, message: "Rate limited" }, now)).toBe(
    "github-copilot rate-limited: Rate limited; 58 min left",
  )
  expect(cooldownLine(member, { reason: "auth", scope: "credential", modelID: "*", until: now + 3_600_000, message: "bad token" }, now)).toBe(
    "github-copilot rejected the credentials: bad token; 1 h left, or as soon as its credential changes (opencode auth login github-copilot, or a new key)",
  )
})
