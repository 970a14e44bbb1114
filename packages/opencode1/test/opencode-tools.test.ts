/**
 * The AI SDK runs a tool as soon as it has parsed the call; OpenCode's processor reads the stream more slowly (it
 * writes every part to its database). When the stream then fails, the parts the processor had not read yet (the tool
 * call) are dropped, though the tool ran. Here through the real `streamText`, with a consumer as slow as the processor:
 * the step still continues from the tool's result instead of being replayed (which would run the tool again).
 */
import { afterEach, beforeEach, expect, test } from "bun:test"
import type { LanguageModelV3, LanguageModelV3StreamPart } from "@ai-sdk/provider"
import { jsonSchema, streamText, tool } from "ai"
import { Effect, Option } from "effect"
import { CombinedRuntime, resetRuntime, runtime } from "../src/runtime.ts"
import { failoverFor, resetSessions, routeStep, type SettleServices } from "../src/session.ts"
import { ocModel } from "./opencode-fixtures.ts"

const providers = {
  anthropic: { id: "anthropic", name: "Anthropic", models: { "claude-sonnet-4-5": ocModel("anthropic", "claude-sonnet-4-5") } },
  "github-copilot": { id: "github-copilot", name: "GitHub Copilot", models: { "claude-sonnet-4.5": ocModel("github-copilot", "claude-sonnet-4.5") } },
}
const user = { id: "u1", model: { providerID: "combined", modelID: "claude-sonnet-4-5" } }

beforeEach(() => {
  resetRuntime(new CombinedRuntime())
  resetSessions()
  runtime().configure({ config: { provider_priority: ["anthropic", "github-copilot"] }, providers })
})
afterEach(() => resetRuntime())

/** A provider stream: some text, a complete tool call, then the connection resets. */
function resettingModel(): LanguageModelV3 {
  return {
    specificationVersion: "v3",
    provider: "anthropic.messages",
    modelId: "claude-sonnet-4-5",
    supportedUrls: {},
    doGenerate: () => Promise.reject(new Error("not used")),
    doStream: async () => ({
      stream: new ReadableStream<LanguageModelV3StreamPart>({
        start(controller) {
          controller.enqueue({ type: "stream-start", warnings: [] })
          controller.enqueue({ type: "text-start", id: "t1" })
          for (const word of "I will run the command now and then read what it printed to the file.".split(" "))
            controller.enqueue({ type: "text-delta", id: "t1", delta: `${word} ` })
          controller.enqueue({ type: "text-end", id: "t1" })
          controller.enqueue({ type: "tool-call", toolCallId: "toolu_1", toolName: "bash", input: JSON.stringify({ command: "echo ran" }) })
          setTimeout(() => controller.error(Object.assign(new TypeError("terminated"), { code: "ECONNRESET" })), 0)
        },
      }),
    }),
  }
}

test("a tool the AI SDK ran but whose call the processor never read: the step continues with the tool's result", async () => {
  routeStep("s1", user)
  const failover = failoverFor("s1", { providerID: "anthropic", id: "claude-sonnet-4-5" })!
  let runs = 0
  const bash = tool({
    inputSchema: jsonSchema<{ command: string }>({ type: "object", properties: { command: { type: "string" } } }),
    execute: async () => {
      runs++
      return { title: "echo ran", metadata: {}, output: "ran\n" }
    },
  })
  const input = failover.watch({ tools: { bash } })
  const result = streamText({ model: resettingModel(), messages: [{ role: "user", content: "Run it." }], tools: input.tools, onError: () => {} })

  // As OpenCode's processor: each part is handled (written to the database) before the next is read.
  const read: string[] = []
  let failure: unknown
  try {
    for await (const part of result.fullStream) {
      if (part.type === "error") throw part.error
      read.push(part.type)
      failover.observe(part)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  } catch (error) {
    failure = error
  }
  expect(runs).toBe(1)
  // The reset dropped the tool call before the processor read it.
  expect(read).not.toContain("tool-call")
  expect(failover.claims(failure)).toBe(true)

  const calls: { op: string; value: unknown }[] = []
  const record = (op: string) => (value: unknown, info?: unknown) => Effect.sync(() => void calls.push({ op, value: info ?? value }))
  const message = { id: "m1", sessionID: "s1" }
  const settle: SettleServices = {
    session: {
      removeMessage: record("removeMessage"),
      updateMessage: record("updateMessage"),
      findMessage: () => Effect.succeed(Option.some({ info: message, parts: [] } as unknown)),
      updatePart: record("updatePart"),
    },
    status: { set: record("status") },
    message,
    partID: () => "prt_new",
  }
  await Effect.runPromise(failover.finish(settle))
  // Kept and completed with what the tool returned; the next member goes on from it rather than running it again.
  expect(calls.map((call) => call.op)).toEqual(["updateMessage", "updatePart", "status"])
  expect(calls[1]!.value).toMatchObject({ callID: "toolu_1", tool: "bash", state: { status: "completed", output: "ran\n", input: { command: "echo ran" } } })
  // A reset is retried once on the same member: as a continued step, not the step again.
  expect(routeStep("s1", user)).toMatchObject({ providerID: "anthropic", replay: false })
})
