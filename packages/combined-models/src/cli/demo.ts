/**
 * `combined-models demo`: the engine driving real AI SDK providers against the loopback simulator, through a
 * scripted run of failures, printed live. Needs nothing but this package: the catalog slice is embedded.
 */
import { tool, type ModelMessage } from "ai"
import { z } from "zod"
import { fromModelsDev } from "../catalog.ts"
import { resolveConfig } from "../config.ts"
import { describeEvent, describeHealth, EVENT_KEY, startRehearsal } from "../driver/rehearsal.ts"
import { buildGroups } from "../grouping.ts"
import { label } from "../label.ts"
import { faults, type SimStep } from "../simulator/index.ts"
import demoCatalog from "./demo-catalog.json" with { type: "json" }

export const DEMO_CONFIG = {
  provider_priority: ["anthropic", "github-copilot", "amazon-bedrock", "openrouter"],
  // Quick demo pacing: the retry after a short wait is shown, and nothing hangs for a minute.
  combined_models: { timeouts: { first_byte: "2s", stall: "1s" } },
}

interface DemoTurn {
  title: string
  prompt: string
  script: Record<string, SimStep[]>
}

export const DEMO_TURNS: DemoTurn[] = [
  {
    title: "anthropic is rate-limited for 30 s",
    prompt: "What does a combined model do?",
    script: {
      anthropic: [{ fault: faults.rateLimit({ retryAfter: 30 }) }],
      "github-copilot": [{ text: "It sends your request to the first healthy provider of the same model.", chunkDelayMs: 25 }],
    },
  },
  {
    title: "anthropic is skipped without a request; Copilot's stream is cut mid-answer, twice",
    prompt: "And when a stream breaks?",
    script: {
      "github-copilot": [
        { text: "The step is replayed on the", chunkDelayMs: 25, fault: faults.cut("after-text") },
        { text: "The step is", chunkDelayMs: 25, fault: faults.cut("after-text") },
      ],
      "amazon-bedrock": [{ text: "The step is replayed on the next provider; the broken half is thrown away.", chunkDelayMs: 25 }],
    },
  },
  {
    title:
      "a tool runs; the next step, Bedrock is overloaded (503 ServiceUnavailableException): that step is replayed on " +
      "the next provider and the turn goes on from the tool's result (the tool does not run again)",
    prompt: "Read the README and summarise it.",
    script: {
      "amazon-bedrock": [
        { toolCall: { name: "read_file", input: { path: "README.md" }, id: "toolu_demo_1" } },
        { fault: { kind: "http-error", status: 503, error: "overloaded", retryAfterSeconds: 60 } },
      ],
      openrouter: [{ text: "The README says: one model, many providers, no failed turns.", chunkDelayMs: 25 }],
    },
  },
]

export const USAGE = "usage: combined-models demo\n\nPlays a scripted run of provider failures through real AI SDK clients on loopback."

export async function run(args: string[]): Promise<number> {
  if (args.length > 0) {
    console.error(`combined-models demo: takes no arguments (got ${args.join(" ")})\n\n${USAGE}`)
    return 2
  }
  const resolved = resolveConfig(DEMO_CONFIG)
  if (!resolved.ok) throw new Error("the demo's own config is invalid")
  const { config } = resolved
  const { groups } = buildGroups(fromModelsDev(demoCatalog).providers, config)
  const group = groups.find((candidate) => candidate.id === "claude-sonnet-4-5")
  if (!group) throw new Error("the demo catalog did not produce the Claude Sonnet 4.5 group")

  const out = (text: string) => process.stdout.write(text)
  out(`Combined model: ${group.name}\n`)
  for (const member of group.members) out(`  ${member.providerID}/${member.modelID}\n`)
  out(`${EVENT_KEY}\n`)

  await using stage = await startRehearsal({ groups, config })
  const session = stage.session(group.id)
  let toolRuns = 0
  const tools = {
    read_file: tool({
      description: "Read a file",
      inputSchema: z.object({ path: z.string() }),
      execute: async ({ path }) => {
        toolRuns++
        return { path, content: "# opencode-combined-models\nOne model, many providers." }
      },
    }),
  }

  const messages: ModelMessage[] = []
  for (const [index, turn] of DEMO_TURNS.entries()) {
    for (const [providerID, steps] of Object.entries(turn.script)) stage.sim.script(providerID, steps)
    out(`\n▶ turn ${index + 1}: ${turn.title}\n  user: ${turn.prompt}`)
    messages.push({ role: "user", content: turn.prompt })
    const result = await session.runTurn({
      messages,
      tools,
      onEvent: (event) => {
        const line = describeEvent(event, group)
        if (line) out(line)
      },
    })
    messages.splice(0, messages.length, ...result.messages)
    out(`\n  ${result.status === "answered" ? "✓" : "✗"} ${label(group, result.servedBy)}\n`)
  }
  const requests = ["anthropic", "github-copilot", "amazon-bedrock", "openrouter"]
    .map((id) => `${id} ${stage.sim.requests(id).length}`)
    .join(", ")
  out(`\nRequests sent: ${requests}; read_file ran ${toolRuns} time${toolRuns === 1 ? "" : "s"}.\nProvider health now:\n`)
  out(`${describeHealth(stage.health, Date.now()).join("\n")}\n`)
  return 0
}
