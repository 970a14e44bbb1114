import { describe, expect, test } from "bun:test"
import { accountMembers, addConnectionModels, addConnectionProviders, labelSlug, readExtraConnections, type IntegrationAccess } from "../src/connections.ts"

const access = (overrides: Partial<IntegrationAccess> = {}): IntegrationAccess => ({
  list: async () => ({
    data: [
      { id: "openrouter", connections: [] },
      {
        id: "anthropic",
        connections: [
          { type: "credential", id: "cred_1", label: "personal", method: "key" },
          { type: "credential", id: "cred_2", label: "Work Account", method: "key" },
          { type: "credential", id: "cred_3", label: "sso", method: "oauth" },
          { type: "env", name: "ANTHROPIC_API_KEY" },
        ],
      },
    ],
  }),
  connection: {
    active: async () => ({ type: "credential", id: "cred_1" }),
    resolve: async (connection) => (connection.id === "cred_3" ? { type: "oauth" } : { type: "key", key: `key-${connection.id}` }),
  },
  ...overrides,
})

describe("OpenCode 2's connections as members", () => {
  test("each stored key beyond the active one becomes <provider>@<label>; sign-ins that are not keys and env connections are left", async () => {
    expect(await readExtraConnections(access())).toEqual([{ providerID: "anthropic", id: "anthropic@work-account", label: "Work Account", key: "key-cred_2" }])
  })

  test("no access, a list that fails, or a shape that differs: no extra members, no throw", async () => {
    expect(await readExtraConnections(undefined)).toEqual([])
    expect(await readExtraConnections(access({ list: async () => Promise.reject(new Error("store locked")) }))).toEqual([])
    expect(await readExtraConnections(access({ list: async () => ({ data: "nope" }) }))).toEqual([])
    expect(labelSlug("  ")).toBe("key")
  })

  test("the provider transform copies the provider under the new id with the key; the model transform copies its models", () => {
    const extras = [{ providerID: "anthropic", id: "anthropic@work", label: "work", key: "key-work" }]
    const added: unknown[] = []
    const providerEditor = {
      get: (id: string) => (id === "anthropic" ? { provider: { id: "anthropic", name: "Anthropic", activation: "auto", package: "@opencode/ai/providers/anthropic", settings: { baseURL: "https://api.anthropic.com/v1" }, integrationID: "anthropic" }, models: {} } : undefined),
      add: (entry: unknown) => added.push(entry),
    }
    expect(addConnectionProviders(providerEditor, extras)).toEqual(["anthropic@work"])
    expect(added).toEqual([
      { info: { id: "anthropic@work", name: "Anthropic (work)", activation: "enabled", package: "@opencode/ai/providers/anthropic", settings: { baseURL: "https://api.anthropic.com/v1", apiKey: "key-work" } }, models: [] },
    ])

    const models = new Map<string, Record<string, any>>([["anthropic/claude-sonnet-4-5", { id: "claude-sonnet-4-5", providerID: "anthropic", name: "Claude Sonnet 4.5", settings: { headers: 1 } }]])
    const modelEditor = {
      list: (providerID?: string) => [...models.values()].filter((model) => !providerID || model.providerID === providerID),
      update: (providerID: string, id: string, edit: (model: Record<string, any>) => void) => {
        const model = models.get(`${providerID}/${id}`) ?? {}
        edit(model)
        models.set(`${providerID}/${id}`, model)
      },
      provider: {
        get: (id: string) =>
          id === "anthropic@work" || id === "anthropic" ? { provider: { id, package: "@opencode/ai/providers/anthropic", settings: { baseURL: "http://127.0.0.1:1/anthropic/v1" } } } : undefined,
      },
    }
    expect(addConnectionModels(modelEditor as never, extras)).toBe(1)
    expect(models.get("anthropic@work/claude-sonnet-4-5")).toEqual({
      id: "claude-sonnet-4-5",
      providerID: "anthropic@work",
      name: "Claude Sonnet 4.5",
      package: "@opencode/ai/providers/anthropic",
      settings: { baseURL: "http://127.0.0.1:1/anthropic/v1", headers: 1, apiKey: "key-work" },
    })
  })

  test("combined_models.accounts: an account with its key set is a member like a connection; one without says how to give it one", () => {
    const { members, problems } = accountMembers(
      { "anthropic-work": { provider: "anthropic", env: ["WORK_KEY", "WORK_KEY_2"] }, "anthropic-home": { provider: "anthropic", env: ["HOME_KEY"] }, "openrouter-2": { provider: "openrouter" } },
      { WORK_KEY: "", WORK_KEY_2: "key-work" },
    )
    expect(members).toEqual([{ providerID: "anthropic", id: "anthropic-work", label: "anthropic-work", key: "key-work" }])
    expect(problems).toEqual([
      "combined_models.accounts.anthropic-home: no key, so it is not a member: set HOME_KEY, or store the key as a connection of anthropic (opencode auth login: every stored key of a provider is a member)",
      'combined_models.accounts.openrouter-2: no key, so it is not a member: give it "env": ["<VARIABLE>"] with the variable set, or store the key as a connection of openrouter (opencode auth login: every stored key of a provider is a member)',
    ])
  })

  test("an account named like a provider OpenCode already has does not take it over", () => {
    const added: unknown[] = []
    const editor = { get: (id: string) => ({ provider: { id, name: id, package: "p", settings: {} }, models: {} }), add: (entry: unknown) => added.push(entry) }
    expect(addConnectionProviders(editor, [{ providerID: "anthropic", id: "openrouter", label: "openrouter", key: "k" }])).toEqual([])
    expect(added).toEqual([])
  })
})
