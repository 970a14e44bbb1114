import { describe, expect, test } from "bun:test"
import { toCatalogModel } from "../src/catalog.ts"
import { setup } from "../src/index.ts"
import { eventProblems, shapeProblems } from "../src/shape.ts"
import { editConfig } from "../scripts/install.ts"
import type { V2Model } from "../src/api.ts"

describe("start-up shape check", () => {
  test("a context without the hooks relied on is named, and setup throws (OpenCode logs it and goes on)", () => {
    const ctx = { app: { version: "9.0.0" }, session: {}, provider: { transform() {}, reload() {} }, model: { transform() {} } }
    expect(shapeProblems(ctx)).toEqual(["ctx.session.hook is missing, expected a function", "ctx.model.reload is missing, expected a function"])
    expect(() => setup(ctx as never)).toThrow("OpenCode 9.0.0 differs from what this plugin was tested with (ctx.session.hook is missing")
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
      cost: { input: 3, output: 15 },
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
