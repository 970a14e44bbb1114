import { describe, expect, test } from "bun:test"
import { toCatalogModel } from "../src/catalog.ts"
import { setup } from "../src/index.ts"
import { eventProblems, shapeProblems } from "../src/shape.ts"
import { editConfig } from "../scripts/install.ts"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { settleStateFiles } from "combined-models"
import type { ModelEditor, V2Model } from "../src/api.ts"
import { memoryEditor } from "./editor.ts"

describe("start-up shape check", () => {
  test("a context without the hooks relied on is named, and setup throws (OpenCode logs it and goes on)", () => {
    const ctx = { app: { version: "9.0.0" }, session: {}, provider: { transform() {}, reload() {} }, model: { transform() {} } }
    expect(shapeProblems(ctx)).toEqual(["ctx.session.hook is missing, expected a function", "ctx.model.reload is missing, expected a function"])
    expect(() => setup(ctx as never)).toThrow("OpenCode 9.0.0 differs from what this plugin was tested with (ctx.session.hook is missing")
  })

  test("a reshaped model editor is named before the connections' models are added to it, not met as a TypeError", async () => {
    const modelTransforms: ((editor: unknown) => void)[] = []
    const ctx = {
      app: { version: "9.0.0" },
      options: { provider_priority: ["anthropic"] },
      session: { hook() {} },
      provider: { transform() {}, reload: async () => {} },
      model: { transform: (fn: (editor: unknown) => void) => void modelTransforms.push(fn), reload: async () => {} },
      // Two stored keys of anthropic: the one not active becomes a member provider of its own.
      integration: {
        list: async () => [{ id: "anthropic", connections: [{ type: "credential", id: "c1", label: "work" }, { type: "credential", id: "c2" }] }],
        connection: { active: async () => ({ type: "credential", id: "c2" }), resolve: async () => ({ type: "key", key: "sk-work" }) },
      },
    }
    const previous = process.env.XDG_STATE_HOME
    const stateHome = mkdtempSync(join(tmpdir(), "cm-v2-plugin-"))
    process.env.XDG_STATE_HOME = stateHome
    try {
      await setup(ctx as never)
      // A release whose model editor has no `provider.get`.
      const reshaped = { list: () => [], get: () => undefined, update() {} }
      expect(() => modelTransforms.forEach((fn) => fn(reshaped))).toThrow("OpenCode's model editor differs from what this plugin was tested with (model editor .provider.get is not a function)")
    } finally {
      if (previous === undefined) delete process.env.XDG_STATE_HOME
      else process.env.XDG_STATE_HOME = previous
      rmSync(stateHome, { recursive: true, force: true })
    }
  })

  test("bad options name the field; nothing is registered", () => {
    const registered: string[] = []
    const ctx = {
      app: { version: "2.2.5" },
      options: { provider_priority: "anthropic" },
      session: { hook: (name: string) => registered.push(name) },
      provider: { transform: () => registered.push("provider"), reload: async () => {} },
      model: { transform: () => registered.push("model"), reload: async () => {} },
    }
    expect(() => setup(ctx as never)).toThrow("provider_priority: expected a list of provider ids")
    expect(registered).toEqual([])
  })
})

