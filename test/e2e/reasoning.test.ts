/**
 * Switching providers with reasoning in the history: a tool-using step on Anthropic with thinking on, cut after the
 * tool ran, continues on Copilot's Claude (the Anthropic wire), which checks thinking blocks as Anthropic does. And
 * down a `fallback_models` chain from Sonnet to Haiku at one provider (Anthropic, Bedrock), whose simulated wires bind
 * each thinking signature to the model that made it, as the real APIs do.
 * Needs OPENCODE_SRC or OPENCODE_PREPARED (see harness.ts); without them every test here is skipped by name.
 */
import { expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { faults } from "../../packages/combined-models/src/simulator/index.ts"
import type { RecordedRequest } from "../../packages/combined-models/src/simulator/index.ts"
import { createEnv, describeRun, e2e, isMainRequest, MODEL, mainRequests, scriptMain, type ProviderId } from "./harness.ts"

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

/** Sonnet, then Haiku at the same provider: the docs' own chain, with thinking on (`--variant high`). */
const CHAINS: { provider: ProviderId; sonnet: string; haiku: string; wire: { sonnet: string; haiku: string }; thinkingBlock: string }[] = [
  {
    provider: "anthropic",
    sonnet: "claude-sonnet-4-5",
    haiku: "claude-haiku-4-5",
    wire: { sonnet: "claude-sonnet-4-5", haiku: "claude-haiku-4-5" },
    thinkingBlock: '"type":"thinking"',
  },
  {
    provider: "amazon-bedrock",
    sonnet: "anthropic.claude-sonnet-4-5-20250929-v1:0",
    haiku: "anthropic.claude-haiku-4-5-20251001-v1:0",
    wire: { sonnet: "us.anthropic.claude-sonnet-4-5-20250929-v1:0", haiku: "us.anthropic.claude-haiku-4-5-20251001-v1:0" },
    thinkingBlock: '"reasoningContent"',
  },
]

for (const chain of CHAINS) {
  test.skipIf(skip)(
    `${chain.provider}: down the chain from Sonnet to Haiku with thinking on, Haiku gets none of Sonnet's signed thinking; this turn and the next go on`,
    async () => {
      await using env = await createEnv({ config: { agent: { "*": { fallback_models: [`${chain.provider}/${chain.haiku}`] } } } })
      const marker = join(env.project, "side-effect.txt")
      const mainTo = (model: string) => (request: RecordedRequest) => isMainRequest(request) && request.model === model
      env.sim.script(
        chain.provider,
        [
          {
            reasoning: THOUGHT,
            toolCall: { name: "bash", input: { command: `echo ran >> ${marker}`, description: "Append a line" }, id: "toolu_e2e_chain_1" },
          },
          // Sonnet is rate-limited for ten minutes after the tool ran: the step goes down the chain to Haiku.
          { fault: faults.rateLimit({ retryAfter: 600 }) },
        ],
        { match: mainTo(chain.wire.sonnet) },
      )
      env.sim.script(chain.provider, [{ text: "Haiku finished after the tool." }, { text: "Haiku again, next turn." }], {
        match: mainTo(chain.wire.haiku),
      })
      const model = `${chain.provider}/${chain.sonnet}`

      const first = await env.run("Run the command.", { model, timeoutMs: 90_000, extra: ["--variant", "high"] })
      expect(first.code, describeRun(first)).toBe(0)
      expect(first.stdout).toContain("Haiku finished after the tool.")
      expect(first.output).not.toContain("signature")
      expect(readFileSync(marker, "utf8")).toBe("ran\n")

      const requests = env.sim.requests(chain.provider).filter(isMainRequest)
      const [sonnet] = requests.filter(mainTo(chain.wire.sonnet))
      expect(JSON.stringify(sonnet?.body)).toMatch(/"thinking":\{"type":"enabled"|"reasoningConfig":\{"type":"enabled"/)
      const [haiku] = requests.filter(mainTo(chain.wire.haiku))
      const body = JSON.stringify(haiku?.body)
      // Haiku went on from the tool's result, without Sonnet's chain of thought as a block or as text.
      expect(body).toContain("toolu_e2e_chain_1")
      expect(body).not.toContain(THOUGHT)
      expect(body).not.toContain(chain.thinkingBlock)

      // The next turn, Sonnet still cooling, goes to Haiku with the same history: answered, not refused.
      const session = await env.latestSession()
      const second = await env.run("And again?", { model, session, timeoutMs: 90_000, extra: ["--variant", "high"] })
      expect(second.code, describeRun(second)).toBe(0)
      expect(second.stdout).toContain("Haiku again, next turn.")
      const [, next] = env.sim.requests(chain.provider).filter(mainTo(chain.wire.haiku))
      expect(JSON.stringify(next?.body)).not.toContain(THOUGHT)
    },
    240_000,
  )
}

test.skipIf(skip)(
  "a thinking block the member refuses although its ids say it is the same model is resent once without it: the turn goes on",
  async () => {
    await using env = await createEnv()
    // Anthropic as a provider stricter than the ids suggest: a signature verifies only for the exact id that made it.
    env.sim.bindSignatures("anthropic", "id")
    const toDated = (request: RecordedRequest) => isMainRequest(request) && request.model === "claude-sonnet-4-5-20250929"
    const toAlias = (request: RecordedRequest) => isMainRequest(request) && request.model === "claude-sonnet-4-5"
    env.sim.script("anthropic", [{ reasoning: THOUGHT, text: "Answered by the dated id." }], { match: toDated })
    env.sim.script("anthropic", [{ text: "Answered after the resend." }], { match: toAlias })

    // The first turn on the dated id itself (stock OpenCode), the next on the combined model, whose Anthropic member is
    // the alias: the history shares the dated id's thinking as the same model's, and this provider refuses it.
    const first = await env.run("Think first.", { model: "anthropic/claude-sonnet-4-5-20250929", timeoutMs: 90_000, extra: ["--variant", "high"] })
    expect(first.code, describeRun(first)).toBe(0)
    const session = await env.latestSession()
    const second = await env.run("And now?", { model: MODEL, session, timeoutMs: 90_000, extra: ["--variant", "high"] })
    expect(second.code, describeRun(second)).toBe(0)
    expect(second.stdout).toContain("Answered after the resend.")

    const [refused, resent, ...more] = env.sim.requests("anthropic").filter(toAlias)
    expect(more).toEqual([])
    expect(JSON.stringify(refused?.body)).toContain('"type":"thinking"')
    expect(JSON.stringify(resent?.body)).not.toContain('"type":"thinking"')
    // Resent on the same member: no other provider was asked.
    for (const other of ["github-copilot", "amazon-bedrock", "openrouter"] as const) expect(mainRequests(env.sim, other)).toEqual([])
  },
  240_000,
)
