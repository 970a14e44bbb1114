import { describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Router } from "../src/router.ts"
import { appendSwitchRecord, readSwitchRecords, StatusBoard, switchesFile } from "../src/status.ts"
import { tuiShapeProblems } from "../src/shape.ts"
import { steerText } from "../src/steer.ts"
import { applyPickerMode, currentPickerMode, pickerFile, writePickerChoice } from "../src/picker.ts"
import { footerText, NOTICE_MS, parseCombinedArgs } from "../src/tui/text.ts"
import { describeRedisUrl, peekRotation, renderCombinedStatus, settleStateFiles, takeRotation } from "combined-models"

function scratch(): string {
  return mkdtempSync(join(tmpdir(), "cm-v2-visibility-"))
}

describe("round_robin's turn counter", () => {
  test("peeking does not move it; taking a turn moves it by one, also before the write lands; a corrupt file reads as 0", async () => {
    const dir = scratch()
    const file = join(dir, "rotation.json")
    expect(peekRotation(file, "claude-sonnet-4-5")).toBe(0)
    expect(peekRotation(file, "claude-sonnet-4-5")).toBe(0)
    expect(takeRotation(file, "claude-sonnet-4-5")).toBe(0)
    expect(peekRotation(file, "claude-sonnet-4-5")).toBe(1)
    expect(takeRotation(file, "claude-sonnet-4-5")).toBe(1)
    await settleStateFiles()
    expect(peekRotation(file, "claude-sonnet-4-5")).toBe(2)
    expect(peekRotation(file, "gpt-5")).toBe(0)
    writeFileSync(file, "{not json")
    expect(peekRotation(file, "claude-sonnet-4-5")).toBe(0)
    rmSync(dir, { recursive: true, force: true })
  })
})

