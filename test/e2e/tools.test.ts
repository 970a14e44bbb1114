/**
 * No tool runs twice, end to end on the patched binary: a tool runs, the step fails in a way that is left to OpenCode's
 * own retry, and that retry's stream is refused (429). The next provider must go on from the tool's result, and the
 * tool (a bash command appending a line to a file) must have run once. The simulated model of the next provider calls
 * the tool again unless its request carries the first call's result, as a real model would.
 * Needs OPENCODE_SRC or OPENCODE_PREPARED (see harness.ts); without them every test here is skipped by name.
 */
import { expect, test } from "bun:test"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { faults, type RecordedRequest, type SimFault, type SimStep } from "../../packages/combined-models/src/simulator/index.ts"
import { assistantMessages, createEnv, describeRun, e2e, isMainRequest, mainRequests, PRIORITY, scriptMain, type Env, type ProviderId } from "./harness.ts"

const skip = !e2e.enabled
// The first test of a run also waits for the binary to be built (a minute or more).
const TURN_MS = 240_000

const always = (fault: SimFault) => Array.from({ length: 4 }, () => ({ fault }))

/** The bash call that appends a line to `marker`, and the step that makes it, then fails with `fault`. */
function toolThenFault(marker: string, id: string, fault: SimFault): SimStep {
  return {
    text: "Running the command.",
    toolCall: { name: "bash", input: { command: `echo ran >> ${marker}`, description: "Append a line" }, id },
    // The fault lands after the shell has run and its result is recorded.
    toolRunMs: 2_000,
    fault,
  }
}

/**
 * The next provider as a model would answer: with the first call's result in its request it says so; without it (the
 * step was replayed) it runs the command again.
 */
function nextProviderAnswers(env: Env, id: ProviderId, marker: string, firstCall: string) {
  const sees = (request: RecordedRequest) => JSON.stringify(request.body).includes(firstCall)
  env.sim.script(id, [{ text: "The command ran once." }], { match: (request) => isMainRequest(request) && sees(request) })
  env.sim.script(
    id,
    [{ toolCall: { name: "bash", input: { command: `echo ran >> ${marker}`, description: "Append a line" }, id: "toolu_e2e_again" } }],
    { match: (request) => isMainRequest(request) && !sees(request) },
  )
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "")

test.skipIf(skip)(
  "a tool ran, anthropic's overloaded error went to the stock retry, which got a 429: copilot continues from the tool's result, the tool ran once",
  async () => {
    // Overload is not failed over here: OpenCode's own retry streams the step again on anthropic.
    await using env = await createEnv({ config: { combined_models: { failover_on: ["rate_limit"] } } })
    const marker = join(env.project, "side-effect.txt")
    scriptMain(env.sim, "anthropic", [
      toolThenFault(marker, "toolu_e2e_bash_1", { kind: "stream-error", at: "after-tool-call", error: "overloaded" }),
      ...always(faults.rateLimit({ retryAfter: 600 })),
    ])
    nextProviderAnswers(env, "github-copilot", marker, "toolu_e2e_bash_1")

    const result = await env.run("Run the command.", { timeoutMs: 100_000 })
    expect(result.code, describeRun(result)).toBe(0)
    expect(lines(marker)).toBe("ran\n")
    expect(mainRequests(env.sim, "anthropic")).toHaveLength(2)
    const copilot = mainRequests(env.sim, "github-copilot")
    expect(copilot).toHaveLength(1)
    // Copilot got the tool's real result.
    expect(JSON.stringify(copilot[0]?.body)).toContain("toolu_e2e_bash_1")
    expect(result.stdout).toContain("The command ran once.")

    const session = await env.exportSession(await env.latestSession())
    const answers = assistantMessages(session)
    expect(answers.map((m) => m.info.providerID)).toEqual(["anthropic", "github-copilot"])
    expect(answers[0]?.info.finish).toBe("tool-calls")
    expect(answers[0]?.info.error).toBeUndefined()
    const tools = session.messages.flatMap((m) => m.parts).filter((p) => p.type === "tool")
    expect(tools.map((p) => [p.callID, p.state?.status])).toEqual([["toolu_e2e_bash_1", "completed"]])
  },
  TURN_MS,
)

test.skipIf(skip)(
  "a tool ran, anthropic's overloaded error went to the stock retry, which answers: the retry goes on from the tool's result, the tool ran once",
  async () => {
    await using env = await createEnv({ config: { combined_models: { failover_on: ["rate_limit"] } } })
    const marker = join(env.project, "side-effect.txt")
    scriptMain(env.sim, "anthropic", [toolThenFault(marker, "toolu_e2e_bash_1", { kind: "stream-error", at: "after-tool-call", error: "overloaded" })])
    // Anthropic's next answer, as a model gives it: it runs the command again unless it sees the first call's result.
    nextProviderAnswers(env, "anthropic", marker, "toolu_e2e_bash_1")

    const result = await env.run("Run the command.", { timeoutMs: 100_000 })
    expect(result.code, describeRun(result)).toBe(0)
    expect(lines(marker)).toBe("ran\n")
    const anthropic = mainRequests(env.sim, "anthropic")
    expect(anthropic).toHaveLength(2)
    expect(JSON.stringify(anthropic[1]?.body)).toContain("toolu_e2e_bash_1")
    expect(mainRequests(env.sim, "github-copilot")).toHaveLength(0)
    expect(result.stdout).toContain("The command ran once.")
    const session = await env.exportSession(await env.latestSession())
    const answers = assistantMessages(session)
    expect(answers.map((m) => [m.info.providerID, m.info.finish])).toEqual([
      ["anthropic", "tool-calls"],
      ["anthropic", "stop"],
    ])
  },
  TURN_MS,
)

