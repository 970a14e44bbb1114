import { afterEach, beforeEach, describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  combinedSessionDetail,
  fallbackDepth,
  membersOf,
  renderSessionDetail,
  sessionDetail,
  sessionDetailFromState,
  type SessionMessageLike,
} from "../src/command.ts"
import { addCombinedProvider } from "../src/provider.ts"
import { CombinedRuntime, resetRuntime, runtime, type OpenCodeProvider, type SwitchRecord } from "../src/runtime.ts"
import { appendSwitch, readSwitches, switchesPath } from "../../combined-models/src/switch-store.ts"
import { settleStateFiles } from "../../combined-models/src/state-file.ts"
import { FailoverToasts, recoveredMember } from "../src/toast.ts"
import { ocModel } from "./opencode-fixtures.ts"

const NOW = Date.UTC(2026, 6, 2, 12, 0, 0)
const SONNET = "claude-sonnet-4-5"

function model(providerID: string, id: string, name = "Claude Sonnet 4.5") {
  return ocModel(providerID, id, { name })
}

function providers(): Record<string, OpenCodeProvider> {
  return {
    anthropic: { id: "anthropic", name: "Anthropic", models: { [SONNET]: model("anthropic", SONNET) } },
    "github-copilot": { id: "github-copilot", name: "GitHub Copilot", models: { "claude-sonnet-4.5": model("github-copilot", "claude-sonnet-4.5") } },
    openrouter: { id: "openrouter", name: "OpenRouter", models: { "openai/gpt-5": model("openrouter", "openai/gpt-5", "GPT-5") } },
  }
}

let stateDir: string
beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), "combined-view-"))
  resetRuntime(new CombinedRuntime({ clock: () => NOW }))
})
afterEach(() => rmSync(stateDir, { recursive: true, force: true }))

const CONFIG = { provider_priority: ["anthropic", "github-copilot"], agent: { "*": { fallback_models: ["openrouter/openai/gpt-5"] } } }

/** What the TUI gets from `GET /config/providers`: the providers, combined included, as JSON. */
function loaded(config: unknown = CONFIG) {
  const list = providers()
  addCombinedProvider({ providers: list, config, stateDir })
  return list
}

const user = (id: string, at: number, modelID = SONNET, providerID = "combined"): SessionMessageLike => ({
  id,
  role: "user",
  agent: "build",
  model: { providerID, modelID },
  time: { created: at },
})

const assistant = (id: string, parentID: string, providerID: string, modelID: string, extra: Partial<SessionMessageLike> = {}): SessionMessageLike => ({
  id,
  role: "assistant",
  parentID,
  providerID,
  modelID,
  cost: 0.01,
  tokens: { input: 100, output: 20, reasoning: 5, cache: { read: 50, write: 10 } },
  time: { created: NOW, completed: NOW + 1_000 },
  ...extra,
})

function aSwitch(at: number, overrides: Partial<SwitchRecord> = {}): SwitchRecord {
  return {
    at,
    sessionID: "ses_1",
    groupID: SONNET,
    from: { providerID: "anthropic", modelID: SONNET },
    to: { providerID: "github-copilot", modelID: "claude-sonnet-4.5" },
    reason: "rate_limit",
    notice: "anthropic rate-limited, retry in 60 s → github-copilot",
    depth: 0,
    ...overrides,
  }
}

/** A turn that walked the whole chain: anthropic and copilot rate-limited, GPT-5 at OpenRouter answered. */
const CHAIN_RUN: SessionMessageLike[] = [
  user("msg_01", NOW),
  assistant("msg_02", "msg_01", "openrouter", "openai/gpt-5", { cost: 0.02, tokens: { input: 1000, output: 200, reasoning: 64, cache: { read: 0, write: 0 } } }),
  user("msg_03", NOW + 5_000),
  assistant("msg_04", "msg_03", "anthropic", SONNET),
  assistant("msg_05", "msg_03", "anthropic", SONNET),
]
const CHAIN_SWITCHES = [
  aSwitch(NOW + 100),
  aSwitch(NOW + 200, {
    from: { providerID: "github-copilot", modelID: "claude-sonnet-4.5" },
    to: { providerID: "openrouter", modelID: "openai/gpt-5" },
    notice: "github-copilot rate-limited, retry in 60 s → openrouter",
    depth: 1,
  }),
  aSwitch(NOW + 300, { sessionID: "ses_other" }),
]

