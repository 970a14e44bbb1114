/**
 * `opencode run` with `combined/claude-sonnet-4-5` against the loopback simulator: what the user sees printed, and what
 * the session records (`opencode export`), when providers fail. Needs OPENCODE_SRC or OPENCODE_PREPARED (see
 * harness.ts); without them every test here is skipped by name.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { faults, type RecordedRequest, type SimFault } from "../../packages/combined-models/src/simulator/index.ts"
import {
  assistantMessages,
  banners,
  createEnv,
  e2e,
  mainRequests,
  scriptMain,
  textOf,
  type Env,
  type RunResult,
  describeRun,
  lastAssistant,
  isMainRequest,
} from "./harness.ts"

const skip = !e2e.enabled
const TURN_MS = 90_000

/** A fault for every request a member gets this turn, so a same-member retry cannot rescue it. */
const always = (fault: SimFault, text?: string) => Array.from({ length: 4 }, () => ({ fault, ...(text ? { text } : {}) }))

describe("429 on the preferred member", () => {
  let env: Env
  let first: RunResult
  let sessionID: string

  beforeAll(async () => {
    if (skip) return
    env = await createEnv()
    // Long enough that no machine is slow enough for the cooldown to end between the two turns.
    scriptMain(env.sim, "anthropic", always(faults.rateLimit({ retryAfter: 600 })))
    scriptMain(env.sim, "github-copilot", [{ text: "Copilot took the turn." }, { text: "Copilot again, anthropic still cooling." }])
    first = await env.run("Say something.", { timeoutMs: 60_000 })
    sessionID = await env.latestSession()
  }, TURN_MS)
  afterAll(async () => {
    await env?.dispose()
  })

  test.skipIf(skip)("the answer comes from github-copilot, which the message records and the output names", async () => {
    expect(first.code, describeRun(first)).toBe(0)
    expect(first.stdout).toContain("Copilot took the turn.")

    expect(mainRequests(env.sim, "anthropic")).toHaveLength(1)
    expect(mainRequests(env.sim, "github-copilot")).toHaveLength(1)

    const session = await env.exportSession(sessionID)
    const user = session.messages.find((m) => m.info.role === "user")
    expect(user?.info.model).toMatchObject({ providerID: "combined", modelID: "claude-sonnet-4-5" })
    const answer = lastAssistant(session)
    expect(answer.info.providerID).toBe("github-copilot")
    expect(answer.info.error).toBeUndefined()
    expect(answer.info.finish).toBe("stop")
    expect(textOf(answer)).toBe("Copilot took the turn.")
    // The failed attempt left nothing behind: every assistant message of the session is copilot's.
    expect(assistantMessages(session).map((m) => m.info.providerID)).toEqual(["github-copilot"])
    expect(first.output).toContain("(github-copilot)")
    expect(banners(first.output).at(-1)).toMatch(/claude-sonnet-4[-.]5.*\(github-copilot\)/)
    // The failover notice names the failed provider.
    expect(first.output).toMatch(/↪.*anthropic/)
  })

  test.skipIf(skip)(
    "the next turn (run -s) skips the cooled-down member without sending it a request",
    async () => {
      const before = mainRequests(env.sim, "anthropic").length
      const second = await env.run("And again.", { session: sessionID, timeoutMs: 60_000 })
      expect(second.code, describeRun(second)).toBe(0)
      expect(second.stdout).toContain("Copilot again, anthropic still cooling.")
      expect(mainRequests(env.sim, "anthropic")).toHaveLength(before)
      expect(mainRequests(env.sim, "github-copilot")).toHaveLength(2)

      const session = await env.exportSession(sessionID)
      const answers = assistantMessages(session)
      expect(answers.map((m) => m.info.providerID)).toEqual(["github-copilot", "github-copilot"])
      expect(textOf(lastAssistant(session))).toBe("Copilot again, anthropic still cooling.")
      expect(second.output).toContain("(github-copilot)")
    },
    TURN_MS,
  )
})

