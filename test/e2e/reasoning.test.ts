/**
 * Switching providers with reasoning in the history: a tool-using step on Anthropic with thinking on, cut after the
 * tool ran, continues on Copilot's Claude (the Anthropic wire), which checks thinking blocks as Anthropic does.
 * Needs OPENCODE_SRC or OPENCODE_PREPARED (see harness.ts); without them every test here is skipped by name.
 */
import { expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { faults } from "../../packages/combined-models/src/simulator/index.ts"
import { createEnv, describeRun, e2e, mainRequests, scriptMain } from "./harness.ts"

const skip = !e2e.enabled
const THOUGHT = "I should append one line with the shell."

test.skipIf(skip)(
  "the next member gets no other provider's reasoning, runs the rest of the tool loop with thinking off, and the tool ran once",
  async () => {
    await using env = await createEnv()
    const marker = join(env.project, "side-effect.txt")
    scriptMain(env.sim, "anthropic", [
      {
        reasoning: THOUGHT,
        toolCall: { name: "bash", input: { command: `echo ran >> ${marker}`, description: "Append a line" }, id: "toolu_e2e_think_1" },
        toolRunMs: 1_500,
        fault: { kind: "stream-error", at: "after-tool-call", error: "rate_limit" },
      },
      ...Array.from({ length: 4 }, () => ({ fault: faults.rateLimit({ retryAfter: 600 }) })),
    ])
    scriptMain(env.sim, "github-copilot", [{ text: "Done after the tool." }])

    const result = await env.run("Run the command.", { timeoutMs: 90_000, extra: ["--variant", "high"] })
    expect(result.code, describeRun(result)).toBe(0)
    expect(result.stdout).toContain("Done after the tool.")
    expect(readFileSync(marker, "utf8")).toBe("ran\n")

    // Thinking was on for the selected variant.
    const [first] = mainRequests(env.sim, "anthropic")
    expect((first?.body as { thinking?: { type?: string } }).thinking?.type).toBe("enabled")
    const [next] = mainRequests(env.sim, "github-copilot")
    const body = JSON.stringify(next?.body)
    // Copilot went on from the tool's result, without Anthropic's chain of thought as text or as a foreign block.
    expect(body).toContain("toolu_e2e_think_1")
    expect(body).not.toContain(THOUGHT)
    expect(body).not.toContain('"type":"thinking"')
    expect((next?.body as { thinking?: unknown }).thinking).toBeUndefined()
  },
  120_000,
)
