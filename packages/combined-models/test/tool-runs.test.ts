import { describe, expect, test } from "bun:test"
import { ToolRuns } from "../src/tool-runs.ts"

describe("ToolRuns: tool executions recorded where they start", () => {
  test("a watched tool reports its call the moment it starts, then its result", async () => {
    const started: string[] = []
    const runs = new ToolRuns({ onStart: (id) => started.push(id), clock: () => 5 })
    let release!: (value: unknown) => void
    const tools = runs.watch({ bash: { description: "shell", execute: (_input: unknown, _options: unknown) => new Promise((resolve) => (release = resolve)) } })
    const pending = tools.bash.execute({ command: "ls" }, { toolCallId: "call_1" })
    expect(started).toEqual(["call_1"])
    expect(runs.get("call_1")).toMatchObject({ status: "running", toolName: "bash", input: { command: "ls" } })
    release({ output: "a\nb\n" })
    await pending
    expect(runs.get("call_1")).toMatchObject({ status: "completed", output: { output: "a\nb\n" }, endedAt: 5 })
  })

  test("a tool that throws is recorded as failed and the error still reaches the caller", async () => {
    const runs = new ToolRuns()
    const tools = runs.watch({ edit: { execute: async () => Promise.reject(new Error("no such file")) } })
    await expect(tools.edit.execute()).rejects.toThrow("no such file")
    expect(runs.runs.map((run) => run.status)).toEqual(["failed"])
  })

  test("the same tool set is wrapped once (the stock retry streams again with the same input)", () => {
    const runs = new ToolRuns()
    const original = { read: { execute: () => "x" }, invalid: { description: "no execute" } }
    const once = runs.watch(original)
    expect(runs.watch(original)).toBe(once)
    expect(once.invalid).toBe(original.invalid)
    expect(runs.watch(undefined)).toBeUndefined()
  })

  test("settled waits for running calls, or gives up after the bound", async () => {
    const runs = new ToolRuns()
    const tools = runs.watch({ slow: { execute: (_input: unknown, _options: unknown) => new Promise(() => {}) }, quick: { execute: async (_input: unknown, _options: unknown) => "done" } })
    void tools.slow.execute({}, { toolCallId: "call_1" })
    await tools.quick.execute({}, { toolCallId: "call_2" })
    await runs.settled(10)
    expect(runs.runs.map((run) => run.status)).toEqual(["running", "completed"])
  })
})