test.skipIf(skip)(
  "a stream cut after some text replays the step on the next member: only its text, no leftover parts",
  async () => {
    await using env = await createEnv()
    const partial = "Anthropic began an answer that will never finish because the connection drops"
    scriptMain(env.sim, "anthropic", always(faults.cut("after-text"), partial))
    scriptMain(env.sim, "github-copilot", [{ text: "Copilot's complete answer." }])

    const result = await env.run("Explain it.", { timeoutMs: 60_000 })
    expect(result.code, describeRun(result)).toBe(0)
    expect(result.stdout).toContain("Copilot's complete answer.")
    expect(mainRequests(env.sim, "anthropic").length).toBeGreaterThanOrEqual(1)
    expect(mainRequests(env.sim, "github-copilot")).toHaveLength(1)

    const session = await env.exportSession(await env.latestSession())
    const answers = assistantMessages(session)
    expect(answers).toHaveLength(1)
    const answer = answers[0]!
    expect(answer.info.providerID).toBe("github-copilot")
    expect(answer.info.error).toBeUndefined()
    expect(textOf(answer)).toBe("Copilot's complete answer.")
    expect(JSON.stringify(session.messages)).not.toContain("Anthropic began")
    // No empty text parts and one step-start: the replay is a clean message, not the failed one patched up.
    expect(answer.parts.filter((p) => p.type === "text" && !(p.text ?? "").trim())).toHaveLength(0)
    expect(answer.parts.filter((p) => p.type === "step-start")).toHaveLength(1)
    expect(result.output).toContain("(github-copilot)")
  },
  TURN_MS,
)

test.skipIf(skip)(
  "a tool completes, then the step fails: the turn continues on the next member and the tool ran once",
  async () => {
    await using env = await createEnv()
    const file = join(env.project, "notes.txt")
    writeFileSync(file, "The secret word is pelican.\n")
    scriptMain(env.sim, "anthropic", [
      {
        text: "Let me read the notes.",
        toolCall: { name: "read", input: { filePath: file }, id: "toolu_e2e_read_1" },
        fault: { kind: "stream-error", at: "after-tool-call", error: "rate_limit" },
      },
      ...always(faults.rateLimit({ retryAfter: 30 })),
    ])
    scriptMain(env.sim, "github-copilot", [{ text: "The notes say the secret word is pelican." }])

    const result = await env.run("What do the notes say?", { timeoutMs: 60_000 })
    expect(result.code, describeRun(result)).toBe(0)
    expect(result.stdout).toContain("The notes say the secret word is pelican.")
    expect(mainRequests(env.sim, "anthropic")).toHaveLength(1)
    const copilot = mainRequests(env.sim, "github-copilot")
    expect(copilot).toHaveLength(1)
    // Copilot continued from the tool's result rather than running the step again.
    expect(JSON.stringify(copilot[0]?.body)).toContain("pelican")

    const session = await env.exportSession(await env.latestSession())
    const tools = session.messages.flatMap((m) => m.parts).filter((p) => p.type === "tool")
    expect(tools).toHaveLength(1)
    expect(tools[0]).toMatchObject({ tool: "read", state: { status: "completed" } })
    expect(JSON.stringify(tools[0]?.state?.output)).toContain("pelican")

    const answers = assistantMessages(session)
    expect(answers.map((m) => m.info.providerID)).toEqual(["anthropic", "github-copilot"])
    // The step whose tool ran is kept as a tool step, not an error.
    expect(answers[0]?.info.error).toBeUndefined()
    expect(answers[0]?.info.finish).toBe("tool-calls")
    expect(textOf(answers[1]!)).toBe("The notes say the secret word is pelican.")
    expect(result.output).toContain("(github-copilot)")
  },
  TURN_MS,
)

test.skipIf(skip)(
  "401 on one member: failover, a long cooldown, and a message to sign in again that `opencode combined` shows too",
  async () => {
    await using env = await createEnv()
    scriptMain(env.sim, "anthropic", always(faults.auth()))
    scriptMain(env.sim, "github-copilot", [{ text: "Copilot answers instead." }, { text: "Still copilot." }])

    const result = await env.run("Hello.", { timeoutMs: 60_000 })
    expect(result.code, describeRun(result)).toBe(0)
    expect(result.stdout).toContain("Copilot answers instead.")
    // An auth failure is not retried on the same member.
    expect(mainRequests(env.sim, "anthropic")).toHaveLength(1)

    const sessionID = await env.latestSession()
    const session = await env.exportSession(sessionID)
    expect(assistantMessages(session).map((m) => m.info.providerID)).toEqual(["github-copilot"])

    // Long cooldown: a new turn, later, still does not ask anthropic.
    const again = await env.run("Again.", { session: sessionID, timeoutMs: 60_000 })
    expect(again.code, describeRun(again)).toBe(0)
    expect(again.stdout).toContain("Still copilot.")
    expect(mainRequests(env.sim, "anthropic")).toHaveLength(1)

    // What the user is told: the switch, and that anthropic needs signing in again.
    expect(result.output).toContain("(github-copilot)")
    expect(result.output).toMatch(/↪.*anthropic.*(sign(ed)? in|auth login|re-?authenticat|credentials)/i)
    const status = await env.opencode(["combined"], { timeoutMs: 30_000 })
    expect(status.code, describeRun(status)).toBe(0)
    const anthropicLines = status.output.split("\n").filter((line) => /anthropic/.test(line))
    expect(anthropicLines.join("\n")).toMatch(/sign(ed)? in|auth login|re-?authenticat/i)
  },
  TURN_MS * 2,
)