describe("membersOf and fallbackDepth: what the TUI can tell from the provider list", () => {
  test("a combined model's members come from the virtual model's options, in priority order, through JSON", () => {
    const list = Object.values(JSON.parse(JSON.stringify(loaded())))
    expect(membersOf(list as never, { providerID: "combined", modelID: SONNET })).toEqual([
      { providerID: "anthropic", modelID: SONNET },
      { providerID: "github-copilot", modelID: "claude-sonnet-4.5" },
    ])
    expect(membersOf(list as never, { providerID: "anthropic", modelID: SONNET })).toEqual([{ providerID: "anthropic", modelID: SONNET }])
    expect(membersOf([], { providerID: "combined", modelID: SONNET })).toEqual([])
  })

  test("0 for a member of the selection, n for the n-th fallback, null for neither", () => {
    const list = Object.values(loaded())
    const selection = { providerID: "combined", modelID: SONNET }
    const chain = ["openrouter/openai/gpt-5"]
    expect(fallbackDepth({ served: { providerID: "github-copilot", modelID: "claude-sonnet-4.5" }, selection, chain, providers: list })).toBe(0)
    expect(fallbackDepth({ served: { providerID: "openrouter", modelID: "openai/gpt-5" }, selection, chain, providers: list })).toBe(1)
    expect(fallbackDepth({ served: { providerID: "openrouter", modelID: "x" }, selection, chain, providers: list })).toBeNull()
    // A concrete selection on a chain of combined models.
    expect(
      fallbackDepth({ served: { providerID: "github-copilot", modelID: "claude-sonnet-4.5" }, selection: { providerID: "openrouter", modelID: "openai/gpt-5" }, chain: [`combined/${SONNET}`], providers: list }),
    ).toBe(1)
  })
})

