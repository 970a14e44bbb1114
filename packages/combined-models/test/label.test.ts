import { expect, test } from "bun:test"
import { describeFailure, failureSummary, formatDuration, label, switchNotice } from "../src/label.ts"

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