test.skipIf(skip)(
  "every member failing ends with one clear error naming each member's reason, in bounded time",
  async () => {
    await using env = await createEnv()
    scriptMain(env.sim, "anthropic", always(faults.rateLimit({ retryAfter: 30 })))
    scriptMain(env.sim, "github-copilot", always(faults.serverError()))
    // Bedrock's own overload: a serviceUnavailableException frame, as its first event.
    scriptMain(env.sim, "amazon-bedrock", always(faults.streamErrorFirst("overloaded")))
    scriptMain(env.sim, "openrouter", always(faults.auth()))

    const result = await env.run("Anyone there?", { timeoutMs: 60_000 })
    expect(result.timedOut).toBe(false)
    expect(result.elapsedMs).toBeLessThan(20_000)
    expect(result.code, describeRun(result)).toBe(1)
    expect(result.output).toMatch(/anthropic[^\n]*rate-limited/)
    expect(result.output).toMatch(/github-copilot[^\n]*server error/)
    expect(result.output).toMatch(/amazon-bedrock[^\n]*server error/)
    expect(result.output).toMatch(/openrouter[^\n]*credentials/)
    for (const id of ["anthropic", "github-copilot", "amazon-bedrock", "openrouter"] as const)
      expect(mainRequests(env.sim, id).length, id).toBeGreaterThanOrEqual(1)

    const session = await env.exportSession(await env.latestSession())
    const last = lastAssistant(session)
    expect(last.info.error).toBeDefined()
    const message = JSON.stringify(last.info.error)
    for (const id of ["anthropic", "github-copilot", "amazon-bedrock", "openrouter"]) expect(message).toContain(id)
  },
  TURN_MS,
)

test.skipIf(skip)(
  "context overflow (400 prompt too long) is not a failover: stock compaction on the same member",
  async () => {
    await using env = await createEnv()
    scriptMain(env.sim, "anthropic", [{ fault: faults.contextLength() }])

    const result = await env.run("A very long conversation.", { timeoutMs: 60_000 })
    expect(result.timedOut).toBe(false)
    for (const id of ["github-copilot", "amazon-bedrock", "openrouter"] as const) expect(env.sim.requests(id), id).toHaveLength(0)
    expect(result.output).not.toContain("↪")

    const session = await env.exportSession(await env.latestSession())
    // Compaction ran: a compaction part on a user message and a summary assistant message, all on anthropic.
    const parts = session.messages.flatMap((m) => m.parts)
    expect(parts.some((p) => p.type === "compaction")).toBe(true)
    expect(assistantMessages(session).some((m) => m.info.summary === true)).toBe(true)
    expect(new Set(assistantMessages(session).map((m) => m.info.providerID))).toEqual(new Set(["anthropic"]))
    // The summary request went to anthropic after the overflow (it carries no tools, so it is not a main request).
    const overflowAt = mainRequests(env.sim, "anthropic")[0]?.time ?? Infinity
    expect(env.sim.requests("anthropic").filter((r) => r.time >= overflowAt).length).toBeGreaterThanOrEqual(2)
  },
  TURN_MS,
)

