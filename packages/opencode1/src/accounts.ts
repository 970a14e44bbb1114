/**
 * `combined_models.accounts` inside OpenCode's provider layer. Two hunks in `provider.ts` call this:
 * - `addAccountProviders` after the plugins filled the catalog, before the config's providers extend it: each account
 *   becomes a catalog provider of its own, a copy of its provider's models under the account id. From there on
 *   OpenCode loads it as any provider: its key from `provider.<id>.options`, its `env`, or `opencode auth login`.
 * - `withAccountLoaders` around upstream's custom loaders: an account gets its provider's loader (Anthropic's beta
 *   headers, Bedrock's region and credential chain, Copilot's model routing), run with the account's own config and
 *   auth entry where the loader reads its provider's.
 * A third hunk, in the auth command, lists the accounts in `opencode auth login`.
 */
import { Effect } from "effect"
import { accountName, accountsOf, isRecord, plannedAccounts, type AccountConfig, type AccountProblem } from "combined-models"

/** A catalog provider as OpenCode's provider layer holds it (`Provider.Info`): only what we read and write is typed. */
interface CatalogEntry {
  id: string
  name: string
  env: string[]
  models: Record<string, { providerID: string; [key: string]: unknown }>
  [key: string]: unknown
}

/**
 * Each valid account into `database`, keyed by its id, its provider's models copied with `providerID` set to it.
 * The provider's `env` is not inherited: those variables hold the first account's key. Accounts left out (their
 * provider unknown, their id taken) are reported with the grouping's config warnings: logged once by the provider
 * hunk, and shown by `opencode combined`.
 */
export function addAccountProviders<E extends CatalogEntry>(database: Record<string, E>, config: unknown): void {
  const { accepted, problems } = plannedAccounts(accountsOf(config), (id) => id in database)
  if (isRecord(config)) added.set(config, { accepted: new Map(accepted), problems })
  for (const [id, account] of accepted) {
    const base = database[account.provider]!
    const models = Object.fromEntries(
      Object.entries(base.models).map(([modelID, model]) => [modelID, { ...structuredClone(model), providerID: id }]),
    )
    database[id] = { ...structuredClone(base), id, name: accountName(base.name, id, account), env: account.env ?? [], models } as E
  }
}

/**
 * The accounts `addAccountProviders` added for a config object (the provider layer's `cfg`), and the ones it left out:
 * the loaders go only to accounts that became providers, and the problems reach `opencode combined` with the
 * grouping's own.
 */
const added = new WeakMap<object, { accepted: Map<string, AccountConfig>; problems: AccountProblem[] }>()

/** The problems with the accounts of this config, as the provider layer found them; none before it ran. */
export function accountProblems(config: unknown): AccountProblem[] {
  return (isRecord(config) && added.get(config)?.problems) || []
}

/** What upstream's custom loaders are given (`CustomDep`): only what an account changes is typed. */
interface LoaderDep {
  auth: (id: string) => Effect.Effect<unknown>
  config: () => Effect.Effect<{ provider?: Record<string, unknown> }>
  [key: string]: unknown
}

/**
 * Upstream's custom loaders, keyed by provider id, with each account given its provider's loader. Loaders read their
 * provider's config and auth entry by its fixed id (Bedrock reads `provider["amazon-bedrock"]` and its auth entry):
 * for an account they read the account's instead, so a second Bedrock account gets its own profile, region or key.
 */
export function withAccountLoaders<L, D extends LoaderDep>(custom: (dep: D) => Record<string, L>, dep: D, config: unknown): Record<string, L> {
  const loaders = custom(dep)
  const accounts = (isRecord(config) && added.get(config)?.accepted) || new Map<string, AccountConfig>()
  for (const [id, account] of accounts) {
    if (id in loaders || !(account.provider in loaders)) continue
    const base = account.provider
    const accountDep: D = {
      ...dep,
      auth: (requested: string) => dep.auth(requested === base ? id : requested),
      config: () =>
        Effect.map(dep.config(), (cfg) => {
          const own = isRecord(cfg.provider) ? cfg.provider[id] : undefined
          return { ...cfg, provider: { ...cfg.provider, [base]: own ?? {} } }
        }),
    }
    loaders[id] = custom(accountDep)[base]!
  }
  return loaders
}

/** The accounts as `opencode auth login` options, after the catalog's providers: `opencode auth login --provider <id>`. */
export function accountLoginOptions(config: unknown, providerName: (id: string) => string | undefined) {
  return Object.entries(accountsOf(config)).flatMap(([id, account]) => {
    const name = providerName(account.provider)
    return name ? [{ label: accountName(name, id, account), value: id, hint: `account of ${account.provider}` }] : []
  })
}
