/**
 * The providers OpenCode would group, from the catalog and an opencode.json, as its provider layer filters them before
 * the grouping pass (provider.ts at the pin): providers defined only in the config join with their models, models
 * a config adds to a catalog provider join it, `whitelist`/`blacklist` narrow a provider's models, deprecated (and,
 * unless experimental models are on, alpha) models go, and
 * `enabled_providers` / `disabled_providers` decide which providers are there at all.
 */
import { homedir } from "node:os"
import { join } from "node:path"
import { accountName, accountsOf, plannedAccounts } from "../accounts.ts"
import { fromModelsDev } from "../catalog.ts"
import { isRecord, stringList } from "../record.ts"
import type { CatalogProvider } from "../types.ts"


export function providersAsOpenCodeLoads(
  catalog: readonly CatalogProvider[],
  config: unknown,
  options: { env?: Record<string, string | undefined>; connected?: { signedIn: ReadonlySet<string> } } = {},
): { providers: CatalogProvider[]; warnings: string[] } {
  const raw = isRecord(config) ? config : {}
  const configured = isRecord(raw.provider) ? raw.provider : {}
  const warnings: string[] = []
  const byId = new Map(catalog.map((provider) => [provider.id, provider]))
  // Accounts join as OpenCode's provider hunk adds them: after the catalog, before the config's providers.
  const accounts = plannedAccounts(accountsOf(raw), (id) => byId.has(id))
  for (const problem of accounts.problems) warnings.push(`${problem.path}: ${problem.message}`)
  for (const [id, account] of accounts.accepted) {
    const base = byId.get(account.provider)
    if (!base) continue
    byId.set(id, {
      id,
      name: accountName(base.name, id, account),
      env: account.env ?? [],
      models: base.models.map((model) => ({ ...model, providerID: id })),
    })
  }

  for (const [id, entry] of Object.entries(configured)) {
    if (!isRecord(entry)) continue
    const known = byId.get(id)
    const models = isRecord(entry.models) ? entry.models : {}
    // Config models read like catalog ones; a model the catalog already has keeps the catalog's data.
    const added = Object.fromEntries(Object.entries(models).filter(([modelID]) => !known?.models.some((model) => model.modelID === modelID)))
    const parsed = fromModelsDev({ [id]: { id, name: typeof entry.name === "string" ? entry.name : (known?.name ?? id), models: added } })
    for (const problem of parsed.problems) warnings.push(`config provider.${problem.path}: ${problem.message} (left out)`)
    const extra = parsed.providers[0]?.models ?? []
    let provider: CatalogProvider = known ? { ...known, models: [...known.models, ...extra] } : { id, name: parsed.providers[0]?.name ?? id, models: extra }
    const whitelist = stringList(entry.whitelist)
    const blacklist = stringList(entry.blacklist)
    if (whitelist || blacklist)
      provider = {
        ...provider,
        models: provider.models.filter((model) => (!whitelist || whitelist.includes(model.modelID)) && !blacklist?.includes(model.modelID)),
      }
    byId.set(id, provider)
  }

  // OpenCode drops deprecated models, and alpha ones unless OPENCODE_ENABLE_EXPERIMENTAL_MODELS is set.
  const experimental = ["1", "true"].includes((options.env ?? process.env).OPENCODE_ENABLE_EXPERIMENTAL_MODELS?.toLowerCase() ?? "")
  for (const [id, provider] of byId)
    byId.set(id, {
      ...provider,
      models: provider.models.filter((model) => model.status !== "deprecated" && (experimental || model.status !== "alpha")),
    })

  const enabled = stringList(raw.enabled_providers)
  const disabled = new Set(stringList(raw.disabled_providers) ?? [])
  const env = options.env ?? process.env
  // `connected`: what OpenCode loads, a provider with a key in its environment variables, in the auth store, or
  // defined in opencode.json, or one its own loader turns on (credentials it finds another way; Zen's free models).
  const keyOutsideConfig = (provider: CatalogProvider) =>
    options.connected!.signedIn.has(provider.id) ||
    [...(provider.env ?? []), ...(LOADER_ENV[provider.id] ?? [])].some((name) => Boolean(env[name]))
  const hasKey = (provider: CatalogProvider) => provider.id in configured || keyOutsideConfig(provider)
  // OpenCode Zen's loader keeps every model only with a key: its environment variable, the auth store, or the config's
  // `options.apiKey` (a `provider.opencode` block without one is no key).
  const zenKey = (provider: CatalogProvider) => {
    const entry = configured[provider.id]
    return (isRecord(entry) && isRecord(entry.options) && Boolean(entry.options.apiKey)) || keyOutsideConfig(provider)
  }
  const loaded = (provider: CatalogProvider): CatalogProvider | undefined => {
    if (!options.connected) return provider
    if (provider.id === "opencode") {
      if (zenKey(provider)) return provider
      // Without a key, the free models (no price counts as free), which it loads with a public key.
      return { ...provider, models: provider.models.filter((model) => (model.cost?.input ?? 0) === 0) }
    }
    return hasKey(provider) ? provider : undefined
  }
  const providers = [...byId.values()]
    .filter((provider) => (!enabled || enabled.includes(provider.id)) && !disabled.has(provider.id))
    .map(loaded)
    .filter((provider): provider is CatalogProvider => provider !== undefined && provider.models.length > 0)
  return { providers, warnings }
}

/**
 * Environment variables by which OpenCode's own provider loaders (provider.ts at the pin) turn a provider on besides
 * the catalog's `env`: Bedrock's credential chain, Vertex's project, SAP AI Core's service key.
 */
const LOADER_ENV: Record<string, readonly string[]> = {
  "amazon-bedrock": [
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  ],
  "google-vertex": ["GOOGLE_CLOUD_PROJECT", "GCP_PROJECT", "GCLOUD_PROJECT"],
  "google-vertex-anthropic": ["GOOGLE_CLOUD_PROJECT", "GCP_PROJECT", "GCLOUD_PROJECT"],
  "sap-ai-core": ["AICORE_SERVICE_KEY"],
}

/** What `groups` and `rehearse` say (on stderr) about the providers they took as OpenCode would load them. */
export function loadedProvidersNote(providers: readonly CatalogProvider[]): string {
  return providers.length === 0
    ? "providers: none of the catalog's is connected here (no key in its environment variables or the auth store, none defined in the config); --all takes every provider of the catalog"
    : `providers OpenCode loads here: ${providers.map((provider) => provider.id).join(", ")} (--all: every provider of the catalog)`
}

/** The providers with an entry in OpenCode's auth store (`$XDG_DATA_HOME/opencode/auth.json`); none when it is absent. */
export async function signedInProviders(env: Record<string, string | undefined> = process.env): Promise<Set<string>> {
  const dataDir = env.XDG_DATA_HOME || join(env.HOME || homedir(), ".local", "share")
  const file = Bun.file(join(dataDir, "opencode", "auth.json"))
  if (!(await file.exists())) return new Set()
  const data: unknown = await file.json().catch(() => undefined)
  return new Set(isRecord(data) ? Object.keys(data) : [])
}