describe("the status board", () => {
  const clock = () => 1_000_000
  const board = (stateDir: string) => {
    const router = new Router({ options: { provider_priority: ["anthropic", "openrouter"] }, stateDir, clock, reload: async () => {} })
    router.groups.set("claude-sonnet-4-5", {
      id: "claude-sonnet-4-5",
      name: "Claude Sonnet 4.5",
      members: [],
      providers: ["anthropic", "openrouter"],
      limit: { context: 200000, output: 64000 },
      capabilities: { reasoning: true, toolCall: true, attachment: true, temperature: true, input: ["text"], output: ["text"] },
      manual: false,
    } as never)
    return { router, board: new StatusBoard({ router, stateDir, clock }) }
  }

  test("the footer names the member that served the session's latest step, and the session's latest switch", async () => {
    const dir = scratch()
    const { router, board: status } = board(dir)
    expect(status.footer("ses_1")).toEqual({})
    router.switches.push({
      sessionID: "ses_1",
      groupID: "claude-sonnet-4-5",
      from: { providerID: "anthropic", modelID: "claude-sonnet-4-5" },
      to: { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" },
      error: { reason: "rate_limit", message: "slow down", retryAfterMs: 30_000 } as never,
      notice: "anthropic rate-limited, retry in 30 s → openrouter",
    })
    expect(status.takeSwitches()).toHaveLength(1)
    expect(status.takeSwitches()).toHaveLength(0)
    // What the board took is no longer held by the router: a long session's switches do not pile up there.
    expect(router.switches).toEqual([])
    status.recordServed("ses_1", "claude-sonnet-4-5", { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" })
    expect(status.footer("ses_1")).toEqual({ label: "Claude Sonnet 4.5 (openrouter)", notice: "anthropic rate-limited, retry in 30 s → openrouter", noticeAt: 1_000_000 })
    expect(status.footer("ses_2")).toEqual({})
    // Written for the views of other processes.
    await settleStateFiles()
    expect(readSwitchRecords(switchesFile(dir)).map((record) => record.notice)).toEqual(["anthropic rate-limited, retry in 30 s → openrouter"])
    expect(status.text()).toContain("combined/claude-sonnet-4-5  anthropic → openrouter  anthropic rate-limited, retry in 30 s → openrouter  (session ses_1)")
    rmSync(dir, { recursive: true, force: true })
  })

  test("a board that did not serve the session (OpenCode loaded the plugin again meanwhile) names the member from the steps file", async () => {
    const dir = scratch()
    board(dir).board.recordServed("ses_1", "claude-sonnet-4-5", { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" })
    await settleStateFiles()
    const { board: reloaded } = board(dir)
    expect(reloaded.footer("ses_1")).toEqual({ label: "Claude Sonnet 4.5 (openrouter)" })
    expect(reloaded.footer("ses_2")).toEqual({})
    rmSync(dir, { recursive: true, force: true })
  })

  test("each served step of a session is kept with the switches it took; the session's part of the view counts steps per provider", () => {
    const dir = scratch()
    const { router, board: status } = board(dir)
    expect(status.sessionText("ses_1")).toBe("This session (ses_1): no step on a combined model recorded yet\n")
    status.recordServed("ses_1", "claude-sonnet-4-5", { providerID: "anthropic", modelID: "claude-sonnet-4-5" })
    router.switches.push({
      sessionID: "ses_1",
      groupID: "claude-sonnet-4-5",
      from: { providerID: "anthropic", modelID: "claude-sonnet-4-5" },
      to: { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" },
      error: { reason: "overloaded", message: "overloaded" } as never,
      notice: "anthropic overloaded → openrouter",
    })
    status.takeSwitches()
    status.recordServed("ses_1", "claude-sonnet-4-5", { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" })
    status.recordServed("ses_1", "claude-sonnet-4-5", { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" })
    expect(status.sessionSteps("ses_1").map((step) => [step.member.providerID, step.switches])).toEqual([
      ["anthropic", []],
      ["openrouter", ["anthropic overloaded → openrouter"]],
      ["openrouter", []],
    ])
    expect(status.sessionText("ses_1")).toBe(
      [
        "This session (ses_1): 3 steps on combined models, the member that served each:",
        "  1. 00:16:40Z  combined/claude-sonnet-4-5  anthropic/claude-sonnet-4-5",
        "  2. 00:16:40Z  combined/claude-sonnet-4-5  openrouter/anthropic/claude-sonnet-4.5  after anthropic overloaded → openrouter",
        "  3. 00:16:40Z  combined/claude-sonnet-4-5  openrouter/anthropic/claude-sonnet-4.5",
        "  Steps per provider: anthropic 1, openrouter 2",
        "  Tokens and cost per member:",
        "    anthropic/claude-sonnet-4-5: 1 step, no token usage reported",
        "    openrouter/anthropic/claude-sonnet-4.5: 2 steps, no token usage reported",
        "",
      ].join("\n"),
    )
    expect(status.text(undefined, "ses_1").startsWith("This session (ses_1): 3 steps")).toBe(true)
    expect(status.sessionSteps("ses_2")).toEqual([])
    rmSync(dir, { recursive: true, force: true })
  })

  test("with health_store: { redis }, the view says where cooldowns are shared and whether Redis was read yet, as in the 1.x edition", () => {
    const dir = scratch()
    const url = "redis://127.0.0.1:1"
    const router = new Router({ options: { combined_models: { health_store: { redis: url } } }, stateDir: dir, clock, reload: async () => {} })
    try {
      const status = new StatusBoard({ router, stateDir: dir, clock }).status()
      expect(status.healthStore).toMatchObject({ kind: "redis", where: describeRedisUrl(url), synced: false })
      expect(renderCombinedStatus(status)).toContain("Health store: ")
    } finally {
      router.redis?.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test("the switches file keeps the newest fifty; one that is not ours reads as none", async () => {
    const dir = scratch()
    const file = switchesFile(dir)
    for (let at = 0; at < 60; at++)
      appendSwitchRecord(file, { at, sessionID: "s", groupID: "g", from: { providerID: "a", modelID: "m" }, to: { providerID: "b", modelID: "m" }, reason: "rate_limit", notice: `n${at}` })
    await settleStateFiles()
    const records = readSwitchRecords(file)
    expect(records).toHaveLength(50)
    expect(records[0]!.notice).toBe("n10")
    writeFileSync(file, JSON.stringify({ version: 2, switches: [] }))
    expect(readSwitchRecords(file)).toEqual([])
    rmSync(dir, { recursive: true, force: true })
  })
})

describe("the TUI's footer text and /combined arguments", () => {
  test("a notice shows for a minute after the switch, the label always", () => {
    const state = { label: "Claude Sonnet 4.5 (openrouter)", notice: "anthropic rate-limited, retry in 30 s → openrouter", noticeAt: 0 }
    expect(footerText(state, 1_000)).toBe("Claude Sonnet 4.5 (openrouter)  ·  anthropic rate-limited, retry in 30 s → openrouter")
    expect(footerText(state, NOTICE_MS)).toBe("Claude Sonnet 4.5 (openrouter)")
    expect(footerText(undefined, 0)).toBe("")
  })

  test("/combined alone is the status view; order, exclude and include steer; anything else says the usage", () => {
    expect(parseCombinedArgs("")).toEqual({ kind: "status" })
    expect(parseCombinedArgs("order combined/claude-sonnet-4-5 openrouter, anthropic")).toEqual({
      kind: "steer",
      input: { group: "combined/claude-sonnet-4-5", action: "priority", providers: ["openrouter", "anthropic"] },
    })
    expect(parseCombinedArgs("exclude claude-sonnet-4-5 anthropic")).toEqual({ kind: "steer", input: { group: "claude-sonnet-4-5", action: "exclude", providers: ["anthropic"] } })
    expect(parseCombinedArgs("exclude claude-sonnet-4-5").kind).toBe("usage")
    expect(parseCombinedArgs("reorder x y").kind).toBe("usage")
    expect(parseCombinedArgs("members")).toEqual({ kind: "picker", mode: "all" })
    expect(parseCombinedArgs("members hide")).toEqual({ kind: "picker", mode: "combined" })
  })
})

describe("steering writes the plugin's options, comments kept", () => {
  const pluginDir = "/home/u/.config/opencode/combined-models"
  const config = `{
  // my providers
  "providers": {},
  "plugins": [
    { "package": "${pluginDir}", "options": { "provider_priority": ["anthropic", "openrouter"] } } // ours
  ]
}
`
  test("an order, then an exclusion and its removal, land under plugins[i].options.combined_models.groups", () => {
    const ordered = steerText(config, pluginDir, { group: "combined/claude-sonnet-4-5", action: "priority", providers: ["openrouter", "anthropic"] })
    if (!ordered.ok) throw new Error(ordered.message)
    expect(ordered.text).toContain("// my providers")
    expect(ordered.text).toContain("// ours")
    const options = (text: string) => (JSON.parse(text.replace(/\/\/.*$/gm, "")) as { plugins: { options: Record<string, any> }[] }).plugins[0]!.options
    expect(options(ordered.text).combined_models.groups["claude-sonnet-4-5"].priority).toEqual(["openrouter", "anthropic"])
    expect(options(ordered.text).provider_priority).toEqual(["anthropic", "openrouter"])

    const excluded = steerText(ordered.text, pluginDir, { group: "claude-sonnet-4-5", action: "exclude", providers: ["anthropic"] })
    if (!excluded.ok) throw new Error(excluded.message)
    expect(options(excluded.text).combined_models.groups["claude-sonnet-4-5"].exclude).toEqual(["anthropic"])
    const included = steerText(excluded.text, pluginDir, { group: "claude-sonnet-4-5", action: "include", providers: ["anthropic"] })
    if (!included.ok) throw new Error(included.message)
    expect(options(included.text).combined_models.groups["claude-sonnet-4-5"].exclude).toBeUndefined()
  })

  test("no entry of ours, or a config that is not JSONC, changes nothing and says why", () => {
    expect(steerText(config, "/elsewhere", { group: "g", action: "priority", providers: ["a"] })).toEqual({
      ok: false,
      message: "no plugins entry for /elsewhere in the config; install the plugin with bun run v2:install",
    })
    expect(steerText("{ nope", pluginDir, { group: "g", action: "priority", providers: ["a"] }).ok).toBe(false)
  })
})

test("the switches file name sits beside the health file", () => {
  expect(switchesFile("/state")).toBe("/state/combined-models/switches-opencode2.json")
})

describe("one entry per model in the model list", () => {
  const catalog = () => {
    const models = new Map<string, Record<string, unknown>>([
      ["anthropic/claude-sonnet-4-5", { id: "claude-sonnet-4-5", providerID: "anthropic", status: "active" }],
      ["openrouter/anthropic/claude-sonnet-4.5", { id: "anthropic/claude-sonnet-4.5", providerID: "openrouter" }],
      ["openrouter/gpt-5", { id: "gpt-5", providerID: "openrouter" }],
      // The combined entry copies its serving member, status included.
      ["combined/claude-sonnet-4-5", { id: "claude-sonnet-4-5", providerID: "combined", status: "deprecated" }],
    ])
    const editor = {
      get: (providerID: string, modelID: string) => models.get(`${providerID}/${modelID}`),
      update: (providerID: string, modelID: string, edit: (model: Record<string, unknown>) => void) => {
        const model = models.get(`${providerID}/${modelID}`) ?? { id: modelID, providerID }
        edit(model)
        models.set(`${providerID}/${modelID}`, model)
      },
    }
    const group = {
      id: "claude-sonnet-4-5",
      members: [
        { providerID: "anthropic", modelID: "claude-sonnet-4-5" },
        { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" },
      ],
    }
    return { models, editor, groups: [group, { id: "no-entry", members: [] }] }
  }

  test('"combined": members are marked deprecated (the dialog skips those), the combined entry is not; nothing is created', () => {
    const { models, editor, groups } = catalog()
    expect(applyPickerMode(editor as never, groups as never, "combined")).toEqual(["anthropic/claude-sonnet-4-5", "openrouter/anthropic/claude-sonnet-4.5"])
    expect(models.get("anthropic/claude-sonnet-4-5")!.status).toBe("deprecated")
    expect(models.get("openrouter/anthropic/claude-sonnet-4.5")!.status).toBe("deprecated")
    expect(models.get("openrouter/gpt-5")!.status).toBeUndefined()
    expect(models.get("combined/claude-sonnet-4-5")!.status).toBeUndefined()
    expect(models.has("combined/no-entry")).toBe(false)
  })

  test('"all": every provider\'s entry stays listed; the TUI\'s choice wins over the option', () => {
    const { models, editor, groups } = catalog()
    expect(applyPickerMode(editor as never, groups as never, "all")).toEqual([])
    expect(models.get("anthropic/claude-sonnet-4-5")!.status).toBe("active")
    const dir = scratch()
    const file = pickerFile(dir)
    expect(currentPickerMode({}, file)).toBe("combined")
    expect(currentPickerMode({ combined_models: { picker: "all" } }, file)).toBe("all")
    writePickerChoice(file, "combined")
    expect(currentPickerMode({ combined_models: { picker: "all" } }, file)).toBe("combined")
    rmSync(dir, { recursive: true, force: true })
  })
})

describe("the TUI entry's start-up check", () => {
  test("a TUI context without what the entry uses is named field by field; the shape the entry relies on passes", () => {
    expect(tuiShapeProblems({ client: { rpc: () => ({}) }, keymap: {}, ui: { slot: () => {} } })).toEqual([
      "ctx.keymap.layer is missing, expected a function",
      "ctx.ui.dialog.alert is missing, expected a function",
      "ctx.ui.toast.show is missing, expected a function",
      "ctx.ui.router.current is missing, expected a function",
    ])
    const fn = () => {}
    expect(tuiShapeProblems({ client: { rpc: fn }, keymap: { layer: fn }, ui: { slot: fn, dialog: { alert: fn }, toast: { show: fn }, router: { current: fn } } })).toEqual([])
    expect(tuiShapeProblems(undefined)).toEqual(["the TUI plugin context is not an object"])
  })
})