describe("sessionDetail: the per-session view as data", () => {
  test("selection, depth reached, this session's switches and usage per serving model", () => {
    const list = Object.values(loaded())
    const detail = sessionDetail({ session: { id: "ses_1", title: "Chain" }, messages: CHAIN_RUN, providers: list, switches: CHAIN_SWITCHES, chain: ["openrouter/openai/gpt-5"], now: NOW })
    expect(detail.selection).toEqual({ providerID: "combined", modelID: SONNET, name: "Claude Sonnet 4.5", combined: true })
    expect(detail.members.map((member) => member.providerID)).toEqual(["anthropic", "github-copilot"])
    expect(detail.chain).toEqual(["openrouter/openai/gpt-5"])
    expect(detail.depth).toBe(1)
    expect(detail.servedBy).toEqual({ providerID: "anthropic", modelID: SONNET, depth: 0 })
    expect(detail.switches.map((record) => [record.to.providerID, record.depth])).toEqual([
      ["github-copilot", 0],
      ["openrouter", 1],
    ])
    expect(detail.usage).toEqual([
      { providerID: "openrouter", modelID: "openai/gpt-5", name: "GPT-5", depth: 1, steps: 1, input: 1000, output: 200, reasoning: 64, cacheRead: 0, cacheWrite: 0, cost: 0.02 },
      { providerID: "anthropic", modelID: SONNET, name: "Claude Sonnet 4.5", depth: 0, steps: 2, input: 200, output: 40, reasoning: 10, cacheRead: 100, cacheWrite: 20, cost: 0.02 },
    ])
    expect(detail.total).toMatchObject({ steps: 3, input: 1200, output: 240, reasoning: 74, cacheRead: 100, cacheWrite: 20 })
    expect(detail.total.cost).toBeCloseTo(0.04)
  })

  test("the depth comes from the messages even when no switch was recorded, and from the records alone", () => {
    const list = Object.values(loaded())
    expect(sessionDetail({ session: { id: "ses_1" }, messages: CHAIN_RUN.slice(0, 2), providers: list, chain: ["openrouter/openai/gpt-5"] }).depth).toBe(1)
    expect(sessionDetail({ session: { id: "ses_1" }, messages: [user("msg_01", NOW)], providers: list, switches: [aSwitch(NOW, { depth: 2 })] }).depth).toBe(2)
    const empty = sessionDetail({ session: { id: "ses_9" }, messages: [] })
    expect(empty).toMatchObject({ depth: 0, switches: [], usage: [], members: [], chain: [] })
  })

  test("the text: header lines, each switch with time, route, reason and notice, the usage table", () => {
    const list = Object.values(loaded())
    const text = renderSessionDetail(sessionDetail({ session: { id: "ses_1", title: "Chain" }, messages: CHAIN_RUN, providers: list, switches: CHAIN_SWITCHES, chain: ["openrouter/openai/gpt-5"], now: NOW }))
    expect(text).toBe(
      [
        "Session ses_1  Chain",
        "Selected: combined/claude-sonnet-4-5  Claude Sonnet 4.5",
        "Members, in priority order:",
        "  1. anthropic/claude-sonnet-4-5",
        "  2. github-copilot/claude-sonnet-4.5",
        "Fallback chain: openrouter/openai/gpt-5",
        "Served last: anthropic/claude-sonnet-4-5 (the selected model, member 1 of 2)",
        "Fallback depth reached: 1 of 1",
        "",
        "Switches (2, oldest first):",
        "  2026-07-02 12:00:00Z  anthropic/claude-sonnet-4-5 → github-copilot/claude-sonnet-4.5  rate_limit",
        "    anthropic rate-limited, retry in 60 s → github-copilot",
        "  2026-07-02 12:00:00Z  github-copilot/claude-sonnet-4.5 → openrouter/openai/gpt-5  rate_limit  [depth 1]",
        "    github-copilot rate-limited, retry in 60 s → openrouter",
        "",
        "Usage per serving model:",
        "  model                        depth  steps  input  output  reasoning  cache read  cache write   cost",
        "  openrouter/openai/gpt-5          1      1   1000     200         64           0            0  $0.02",
        "  anthropic/claude-sonnet-4-5      0      2    200      40         10         100           20  $0.02",
        "  total                                   3   1200     240         74         100           20  $0.04",
        "",
      ].join("\n"),
    )
    const none = renderSessionDetail(sessionDetail({ session: { id: "ses_2" }, messages: [] }))
    expect(none).toBe("Session ses_2\nSelected: no message yet\nFallback depth reached: 0 (never left the selected model)\n\nSwitches: none in this session\n\nUsage: no assistant message yet\n")
  })

  test("the command's view: switches on file from any process, the chain from the loaded config", async () => {
    const list = loaded()
    for (const record of CHAIN_SWITCHES) appendSwitch(switchesPath(stateDir), record, 50)
    await settleStateFiles()
    resetRuntime(new CombinedRuntime())
    const fresh = loaded()
    const detail = combinedSessionDetail({ providers: fresh, session: { id: "ses_1" }, messages: CHAIN_RUN, now: NOW })
    expect(detail.chain).toEqual(["openrouter/openai/gpt-5"])
    expect(detail.switches).toHaveLength(2)
    expect(detail.depth).toBe(1)
    expect(list.combined).toBeDefined()
    expect(runtime().latestSwitches()).toHaveLength(3)
  })

  test("the TUI's view: the same, from the state dir and the config the server sent, without server memory", async () => {
    loaded()
    for (const record of CHAIN_SWITCHES) appendSwitch(switchesPath(stateDir), record, 50)
    await settleStateFiles()
    const list = JSON.parse(JSON.stringify(Object.values(providers()).concat(loaded().combined!)))
    resetRuntime(new CombinedRuntime())
    const detail = sessionDetailFromState({ stateDir, config: CONFIG, providers: list, session: { id: "ses_1" }, messages: CHAIN_RUN, now: NOW })
    expect(detail.chain).toEqual(["openrouter/openai/gpt-5"])
    expect(detail.switches.map((record) => record.notice)).toEqual([CHAIN_SWITCHES[0]!.notice, CHAIN_SWITCHES[1]!.notice])
    expect(detail.depth).toBe(1)
    expect(sessionDetailFromState({ stateDir: join(stateDir, "nope"), session: { id: "ses_1" }, messages: [] }).switches).toEqual([])
  })

  test("members with their health now: the TUI reads the health file the server writes", async () => {
    loaded()
    runtime().health.report({ providerID: "anthropic", modelID: SONNET }, { reason: "rate_limit", message: "Too many requests", statusCode: 429, retryAfterMs: 30_000 })
    runtime().health.flush()
    await settleStateFiles()
    const list = JSON.parse(JSON.stringify(Object.values(loaded())))
    resetRuntime(new CombinedRuntime())
    const detail = sessionDetailFromState({ stateDir, config: CONFIG, providers: list, session: { id: "ses_1" }, messages: CHAIN_RUN, now: Date.now() })
    expect(detail.members.map((member) => [member.providerID, member.health?.state])).toEqual([
      ["anthropic", "cooling"],
      ["github-copilot", "healthy"],
    ])
    const lines = renderSessionDetail(detail).split("\n")
    expect(lines.find((line) => line.includes("1. anthropic/"))).toMatch(/^  1\. anthropic\/claude-sonnet-4-5\s+cooling down \(anthropic rate-limited\), \d+ s left$/)
    expect(lines.find((line) => line.includes("2. github-copilot/"))).toMatch(/healthy$/)
  })

  test("a switch's depth survives the file; a bad depth is dropped, not the record", async () => {
    const path = switchesPath(stateDir)
    appendSwitch(path, aSwitch(NOW, { depth: 1 }), 50)
    appendSwitch(path, aSwitch(NOW + 1, { depth: -1 }), 50)
    await settleStateFiles()
    expect(readSwitches(path).map((record) => record.depth)).toEqual([1, undefined])
  })
})

