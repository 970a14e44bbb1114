/**
 * The rehearsal driver counts tools where the AI SDK runs them, as the OpenCode adapter does: a reset that drops a
 * call the SDK had already run still continues the step from the tool's result, and nothing runs twice.
 */
import { expect, test } from "bun:test"
import type { LanguageModelV3, LanguageModelV3CallOptions, LanguageModelV3StreamPart } from "@ai-sdk/provider"
import { jsonSchema, tool } from "ai"
import { CombinedSession } from "../src/driver/index.ts"
import { HealthRegistry } from "../src/health.ts"
import { config, sonnetGroup } from "./fixtures.ts"

function model(parts: (controller: ReadableStreamDefaultController<LanguageModelV3StreamPart>) => void, prompts: unknown[] = []): LanguageModelV3 {
  return {
    specificationVersion: "v3",
    provider: "test",
    modelId: "claude-sonnet-4-5",
    supportedUrls: {},
    doGenerate: () => Promise.reject(new Error("not used")),
    doStream: async (options: LanguageModelV3CallOptions) => {
      prompts.push(options.prompt)
      return { stream: new ReadableStream<LanguageModelV3StreamPart>({ start: parts }) }
    },
  }
}

test("a reset while the SDK is running a parsed call: the next member goes on with an interrupted result; the tool ran once", async () => {
  let runs = 0
  let release!: () => void
  const bash = tool({
    inputSchema: jsonSchema<{ command: string }>({ type: "object" }),
    // The stream fails while the command runs; it finishes after the failure, as a shell that ignores the abort.
    execute: () => {
      runs++
      return new Promise<string>((resolve) => (release = () => resolve("ran\n")))
    },
  })
  const copilotPrompts: unknown[] = []
  const anthropic = model((controller) => {
    controller.enqueue({ type: "stream-start", warnings: [] })
    controller.enqueue({ type: "tool-call", toolCallId: "toolu_1", toolName: "bash", input: JSON.stringify({ command: "echo ran" }) })
    setTimeout(() => {
      controller.error(Object.assign(new TypeError("terminated"), { code: "ECONNRESET" }))
      setTimeout(() => release(), 0)
    }, 5)
  })
  const copilot = model((controller) => {
    controller.enqueue({ type: "stream-start", warnings: [] })
    controller.enqueue({ type: "text-start", id: "t" })
    controller.enqueue({ type: "text-delta", id: "t", delta: "It ran." })
    controller.enqueue({ type: "text-end", id: "t" })
    controller.enqueue({ type: "finish", finishReason: { unified: "stop", raw: "end_turn" }, usage: { inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 1, text: 1, reasoning: 0 } } })
    controller.close()
  }, copilotPrompts)
  const cfg = config({ retriesBeforeFailover: 0 })
  const session = new CombinedSession({
    group: sonnetGroup(),
    config: cfg,
    health: new HealthRegistry({ cooldowns: cfg.cooldowns }),
    model: (member) => (member.providerID === "anthropic" ? anthropic : copilot),
    sleep: async () => {},
  })
  const result = await session.runTurn({ messages: [{ role: "user", content: "Run it." }], tools: { bash } })
  expect(result.status).toBe("answered")
  expect(result.steps.map((step) => [step.member.providerID, step.mode, step.outcome])).toEqual([
    ["anthropic", "fresh", "failed"],
    ["github-copilot", "continue", "finished"],
  ])
  expect(runs).toBe(1)
  // The next member's request holds the call and a result for it: cut off while running, it may have run.
  const prompt = JSON.stringify(copilotPrompts[0])
  expect(prompt).toContain("toolu_1")
  expect(prompt).toContain("It may have run; check before repeating it.")
})