describe("OpenCode 2 models in the engine's shape", () => {
  const model: V2Model = {
    id: "claude-sonnet-4-5",
    providerID: "anthropic",
    name: "Claude Sonnet 4.5",
    family: "claude-sonnet",
    capabilities: { tools: true, input: ["text", "image", "pdf"], output: ["text"], temperature: true },
    variants: [{ id: "high", settings: { effort: "high" } }],
    time: { released: Date.UTC(2025, 8, 29) },
    cost: [{ input: 3, output: 15, cache: { read: 0.3, write: 3.75 } }],
    status: "active",
    limit: { context: 200000, output: 64000 },
  }
  test("limits, capabilities, release date and price", () => {
    expect(toCatalogModel(model)).toEqual({
      providerID: "anthropic",
      modelID: "claude-sonnet-4-5",
      name: "Claude Sonnet 4.5",
      family: "claude-sonnet",
      releaseDate: "2025-09-29",
      limit: { context: 200000, output: 64000 },
      cost: { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
      status: "active",
      capabilities: { reasoning: true, toolCall: true, attachment: true, temperature: true, input: ["text", "image", "pdf"], output: ["text"] },
    })
  })
  test("an entry without limits is left out, not thrown on", () => {
    expect(toCatalogModel({ ...model, limit: undefined as never })).toBeUndefined()
  })
})

describe("install edits the global config", () => {
  const dir = "/home/u/.config/opencode/combined-models"
  test("adds the entry, keeps comments and other plugins", () => {
    const text = '{\n  // mine\n  "plugins": ["other-plugin"]\n}\n'
    const edited = editConfig(text, dir, { options: { provider_priority: ["anthropic"] } })
    expect(edited).toContain("// mine")
    expect(edited).toContain('"other-plugin"')
    expect(edited).toContain(`"package": "${dir}"`)
  })
  test("installing again keeps the options; uninstall removes only our entry", () => {
    const first = editConfig("", dir, { options: { provider_priority: ["anthropic", "openrouter"], combined_models: { min_providers: 2 } } })
    const again = editConfig(first, dir, {})
    expect(JSON.parse(again).plugins).toEqual([{ package: dir, options: { provider_priority: ["anthropic", "openrouter"], combined_models: { min_providers: 2 } } }])
    const removed = editConfig('{ "plugins": ["x", ' + JSON.stringify({ package: dir, options: {} }) + "] }", dir, { remove: true })
    expect(JSON.parse(removed).plugins).toEqual(["x"])
  })
  test("a config file that is not JSON is refused, not overwritten", () => {
    expect(() => editConfig("{ nope", dir, {})).toThrow("not a JSON object")
  })
})

describe("each hook's first event is checked", () => {
  const request = new Request("http://127.0.0.1/v1/messages")
  test("events as 2.2.5 sends them pass", () => {
    expect(eventProblems("model.request", { sessionID: "s", model: { providerID: "combined", id: "m" }, kind: "primary", headers: {} })).toEqual([])
    expect(eventProblems("http.response", { sessionID: "s", model: { providerID: "combined", id: "m" }, request, response: new Response("") })).toEqual([])
    expect(eventProblems("retry", { sessionID: "s", model: { providerID: "combined", id: "m" }, attempt: 2, error: { type: "provider.rate-limit", message: "" }, decision: { retry: true, delay: 5000 } })).toEqual([])
  })
  test("a reshaped event is named", () => {
    expect(eventProblems("retry", { sessionID: "s", model: { providerID: "combined", id: "m" }, error: { type: "x" }, decision: true })).toEqual(["the retry event has no decision { retry }"])
    expect(eventProblems("http.request", { session: "s", model: "combined/m" })).toEqual([
      "the http.request event has no sessionID",
      "the http.request event has no model { providerID, id }",
      "the http.request event has no request (a Request)",
    ])
  })
})

describe("the hooks together", () => {
  const sonnet = (providerID: string, id: string): V2Model => ({
    id,
    providerID,
    name: "Claude Sonnet 4.5",
    family: "claude-sonnet",
    capabilities: { tools: true, input: ["text"], output: ["text"], temperature: true },
    time: { released: Date.UTC(2025, 8, 29) },
    limit: { context: 200000, output: 64000 },
  })

  /** The plugin set up on a context over plain maps, as OpenCode 2 hands it: its hooks, transforms and RPC handlers. */
  async function plugin(stateHome: string) {
    const editor = memoryEditor({
      anthropic: {
        info: { id: "anthropic", name: "Anthropic", activation: "enabled", package: "@opencode/ai/providers/anthropic", settings: { baseURL: "http://a/v1", apiKey: "ka" } },
        models: [sonnet("anthropic", "claude-sonnet-4-5")],
      },
      openrouter: {
        info: { id: "openrouter", name: "OpenRouter", activation: "enabled", package: "@opencode/ai/providers/openrouter", settings: { baseURL: "http://o/v1", apiKey: "ko" } },
        models: [sonnet("openrouter", "anthropic/claude-sonnet-4.5")],
      },
    })
    const hooks = new Map<string, (event: unknown) => Promise<void>>()
    const modelTransforms: ((editor: ModelEditor) => void)[] = []
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {}
    const ctx = {
      app: { version: "2.2.5" },
      options: { provider_priority: ["anthropic", "openrouter"] },
      session: { hook: (name: string, fn: (event: unknown) => Promise<void>) => void hooks.set(name, fn) },
      provider: { transform: (fn: (editor: unknown) => void) => fn({ add() {} }), reload: async () => {} },
      model: { transform: (fn: (editor: ModelEditor) => void) => void modelTransforms.push(fn), reload: async () => modelTransforms.forEach((fn) => fn(editor)) },
      rpc: {
        register: async (_definition: unknown, registered: typeof handlers) => {
          Object.assign(handlers, registered)
          return { dispose() {}, events: { emit: async () => {} } }
        },
      },
    }
    const previous = process.env.XDG_STATE_HOME
    process.env.XDG_STATE_HOME = stateHome
    try {
      await setup(ctx as never)
    } finally {
      if (previous === undefined) delete process.env.XDG_STATE_HOME
      else process.env.XDG_STATE_HOME = previous
    }
    await ctx.model.reload()
    return { hook: (name: string, event: unknown) => hooks.get(name)!(event), handlers }
  }

  const model = { providerID: "combined", id: "claude-sonnet-4-5" }
  const sse = (...events: object[]) => events.map((event) => `event: ${(event as { type: string }).type}\ndata: ${JSON.stringify(event)}\n\n`).join("")

  test("the footer names the member that served a session's step, though another session's failure moved the model on meanwhile", async () => {
    const stateHome = mkdtempSync(join(tmpdir(), "cm-v2-plugin-"))
    try {
      const { hook, handlers } = await plugin(stateHome)
      // Session A's step goes to Anthropic and streams; session B's step (a subagent's, on the same model) gets a 429.
      await hook("model.request", { sessionID: "A", agent: "build", kind: "primary", model, headers: {} })
      await hook("model.request", { sessionID: "B", agent: "build", kind: "primary", model, headers: {} })
      const request = new Request("http://a/v1/messages", { method: "POST" })
      await hook("http.response", { sessionID: "B", agent: "build", kind: "primary", model, request, response: new Response("{}", { status: 429, headers: { "retry-after": "30" } }) })
      const retry = { sessionID: "B", agent: "build", model, attempt: 1, error: { type: "provider.rate-limit", message: "rate limited", status: 429 }, decision: { retry: true, delay: 2000 } }
      await hook("retry", retry)
      expect(retry.decision).toEqual({ retry: true, delay: 0 })
      // A's Anthropic answer ends well after the model was pointed at OpenRouter.
      const body = sse(
        { type: "message_start", message: { id: "m", type: "message", role: "assistant", content: [], model: "claude-sonnet-4-5" } },
        { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "hi" } },
        { type: "message_stop" },
      )
      const event = { sessionID: "A", agent: "build", kind: "primary", model, request, response: new Response(body, { headers: { "content-type": "text/event-stream" } }) }
      await hook("http.response", event)
      expect(await event.response.text()).toBe(body)
      expect(await handlers.footer!({ sessionID: "A" })).toEqual({ label: "Claude Sonnet 4.5 (anthropic)" })
    } finally {
      await settleStateFiles()
      rmSync(stateHome, { recursive: true, force: true })
    }
  })
})