describe("FailoverToasts: a toast on each switch and on recovery", () => {
  const failover = (attempt: number, notice: string) => ({
    type: "retry",
    attempt,
    message: notice,
    next: NOW,
    action: { reason: "failover", provider: "github-copilot", message: notice, title: "", label: "switching" },
  })

  test("each new failover notice once; other statuses none", () => {
    const toasts = new FailoverToasts()
    const notice = "anthropic rate-limited, retry in 60 s → github-copilot"
    expect(toasts.status("ses_1", failover(1, notice))).toEqual({ variant: "warning", title: "Switching provider", message: notice, duration: 6000 })
    expect(toasts.status("ses_1", failover(1, notice))).toBeUndefined()
    expect(toasts.status("ses_1", { type: "busy" })).toBeUndefined()
    expect(toasts.status("ses_1", failover(2, "github-copilot rate-limited → openrouter"))?.message).toBe("github-copilot rate-limited → openrouter")
    expect(toasts.status("ses_1", { type: "retry", message: "Rate limited", action: { reason: "rate_limit" } } as never)).toBeUndefined()
    // A later turn may switch with the same words again.
    toasts.status("ses_1", { type: "idle" })
    expect(toasts.status("ses_1", failover(1, notice))).toBeDefined()
  })

  test("the preferred member serving again after another one did: `anthropic is back`", () => {
    const list = Object.values(JSON.parse(JSON.stringify(loaded())))
    const toasts = new FailoverToasts()
    const messages = [user("msg_01", NOW), assistant("msg_02", "msg_01", "github-copilot", "claude-sonnet-4.5"), user("msg_03", NOW + 1)]
    const streaming = assistant("msg_04", "msg_03", "anthropic", SONNET, { time: { created: NOW } })
    expect(toasts.message(streaming, messages, list as never)).toBeUndefined()
    const done = assistant("msg_04", "msg_03", "anthropic", SONNET)
    expect(toasts.message(done, [...messages, streaming], list as never)).toEqual({
      variant: "success",
      message: "anthropic is back: Claude Sonnet 4.5 (anthropic)",
      duration: 5000,
    })
    expect(toasts.message(done, [...messages, done], list as never)).toBeUndefined()
    // The next step on the same member says nothing.
    expect(toasts.message(assistant("msg_05", "msg_03", "anthropic", SONNET), [...messages, done], list as never)).toBeUndefined()
  })

  test("no recovery without a switch before, after a failed attempt, or for a member that is not the first", () => {
    const list = Object.values(loaded())
    const first = [user("msg_01", NOW), assistant("msg_02", "msg_01", "anthropic", SONNET)]
    expect(recoveredMember({ message: first[1]!, messages: first, providers: list })).toBeUndefined()
    const afterFail = [user("msg_01", NOW), assistant("msg_02", "msg_01", "github-copilot", "claude-sonnet-4.5", { error: { name: "APIError" } }), assistant("msg_03", "msg_01", "anthropic", SONNET)]
    expect(recoveredMember({ message: afterFail[2]!, messages: afterFail, providers: list })).toBeUndefined()
    const toSecond = [user("msg_01", NOW), assistant("msg_02", "msg_01", "anthropic", SONNET), assistant("msg_03", "msg_01", "github-copilot", "claude-sonnet-4.5")]
    expect(recoveredMember({ message: toSecond[2]!, messages: toSecond, providers: list })).toBeUndefined()
  })

  test("down a fallback chain and back: the selected model itself is the one that recovers", () => {
    const list = Object.values(loaded())
    const messages = [
      user("msg_01", NOW, SONNET, "anthropic"),
      assistant("msg_02", "msg_01", "openrouter", "openai/gpt-5"),
      user("msg_03", NOW + 1, SONNET, "anthropic"),
      assistant("msg_04", "msg_03", "anthropic", SONNET),
    ]
    expect(new FailoverToasts().message(messages[3]!, messages, list)?.message).toBe("anthropic is back: Claude Sonnet 4.5 (anthropic)")
  })
})

describe("FailoverToasts for a session the TUI is not on yet", () => {
  const failover = {
    type: "retry",
    attempt: 0,
    message: "anthropic rate-limited, retry in 30 s → github-copilot",
    action: { reason: "failover", provider: "github-copilot", title: "Switching provider", message: "anthropic rate-limited, retry in 30 s → github-copilot", label: "github-copilot" },
    next: 0,
  }

  test("a switch before the TUI navigates to the new session is shown once it does, if still fresh", () => {
    const toasts = new FailoverToasts()
    const toast = toasts.status("ses_new", failover)!
    expect(toast.title).toBe("Switching provider")
    toasts.hold("ses_new", toast, 1_000)
    expect(toasts.release("ses_other", 1_050)).toBeUndefined()
    expect(toasts.release("ses_new", 1_050)).toEqual(toast)
    // Released once.
    expect(toasts.release("ses_new", 1_060)).toBeUndefined()
    toasts.hold("ses_late", toast, 1_000)
    expect(toasts.release("ses_late", 1_000 + 60_000)).toBeUndefined()
  })
})