test.skipIf(skip)(
  "Bedrock: a tool ran, the socket was cut (left to the stock retry), the retry was throttled: anthropic continues from the tool's result, the tool ran once",
  async () => {
    await using env = await createEnv({
      config: {
        provider_priority: ["amazon-bedrock", ...PRIORITY.filter((id) => id !== "amazon-bedrock")],
        // A dropped connection is not failed over here: OpenCode's own retry streams the step again on Bedrock.
        combined_models: { failover_on: ["rate_limit"] },
      },
    })
    const marker = join(env.project, "side-effect.txt")
    scriptMain(env.sim, "amazon-bedrock", [
      toolThenFault(marker, "tooluse_e2e_bash_1", { kind: "cut", at: "after-tool-call" }),
      ...always(faults.rateLimit({ retryAfter: 600 })),
    ])
    nextProviderAnswers(env, "anthropic", marker, "tooluse_e2e_bash_1")

    const result = await env.run("Run the command.", { timeoutMs: 100_000 })
    expect(result.code, describeRun(result)).toBe(0)
    expect(lines(marker)).toBe("ran\n")
    expect(mainRequests(env.sim, "amazon-bedrock")).toHaveLength(2)
    const anthropic = mainRequests(env.sim, "anthropic")
    expect(anthropic).toHaveLength(1)
    expect(JSON.stringify(anthropic[0]?.body)).toContain("tooluse_e2e_bash_1")
    expect(result.stdout).toContain("The command ran once.")

    const session = await env.exportSession(await env.latestSession())
    expect(assistantMessages(session).map((m) => m.info.providerID)).toEqual(["amazon-bedrock", "anthropic"])
  },
  TURN_MS,
)

test.skipIf(skip)(
  "a tool call parsed and run, then the stream resets before the finish: the next provider gets its result, the tool ran once",
  async () => {
    await using env = await createEnv()
    const marker = join(env.project, "side-effect.txt")
    scriptMain(env.sim, "anthropic", [
      toolThenFault(marker, "toolu_e2e_bash_1", { kind: "cut", at: "after-tool-call" }),
      ...always(faults.rateLimit({ retryAfter: 600 })),
    ])
    nextProviderAnswers(env, "github-copilot", marker, "toolu_e2e_bash_1")

    const result = await env.run("Run the command.", { timeoutMs: 100_000 })
    expect(result.code, describeRun(result)).toBe(0)
    expect(lines(marker)).toBe("ran\n")
    const copilot = mainRequests(env.sim, "github-copilot")
    expect(copilot).toHaveLength(1)
    const body = JSON.stringify(copilot[0]?.body)
    expect(body).toContain("toolu_e2e_bash_1")
    expect(body).not.toContain("toolu_e2e_again")
    expect(result.stdout).toContain("The command ran once.")
  },
  TURN_MS,
)

test.skipIf(skip)(
  "a command still running when the stream fails: the next provider is told it was interrupted and may have run, and does not run it again",
  async () => {
    await using env = await createEnv()
    const marker = join(env.project, "side-effect.txt")
    scriptMain(env.sim, "anthropic", [
      {
        text: "Running the slow command.",
        toolCall: { name: "bash", input: { command: `sleep 5 && echo ran >> ${marker}`, description: "Append a line later" }, id: "toolu_e2e_slow_1" },
        // The stream fails while the command sleeps.
        toolRunMs: 300,
        fault: { kind: "stream-error", at: "after-tool-call", error: "rate_limit" },
      },
      ...always(faults.rateLimit({ retryAfter: 600 })),
    ])
    nextProviderAnswers(env, "github-copilot", marker, "toolu_e2e_slow_1")

    const result = await env.run("Run the command.", { timeoutMs: 100_000 })
    expect(result.code, describeRun(result)).toBe(0)
    const copilot = mainRequests(env.sim, "github-copilot")
    expect(copilot).toHaveLength(1)
    const body = JSON.stringify(copilot[0]?.body)
    expect(body).toContain("toolu_e2e_slow_1")
    expect(body).toContain("It may have run; check before repeating it.")
    expect(result.stdout).toContain("The command ran once.")
    // The abort stopped the command before it wrote; nobody ran it again.
    expect(lines(marker)).toBe("")
  },
  TURN_MS,
)
