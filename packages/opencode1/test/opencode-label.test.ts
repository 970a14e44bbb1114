import { describe, expect, test } from "bun:test"
import {
  failoverNotice,
  isCombined,
  isFailoverStatus,
  messageLabel,
  modelName,
  RunOutput,
  runBanner,
  servedLabel,
  servedMember,
  type MessageLike,
  type ProviderLike,
} from "../src/label.ts"
import * as adapter from "../src/index.ts"

const combined = { providerID: "combined", modelID: "claude-sonnet-4-5" }
const stock = { providerID: "anthropic", modelID: "claude-sonnet-4-5" }

const providers: ProviderLike[] = [
  { id: "combined", name: "Combined", models: { "claude-sonnet-4-5": { name: "Claude Sonnet 4.5" }, "gpt-5": { name: "GPT-5" } } },
  { id: "anthropic", name: "Anthropic", models: { "claude-sonnet-4-5": { name: "Claude Sonnet 4.5 (latest)" } } },
  { id: "github-copilot", name: "GitHub Copilot", models: { "claude-sonnet-4.5": { name: "Claude Sonnet 4.5" } } },
]

const user = (id: string, model = combined): MessageLike => ({ id, role: "user", model })
const assistant = (id: string, parentID: string, providerID: string, modelID: string): MessageLike => ({
  id,
  role: "assistant",
  parentID,
  providerID,
  modelID,
})

const failover = {
  type: "retry",
  attempt: 1,
  message: "anthropic rate-limited, retry in 30 s → github-copilot",
  next: 0,
  action: {
    reason: "failover",
    provider: "github-copilot",
    title: "Switching provider",
    message: "anthropic rate-limited, retry in 30 s → github-copilot",
    label: "switching",
  },
}

