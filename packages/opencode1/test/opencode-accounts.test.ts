/** `combined_models.accounts` in OpenCode's provider layer and in the CLI's view of it. */
import { describe, expect, test } from "bun:test"
import { Effect } from "effect"
import { providersAsOpenCodeLoads } from "../../combined-models/src/cli/providers.ts"
import { accountLoginOptions, accountProblems, addAccountProviders, withAccountLoaders } from "../src/accounts.ts"
import { CombinedRuntime } from "../src/runtime.ts"
import type { CatalogProvider } from "../../combined-models/src/types.ts"
import { member } from "../../combined-models/test/fixtures.ts"
import { ocModel, ocProvider } from "./opencode-fixtures.ts"

const config = (accounts: unknown) => ({ combined_models: { accounts } })

type Entry = ReturnType<typeof ocProvider> & { env: string[] }

function database(): Record<string, Entry> {
  return {
    anthropic: { ...ocProvider("anthropic", "Anthropic", [ocModel("anthropic", "claude-sonnet-4-5")]), env: ["ANTHROPIC_API_KEY"] },
    "github-copilot": { ...ocProvider("github-copilot", "GitHub Copilot", [ocModel("github-copilot", "claude-sonnet-4.5")]), env: [] },
  }
}

describe("accounts in OpenCode's catalog", () => {
  test("an account is its provider's models under its own id, without the provider's env", () => {
    const db = database()
    const cfg = config({ "anthropic-work": { provider: "anthropic", env: ["ANTHROPIC_WORK_KEY"] } })
    addAccountProviders(db, cfg)
    expect(accountProblems(cfg)).toEqual([])
    const account = db["anthropic-work"]!
    expect(account.id).toBe("anthropic-work")
    expect(account.name).toBe("Anthropic (anthropic-work)")
    expect(account.env).toEqual(["ANTHROPIC_WORK_KEY"])
    expect(account.models["claude-sonnet-4-5"]?.providerID).toBe("anthropic-work")
    // A copy: OpenCode's later edits of one (deleting models, setting variants) leave the other alone.
    delete account.models["claude-sonnet-4-5"]
    expect(db.anthropic!.models["claude-sonnet-4-5"]?.providerID).toBe("anthropic")
    expect(db.anthropic!.env).toEqual(["ANTHROPIC_API_KEY"])
  })

  test("without env of its own an account reads no environment variable: the provider's hold the first account's key", () => {
    const db = database()
    addAccountProviders(db, config({ "anthropic-2": { provider: "anthropic", name: "Anthropic, team" } }))
    expect(db["anthropic-2"]).toMatchObject({ env: [], name: "Anthropic, team" })
  })

  test("accounts that cannot be added are named with the fix, and the rest still are", () => {
    const db = database()
    const cfg = config({
      "github-copilot": { provider: "anthropic" },
      "mystery-2": { provider: "mystery" },
      combined: { provider: "anthropic" },
      "of-an-account": { provider: "ok" },
      ok: { provider: "anthropic" },
    })
    addAccountProviders(db, cfg)
    expect(accountProblems(cfg).map((problem) => `${problem.path}: ${problem.message}`)).toEqual([
      'combined_models.accounts.github-copilot: "github-copilot" is already a provider id; an account needs an id of its own, e.g. "anthropic-work"',
      `combined_models.accounts.mystery-2.provider: provider "mystery" is not in OpenCode's catalog; the account is left out (a provider of your own needs no account: define a second one in the provider block)`,
      `combined_models.accounts.combined: "combined" is the combined models' own provider id; choose another account id`,
      'combined_models.accounts.of-an-account.provider: "ok" is an account itself; name the provider it is an account of',
    ])
    expect(Object.keys(db).sort()).toEqual(["anthropic", "github-copilot", "ok"])
    // And opencode combined names them with the grouping's own warnings.
    const rt = new CombinedRuntime()
    rt.configure({ config: cfg, providers: db })
    expect(rt.problems.map((problem) => problem.path)).toContain("combined_models.accounts.mystery-2.provider")
  })

  test("the account groups with its provider's model: one combined model, two members", () => {
    const db = database()
    addAccountProviders(db, config({ "anthropic-work": { provider: "anthropic" } }))
    expect(db["anthropic-work"]).toBeDefined()
    const rt = new CombinedRuntime()
    const { groups } = rt.configure({ config: config({ "anthropic-work": { provider: "anthropic" } }), providers: db })
    expect(groups.find((group) => group.id === "claude-sonnet-4-5")?.members.map((m) => m.providerID)).toEqual(["anthropic", "anthropic-work", "github-copilot"])
  })
})

