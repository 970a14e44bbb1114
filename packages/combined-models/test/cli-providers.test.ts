/**
 * The providers `groups` and `rehearse` take as OpenCode loads them (`providersAsOpenCodeLoads` with `connected`),
 * where a provider's own loader decides more than a key's presence: OpenCode Zen.
 */
import { expect, test } from "bun:test"
import { providersAsOpenCodeLoads } from "../src/cli/providers.ts"
import type { CatalogModel, CatalogProvider } from "../src/types.ts"

const model = (modelID: string, input: number): CatalogModel => ({
  providerID: "opencode",
  modelID,
  name: modelID,
  limit: { context: 200_000, output: 64_000 },
  cost: { input, output: input * 5 },
  capabilities: { reasoning: true, toolCall: true, attachment: true, temperature: true, input: ["text"], output: ["text"] },
})
const zen: CatalogProvider = { id: "opencode", name: "OpenCode Zen", env: ["OPENCODE_API_KEY"], models: [model("claude-sonnet-4-6", 3), model("big-pickle", 0)] }
const modelsOf = (config: unknown, env: Record<string, string> = {}, signedIn: string[] = []) =>
  providersAsOpenCodeLoads([zen], config, { env, connected: { signedIn: new Set(signedIn) } }).providers.flatMap((provider) =>
    provider.models.map((entry) => entry.modelID),
  )

test("OpenCode Zen: every model with a key (environment, auth store, the config's apiKey), the free ones without", () => {
  expect(modelsOf({})).toEqual(["big-pickle"])
  expect(modelsOf({}, { OPENCODE_API_KEY: "zen" })).toEqual(["claude-sonnet-4-6", "big-pickle"])
  expect(modelsOf({}, {}, ["opencode"])).toEqual(["claude-sonnet-4-6", "big-pickle"])
  expect(modelsOf({ provider: { opencode: { options: { apiKey: "zen" } } } })).toEqual(["claude-sonnet-4-6", "big-pickle"])
  // A provider.opencode block without a key (a baseURL, a whitelist) is no key: OpenCode's loader keeps the free models.
  expect(modelsOf({ provider: { opencode: { options: { baseURL: "http://127.0.0.1:1" } } } })).toEqual(["big-pickle"])
})