describe("the prompt footer", () => {
  test("names the member that served the latest step of the selected combined model", () => {
    const messages = [
      user("u1"),
      assistant("a1", "u1", "anthropic", "claude-sonnet-4-5"),
      assistant("a2", "u1", "github-copilot", "claude-sonnet-4.5"),
    ]
    expect(servedLabel({ selected: combined, name: "Claude Sonnet 4.5", messages })).toBe("Claude Sonnet 4.5 (github-copilot)")
    expect(servedMember(combined, messages)).toEqual({ providerID: "github-copilot", modelID: "claude-sonnet-4.5" })
  })

  test("just the name before the first step, or when the last steps served another selection", () => {
    expect(servedLabel({ selected: combined, name: "Claude Sonnet 4.5", messages: [] })).toBe("Claude Sonnet 4.5")
    expect(servedLabel({ selected: combined, name: "Claude Sonnet 4.5" })).toBe("Claude Sonnet 4.5")
    const messages = [user("u1", { providerID: "combined", modelID: "gpt-5" }), assistant("a1", "u1", "openai", "gpt-5")]
    expect(servedLabel({ selected: combined, name: "Claude Sonnet 4.5", messages })).toBe("Claude Sonnet 4.5")
  })

  test("older steps of the same selection count when the newest turn used another model", () => {
    const messages = [
      user("u1"),
      assistant("a1", "u1", "amazon-bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
      user("u2", stock),
      assistant("a2", "u2", "anthropic", "claude-sonnet-4-5"),
    ]
    expect(servedLabel({ selected: combined, name: "Claude Sonnet 4.5", messages })).toBe("Claude Sonnet 4.5 (amazon-bedrock)")
  })

  test("an assistant message whose user message is not loaded is not guessed at", () => {
    const messages = [assistant("a1", "u-gone", "anthropic", "claude-sonnet-4-5")]
    expect(servedLabel({ selected: combined, name: "Claude Sonnet 4.5", messages })).toBe("Claude Sonnet 4.5")
  })

  test("names the member a failover moves to while its notice shows", () => {
    const messages = [user("u1"), assistant("a1", "u1", "anthropic", "claude-sonnet-4-5")]
    expect(servedLabel({ selected: combined, name: "Claude Sonnet 4.5", messages, status: failover })).toBe(
      "Claude Sonnet 4.5 (github-copilot)",
    )
    expect(servedLabel({ selected: combined, name: "Claude Sonnet 4.5", messages, status: { type: "busy" } })).toBe(
      "Claude Sonnet 4.5 (anthropic)",
    )
  })

  test("any other selection keeps the stock text", () => {
    const messages = [user("u1", stock), assistant("a1", "u1", "anthropic", "claude-sonnet-4-5")]
    expect(servedLabel({ selected: stock, name: "Claude Sonnet 4.5 (latest)", messages, status: failover })).toBe(
      "Claude Sonnet 4.5 (latest)",
    )
    expect(servedLabel({ selected: undefined, name: "No provider selected" })).toBe("No provider selected")
    expect(servedMember(stock, messages)).toBeUndefined()
  })
})

describe("the message footer", () => {
  test("a step of a combined model shows the combined name and the member that served it", () => {
    const messages = [
      user("u1"),
      assistant("a1", "u1", "anthropic", "claude-sonnet-4-5"),
      assistant("a2", "u1", "github-copilot", "claude-sonnet-4.5"),
    ]
    expect(messageLabel({ message: messages[1]!, messages, providers })).toBe("Claude Sonnet 4.5 (anthropic)")
    expect(messageLabel({ message: messages[2]!, messages, providers: new Map(providers.map((p) => [p.id, p])) })).toBe(
      "Claude Sonnet 4.5 (github-copilot)",
    )
  })

  test("a stock step keeps the stock model name", () => {
    const messages = [user("u1", stock), assistant("a1", "u1", "anthropic", "claude-sonnet-4-5")]
    expect(messageLabel({ message: messages[1]!, messages, providers })).toBe("Claude Sonnet 4.5 (latest)")
    expect(messageLabel({ message: assistant("a9", "u-gone", "openai", "gpt-5"), messages, providers })).toBe("gpt-5")
  })

  test("an unknown combined model falls back to its id", () => {
    const messages = [user("u1", { providerID: "combined", modelID: "mystery" }), assistant("a1", "u1", "anthropic", "mystery-1")]
    expect(messageLabel({ message: messages[1]!, messages, providers: [] })).toBe("mystery (anthropic)")
    expect(modelName(undefined, { providerID: "x", modelID: "y" })).toBe("y")
  })
})

describe("failover statuses", () => {
  test("only a retry with reason failover is one", () => {
    expect(isFailoverStatus(failover)).toBe(true)
    expect(failoverNotice(failover)).toBe("anthropic rate-limited, retry in 30 s → github-copilot")
    const stockRetry = { type: "retry", attempt: 2, message: "Rate limit reached", next: 0 }
    expect(isFailoverStatus(stockRetry)).toBe(false)
    expect(isFailoverStatus({ ...stockRetry, action: { reason: "usage_limit" } })).toBe(false)
    expect(isFailoverStatus({ type: "busy" })).toBe(false)
    expect(isFailoverStatus(undefined)).toBe(false)
    expect(failoverNotice({ type: "idle" })).toBeUndefined()
    const waiting = { ...failover, action: { ...failover.action, message: `${failover.message} (in 5 s)` } }
    expect(failoverNotice(waiting)).toBe("anthropic rate-limited, retry in 30 s → github-copilot (in 5 s)")
    expect(failoverNotice({ ...failover, action: { reason: "failover" } })).toBe(failover.message)
  })

  test("isCombined", () => {
    expect(isCombined(combined)).toBe(true)
    expect(isCombined(stock)).toBe(false)
    expect(isCombined(undefined)).toBe(false)
    expect(isCombined({ providerID: "combined" })).toBe(false)
  })
})

describe("opencode run", () => {
  const updated = (sessionID: string, info: Record<string, unknown>) => ({ type: "message.updated", properties: { sessionID, info } })
  const step = (id: string, providerID: string, modelID: string, parentID = "u1") =>
    updated("s1", { id, role: "assistant", agent: "build", parentID, providerID, modelID })

  test("the banner names the provider only for a combined selection", () => {
    expect(runBanner({ agent: "build", served: stock, combined: true })).toBe("> build · claude-sonnet-4-5 (anthropic)")
    expect(runBanner({ agent: "build", served: stock, combined: false })).toBe("> build · claude-sonnet-4-5")
  })

  test("a combined run prints the banner again on every switch, and the failover notice", () => {
    const out = new RunOutput("s1")
    expect(out.observe(updated("s1", { id: "u1", role: "user", model: combined }))).toEqual({})
    expect(out.observe(step("a1", "anthropic", "claude-sonnet-4-5"))).toEqual({ banner: "> build · claude-sonnet-4-5 (anthropic)" })
    expect(out.observe(step("a1", "anthropic", "claude-sonnet-4-5"))).toEqual({})
    const status = { type: "session.status", properties: { sessionID: "s1", status: failover } }
    expect(out.observe(status)).toEqual({ notice: "↪ anthropic rate-limited, retry in 30 s → github-copilot" })
    expect(out.observe(status)).toEqual({})
    expect(out.observe(step("a2", "github-copilot", "claude-sonnet-4.5"))).toEqual({
      banner: "> build · claude-sonnet-4.5 (github-copilot)",
    })
    expect(out.observe(step("a3", "github-copilot", "claude-sonnet-4.5"))).toEqual({})
    expect(out.observe(status)).toEqual({ notice: "↪ anthropic rate-limited, retry in 30 s → github-copilot" })
  })

  test("a stock run prints the stock banner once, and ignores other sessions and stock retries", () => {
    const out = new RunOutput("s1")
    out.observe(updated("s1", { id: "u1", role: "user", model: stock }))
    expect(out.observe(step("a1", "anthropic", "claude-sonnet-4-5"))).toEqual({ banner: "> build · claude-sonnet-4-5" })
    expect(out.observe(step("a2", "github-copilot", "gpt-4.1"))).toEqual({})
    expect(out.observe(updated("s2", { id: "x", role: "assistant", agent: "build", parentID: "u1", providerID: "a", modelID: "b" }))).toEqual({})
    const retry = { type: "retry", attempt: 1, message: "Rate limit reached", next: 0 }
    expect(out.observe({ type: "session.status", properties: { sessionID: "s1", status: retry } })).toEqual({})
    expect(out.observe({ type: "session.status", properties: { sessionID: "s2", status: failover } })).toEqual({})
    expect(out.observe({ type: "server.connected" })).toEqual({})
  })

  test("without the user message the first banner is still the stock one", () => {
    const out = new RunOutput("s1")
    expect(out.observe(step("a1", "anthropic", "claude-sonnet-4-5", "u-unseen"))).toEqual({ banner: "> build · claude-sonnet-4-5" })
  })
})

test("the adapter entry exports the label functions", () => {
  expect(adapter.servedLabel).toBe(servedLabel)
  expect(adapter.messageLabel).toBe(messageLabel)
  expect(adapter.RunOutput).toBe(RunOutput)
  expect(adapter.isFailoverStatus).toBe(isFailoverStatus)
})