describe("an account's custom loader", () => {
  type Dep = { auth: (id: string) => Effect.Effect<unknown>; config: () => Effect.Effect<{ provider?: Record<string, unknown> }> }
  // Like upstream's Bedrock loader: it reads its provider's config and auth entry by the fixed id.
  const custom = (dep: Dep) => ({
    "amazon-bedrock": () =>
      Effect.gen(function* () {
        const cfg = yield* dep.config()
        const auth = yield* dep.auth("amazon-bedrock")
        return { profile: (cfg.provider?.["amazon-bedrock"] as { options?: { profile?: string } } | undefined)?.options?.profile, auth }
      }),
  })
  const dep: Dep = {
    auth: (id) => Effect.succeed({ key: `key of ${id}` }),
    config: () => Effect.succeed({ provider: { "amazon-bedrock": { options: { profile: "default" } }, "bedrock-eu": { options: { profile: "eu" } } } }),
  }

  const added = (accounts: unknown) => {
    const cfg = config(accounts)
    addAccountProviders({ "amazon-bedrock": { id: "amazon-bedrock", name: "Amazon Bedrock", env: [], models: {} }, groq: { id: "groq", name: "Groq", env: [], models: {} } }, cfg)
    return cfg
  }

  test("runs with the account's own config and auth entry where it reads its provider's", async () => {
    const loaders = withAccountLoaders(custom, dep, added({ "bedrock-eu": { provider: "amazon-bedrock" } }))
    expect(Object.keys(loaders)).toEqual(["amazon-bedrock", "bedrock-eu"])
    expect(await Effect.runPromise(loaders["bedrock-eu"]!())).toEqual({ profile: "eu", auth: { key: "key of bedrock-eu" } })
    expect(await Effect.runPromise(loaders["amazon-bedrock"]!())).toEqual({ profile: "default", auth: { key: "key of amazon-bedrock" } })
  })

  test("an account of a provider without a loader gets none", () => {
    expect(Object.keys(withAccountLoaders(custom, dep, added({ "anthropic-work": { provider: "anthropic" } })))).toEqual(["amazon-bedrock"])
  })

  test("an account left out gets no loader: a catalog provider with its id keeps its own (none)", () => {
    expect(Object.keys(withAccountLoaders(custom, dep, added({ groq: { provider: "amazon-bedrock" } })))).toEqual(["amazon-bedrock"])
    // Before the provider layer added accounts for this config, none get one.
    expect(Object.keys(withAccountLoaders(custom, dep, config({ "bedrock-eu": { provider: "amazon-bedrock" } })))).toEqual(["amazon-bedrock"])
  })
})

test("opencode auth login lists each account under its id", () => {
  const names: Record<string, string> = { anthropic: "Anthropic" }
  expect(accountLoginOptions(config({ "anthropic-work": { provider: "anthropic" }, gone: { provider: "nowhere" } }), (id) => names[id])).toEqual([
    { label: "Anthropic (anthropic-work)", value: "anthropic-work", hint: "account of anthropic" },
  ])
})

test("the CLI's view of what OpenCode loads has the account too", () => {
  const catalog: CatalogProvider[] = [
    { id: "anthropic", name: "Anthropic", env: ["ANTHROPIC_API_KEY"], models: [{ ...member("anthropic", "claude-sonnet-4-5"), family: "claude-sonnet" }] },
  ]
  const { providers, warnings } = providersAsOpenCodeLoads(catalog, config({ "anthropic-work": { provider: "anthropic" } }), { env: {} })
  expect(warnings).toEqual([])
  expect(providers.map((provider) => [provider.id, provider.name, provider.models[0]?.providerID])).toEqual([
    ["anthropic", "Anthropic", "anthropic"],
    ["anthropic-work", "Anthropic (anthropic-work)", "anthropic-work"],
  ])
})