test.skipIf(skip)(
  "a compaction whose request is rate-limited is redone on the next member: one summary, from github-copilot",
  async () => {
    await using env = await createEnv()
    // The compaction request carries no tools (like the title call) but asks the Sonnet member itself.
    const sonnet = new Set(["claude-sonnet-4-5", "claude-sonnet-4.5"])
    const compactionRequest = (request: RecordedRequest) => !isMainRequest(request) && sonnet.has(request.model ?? "")
    // The main request overflows (stock compaction follows); the compaction's own request is then rate-limited.
    scriptMain(env.sim, "anthropic", [{ fault: faults.contextLength() }])
    env.sim.script("anthropic", [{ fault: faults.rateLimit({ retryAfter: 600 }) }], { match: compactionRequest })
    env.sim.script("github-copilot", [{ text: "Summary: the user asked for something long." }], { match: compactionRequest })
    scriptMain(env.sim, "github-copilot", [{ text: "Copilot goes on after the compaction." }])

    const result = await env.run("A very long conversation.", { timeoutMs: 60_000 })
    expect(result.timedOut, describeRun(result)).toBe(false)
    expect(result.output).toContain("anthropic rate-limited")

    const session = await env.exportSession(await env.latestSession())
    const summaries = assistantMessages(session).filter((m) => m.info.summary === true)
    // The failed attempt's summary is gone; the one that stands is github-copilot's, whole.
    expect(summaries.map((m) => m.info.providerID)).toEqual(["github-copilot"])
    expect(textOf(summaries[0]!)).toBe("Summary: the user asked for something long.")
    expect(env.sim.requests("anthropic").filter(compactionRequest)).toHaveLength(1)
    expect(env.sim.requests("github-copilot").filter(compactionRequest)).toHaveLength(1)
    expect(textOf(lastAssistant(session))).toBe("Copilot goes on after the compaction.")
  },
  TURN_MS,
)

test.skipIf(skip)(
  "a replayed step does not count against the agent's steps: a failover does not bring the max-steps prompt early",
  async () => {
    await using env = await createEnv({ config: { agent: { build: { steps: 3 } } } })
    const file = join(env.project, "notes.txt")
    writeFileSync(file, "The secret word is heron.\n")
    scriptMain(env.sim, "anthropic", always(faults.rateLimit({ retryAfter: 600 })))
    scriptMain(env.sim, "github-copilot", [
      { toolCall: { name: "read", input: { filePath: file }, id: "toolu_e2e_steps_1" } },
      { text: "The notes say heron." },
    ])

    const result = await env.run("What do the notes say?", { timeoutMs: 60_000 })
    expect(result.code, describeRun(result)).toBe(0)
    expect(result.stdout).toContain("The notes say heron.")
    const copilot = mainRequests(env.sim, "github-copilot")
    expect(copilot).toHaveLength(2)
    // Two steps of three: the 429'd attempt was the first step done again, so the last request is no "last step".
    expect(JSON.stringify(copilot[1]?.body)).not.toContain("MAXIMUM STEPS REACHED")
  },
  TURN_MS,
)

test.skipIf(skip)(
  "a failure left to the stock retry, then a tool call and result, then a 429: the step continues and the tool ran once",
  async () => {
    // Server errors are not failed over here: OpenCode's own retry streams the step again on anthropic.
    await using env = await createEnv({ config: { combined_models: { failover_on: ["rate_limit"] } } })
    const marker = join(env.project, "side-effect.txt")
    scriptMain(env.sim, "anthropic", [
      { fault: faults.serverError() },
      {
        toolCall: { name: "bash", input: { command: `echo ran >> ${marker}`, description: "Append a line" }, id: "toolu_e2e_bash_1" },
        // The 429 lands after the shell has run and its result is recorded.
        toolRunMs: 2_000,
        fault: { kind: "stream-error", at: "after-tool-call", error: "rate_limit" },
      },
      ...always(faults.rateLimit({ retryAfter: 600 })),
    ])
    scriptMain(env.sim, "github-copilot", [{ text: "The command ran once." }])

    const result = await env.run("Run the command.", { timeoutMs: 90_000 })
    expect(result.code, describeRun(result)).toBe(0)
    expect(result.stdout).toContain("The command ran once.")
    expect(readFileSync(marker, "utf8")).toBe("ran\n")
    const copilot = mainRequests(env.sim, "github-copilot")
    expect(copilot).toHaveLength(1)
    // Copilot went on from the tool's result (continue), not from the step again (replay).
    expect(JSON.stringify(copilot[0]?.body)).toContain("toolu_e2e_bash_1")
  },
  TURN_MS,
)
