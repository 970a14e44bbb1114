/**
 * Subagents (the task tool) inherit the parent's combined selection, not the member that served the parent, so a
 * failing member under the subagent fails over inside the child session and the parent's tool call completes. Needs
 * OPENCODE_SRC or OPENCODE_PREPARED (see harness.ts); without them every test here is skipped by name.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { faults, type RecordedRequest } from "../../packages/combined-models/src/simulator/index.ts"
import {
  assistantMessages,
  createEnv,
  e2e,
  isMainRequest,
  textOf,
  type Env,
  type ExportedPart,
  type ExportedSession,
  type RunResult,
  describeRun,
} from "./harness.ts"

const skip = !e2e.enabled
const TURN_MS = 90_000

/** Markers that tell the parent's requests from the subagent's: the child never sees the parent's message. */
const PARENT_MARK = "PARENT-ASK-7731"
const CHILD_MARK = "CHILD-TASK-4242"
const TASK_CALL_ID = "toolu_e2e_task_1"
const CHILD_ANSWER = "The subagent found it, served by copilot."
const PARENT_FINAL = "The parent wraps up with the subagent's finding."

const bodyHas = (request: RecordedRequest, text: string) => JSON.stringify(request.body ?? null).includes(text)
const isParent = (request: RecordedRequest) => isMainRequest(request) && bodyHas(request, PARENT_MARK)
const isChild = (request: RecordedRequest) => isMainRequest(request) && bodyHas(request, CHILD_MARK) && !bodyHas(request, PARENT_MARK)

describe("subagent (task tool) whose member fails", () => {
  let env: Env
  let result: RunResult
  let parentID: string
  let parent: ExportedSession
  let taskPart: ExportedPart | undefined

  beforeAll(async () => {
    if (skip) return
    env = await createEnv()
    // Parent: first step delegates to the general subagent; its next step (after the task result) wraps up. The same
    // wrap-up is scripted on copilot, where the parent goes if anthropic is cooling down by then.
    env.sim.script(
      "anthropic",
      [
        {
          text: "Delegating to a subagent.",
          toolCall: {
            name: "task",
            id: TASK_CALL_ID,
            input: { description: "Look up the answer", prompt: `${CHILD_MARK}: find the answer`, subagent_type: "general" },
          },
        },
        { text: PARENT_FINAL },
      ],
      { match: isParent },
    )
    env.sim.script("github-copilot", [{ text: PARENT_FINAL }], { match: isParent })
    // Subagent: anthropic rate-limits it for a minute, copilot answers.
    env.sim.script("anthropic", [{ fault: faults.rateLimit({ retryAfter: 60 }) }], { match: isChild })
    env.sim.script("github-copilot", [{ text: CHILD_ANSWER }], { match: isChild })

    result = await env.run(`${PARENT_MARK}: please delegate this lookup.`, { timeoutMs: 75_000 })
    parentID = await env.latestSession()
    parent = await env.exportSession(parentID)
    taskPart = parent.messages.flatMap((m) => m.parts).find((p) => p.type === "tool" && p.tool === "task")
  }, TURN_MS)
  afterAll(async () => {
    await env?.dispose()
  })

  test.skipIf(skip)("the parent's task call completes with the subagent's answer, never \"Task cancelled\"", () => {
    expect(result.code, describeRun(result)).toBe(0)
    expect(result.output).not.toMatch(/task cancelled/i)
    expect(JSON.stringify(parent)).not.toMatch(/task cancelled/i)

    expect(taskPart, JSON.stringify(parent.messages.map((m) => m.parts.map((p) => p.type)))).toBeDefined()
    expect(taskPart?.callID).toBe(TASK_CALL_ID)
    expect(taskPart?.state?.status).toBe("completed")
    expect(taskPart?.state?.error).toBeUndefined()
    expect(String(taskPart?.state?.output)).toContain(CHILD_ANSWER)
    // The subagent got the parent's selection, not the member (anthropic) that served the parent's step.
    const metadata = taskPart?.state as { metadata?: { model?: unknown; sessionId?: string } } | undefined
    expect(metadata?.metadata?.model).toEqual({ providerID: "combined", modelID: "claude-sonnet-4-5" })
  })

  test.skipIf(skip)("the parent's final text is there; anthropic, cooling down, is not asked again", () => {
    expect(result.stdout).toContain(PARENT_FINAL)
    const answers = assistantMessages(parent)
    expect(answers.every((m) => m.info.error === undefined)).toBe(true)
    const last = answers.at(-1)!
    expect(textOf(last)).toBe(PARENT_FINAL)
    expect(last.info.finish).toBe("stop")
    // The step that called the task was anthropic's; the wrap-up went to copilot (anthropic's Sonnet cools for 60 s).
    expect(answers[0]?.info).toMatchObject({ providerID: "anthropic", finish: "tool-calls" })
    expect(last.info.providerID).toBe("github-copilot")
    expect(env.sim.requests("anthropic").filter(isParent)).toHaveLength(1)
    expect(env.sim.requests("github-copilot").filter(isParent)).toHaveLength(1)
  })

  test.skipIf(skip)("the child session exists, belongs to the parent and is served by the next member", async () => {
    // Each member got exactly one of the subagent's requests: anthropic's failed, copilot's answered.
    expect(env.sim.requests("anthropic").filter(isChild)).toHaveLength(1)
    expect(env.sim.requests("github-copilot").filter(isChild)).toHaveLength(1)
    for (const id of ["amazon-bedrock", "openrouter"] as const) expect(env.sim.requests(id).filter(isMainRequest), id).toHaveLength(0)

    // `session list` shows root sessions only (roots: true at the pin): the parent, not the child.
    const roots = await env.sessions()
    expect(roots.map((s) => s.id)).toEqual([parentID])

    const childID = (taskPart?.state as { metadata?: { sessionId?: string } } | undefined)?.metadata?.sessionId
    expect(childID).toBeString()
    expect(String(taskPart?.state?.output)).toContain(`<task id="${childID}"`)
    const child = await env.exportSession(childID!)
    expect(child.info.parentID).toBe(parentID)
    expect(child.info.title).toContain("Look up the answer")
    const user = child.messages.find((m) => m.info.role === "user")
    expect(user?.info).toMatchObject({ agent: "general", model: { providerID: "combined", modelID: "claude-sonnet-4-5" } })
    expect(textOf(user!)).toContain(CHILD_MARK)
    const answers = assistantMessages(child)
    expect(answers.map((m) => `${m.info.providerID}/${m.info.modelID}`)).toEqual(["github-copilot/claude-sonnet-4.5"])
    expect(answers[0]?.info.error).toBeUndefined()
    expect(textOf(answers[0]!)).toBe(CHILD_ANSWER)
  })
})
