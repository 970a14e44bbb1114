/**
 * The read-ahead measurement: a scripted session against a provider with a token budget per minute, through the real
 * AI SDK clients on loopback, counting the 429s the budget refuses with read-ahead and without. `bun run bench`
 * prints it into docs/benchmarks.md; `read-ahead.test.ts` holds it to its target.
 */
import { jsonSchema, tool, type ToolSet } from "ai"
import { DEFAULTS, type ResolvedConfig } from "../packages/combined-models/src/config.ts"
import { startRehearsal } from "../packages/combined-models/src/driver/rehearsal.ts"
import type { Group } from "../packages/combined-models/src/types.ts"
import { member, sonnetGroup } from "../packages/combined-models/test/fixtures.ts"

export interface ReadAheadRun {
  turns: number
  /** 429s the budgeted provider sent. */
  refusals: number
  /** Turns each member served the last step of. */
  servedBy: Record<string, number>
  /** Turns that went elsewhere with a "near its limit" notice. */
  movedAhead: number
  /** Turns answered by the budgeted provider after one had moved away (it came back after its reset). */
  cameBack: number
}

/**
 * What an agent sends with every request, whatever the conversation, as OpenCode does (its system prompt and tool
 * definitions are 10k tokens and more): here about 2,000 tokens of system prompt and 700 of tool definitions.
 */
const AGENT_SYSTEM = "You are a coding agent working in the user's repository. Read before you edit, keep changes small. ".repeat(84)
const AGENT_TOOLS: ToolSet = Object.fromEntries(
  ["read", "edit", "write", "bash", "grep", "glob", "list", "todowrite"].map((name) => [
    name,
    tool({
      description: `The ${name} tool: what it does, when to use it and when not to, and how its output is shaped for the agent to read.`,
      inputSchema: jsonSchema<Record<string, string>>({
        type: "object",
        properties: { path: { type: "string", description: "Absolute path of the file or directory" }, content: { type: "string", description: "Text" } },
        required: ["path"],
      }),
    }),
  ]),
)

/**
 * Anthropic with `budget` tokens a minute, Copilot without a limit; a turn every `everyMs` of simulated time, each
 * adding to the conversation, so the budget runs out within the first minute and again in each later one. With
 * `newSessions`, each turn is the first of a new session instead (`opencode run` without `-c`): no conversation, but
 * the agent's system prompt and tool definitions in every request.
 */
export async function readAheadSession(options: {
  readAhead: boolean
  turns?: number
  budget?: number
  everyMs?: number
  newSessions?: boolean
}): Promise<ReadAheadRun> {
  const turns = options.turns ?? 24
  let now = 1_700_000_000_000
  const clock = () => now
  const group: Group = {
    ...sonnetGroup(),
    members: [member("anthropic", "claude-sonnet-4-5"), member("github-copilot", "claude-sonnet-4.5")],
    providers: ["anthropic", "github-copilot"],
  }
  const config: ResolvedConfig = { ...DEFAULTS, providerPriority: ["anthropic", "github-copilot"] }
  await using stage = await startRehearsal({ groups: [group], config, clock, sleep: async () => {}, readAhead: options.readAhead })
  stage.sim.budget("anthropic", { tokens: options.budget ?? 6_000, windowMs: 60_000, clock })
  let session = stage.session(group.id)
  const run: ReadAheadRun = { turns, refusals: 0, servedBy: {}, movedAhead: 0, cameBack: 0 }
  let messages: Parameters<typeof session.runTurn>[0]["messages"] = []
  let away = false
  for (let turn = 1; turn <= turns; turn++) {
    const ask = { role: "user" as const, content: `Turn ${turn}: ${"please go on with the refactor of the session loop ".repeat(6)}` }
    if (options.newSessions) session = stage.session(group.id)
    messages = options.newSessions ? [{ role: "system", content: AGENT_SYSTEM }, ask] : [...messages, ask]
    const result = await session.runTurn({ messages, ...(options.newSessions ? { tools: AGENT_TOOLS } : {}) })
    messages = result.messages
    const served = result.servedBy?.providerID ?? "none"
    run.servedBy[served] = (run.servedBy[served] ?? 0) + 1
    if (result.decisions.some((action) => action.type === "use" && action.notice?.includes("near its limit"))) {
      run.movedAhead++
      away = true
    }
    if (away && served === "anthropic") {
      run.cameBack++
      away = false
    }
    now += options.everyMs ?? 10_000
  }
  run.refusals = stage.sim.refusals("anthropic")
  return run
}
