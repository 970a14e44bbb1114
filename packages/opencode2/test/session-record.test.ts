import { describe, expect, test } from "bun:test"
import { METADATA_KEY, RECORDED_STEPS, recordedStep, sessionRecorder, withRecordedStep, type RecordedStep } from "../src/session-record.ts"

const step = (id: string, member = "openrouter/anthropic/claude-sonnet-4.5"): RecordedStep => ({ id, at: "2026-12-08T00:00:00.000Z", model: "combined/claude-sonnet-4-5", member, switches: [] })

describe("the session's record of who served it", () => {
  test("a step as the metadata keeps it: model, member, tokens and cost in plain JSON", () => {
    expect(
      recordedStep(
        { id: "s1", groupID: "claude-sonnet-4-5", member: { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" }, at: Date.UTC(2026, 11, 8), switches: ["anthropic rate-limited, retry in 30 s → openrouter"], usage: { input: 100, output: 7 }, cost: 0.000405 },
        "combined",
      ),
    ).toEqual({
      id: "s1",
      at: "2026-12-08T00:00:00.000Z",
      model: "combined/claude-sonnet-4-5",
      member: "openrouter/anthropic/claude-sonnet-4.5",
      switches: ["anthropic rate-limited, retry in 30 s → openrouter"],
      tokens: { input: 100, output: 7 },
      cost: 0.000405,
    })
  })

  test("steps are added to what the metadata holds, the rest of it kept; the same step twice is one; the newest are kept", () => {
    const first = withRecordedStep({ owner: "someone else's key" }, step("a"))
    expect(first).toEqual({ owner: "someone else's key", [METADATA_KEY]: { version: 1, steps: [step("a")] } })
    expect((withRecordedStep(first, step("a")) as any)[METADATA_KEY].steps).toHaveLength(1)
    let metadata: Record<string, unknown> | undefined = { [METADATA_KEY]: { steps: "not a list" } }
    for (let index = 0; index < RECORDED_STEPS + 5; index++) metadata = withRecordedStep(metadata, step(`s${index}`))
    const steps = (metadata as any)[METADATA_KEY].steps as RecordedStep[]
    expect(steps).toHaveLength(RECORDED_STEPS)
    expect(steps.at(-1)!.id).toBe(`s${RECORDED_STEPS + 4}`)
  })

  test("writes of one session go in order, each on what the last left; a failed write is said and the next goes on", async () => {
    let stored: Record<string, unknown> | undefined
    let fail = true
    const said: string[] = []
    const record = sessionRecorder(
      {
        get: async () => ({ metadata: stored }),
        update: async ({ metadata }) => {
          await Bun.sleep(5)
          if (fail) {
            fail = false
            throw new Error("database is locked")
          }
          stored = metadata
        },
      },
      (line) => said.push(line),
    )
    record("ses", step("a"))
    record("ses", step("b"))
    record("ses", step("c"))
    await Bun.sleep(100)
    expect(((stored as any)[METADATA_KEY].steps as RecordedStep[]).map((s) => s.id)).toEqual(["b", "c"])
    expect(said).toEqual(["combined-models: could not record the serving member in the session's metadata (database is locked)"])
  })

  test("an OpenCode without ctx.session.get/update records nothing and does not throw", () => {
    expect(() => sessionRecorder(undefined, () => {})("ses", step("a"))).not.toThrow()
    expect(() => sessionRecorder({ get: async () => undefined }, () => {})("ses", step("a"))).not.toThrow()
  })
})
