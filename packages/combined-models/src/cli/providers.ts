/**
 * The providers OpenCode would group, from the catalog and an opencode.json, as its provider layer filters them before
 * the grouping pass (provider.ts at the pin): providers defined only in the config join with their models, models
 * a config adds to a catalog provider join it, `whitelist`/`blacklist` narrow a provider's models, deprecated (and,
 * unless experimental models are on, alpha) models go, and
 * `enabled_providers` / `disabled_providers` decide which providers are there at all.
 */
import { fromModelsDev } from "../catalog.ts"
import { isRecord } from "../record.ts"
import type { CatalogProvider } from "../types.ts"

const strings = (value: unknown) => (Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : undefined)

export function providersAsOpenCodeLoads(
  catalog: readonly CatalogProvider[],
  config: unknown,
  options: { env?: Record<string, string | undefined> } = {},
): { providers: CatalogProvider[]; warnings: string[] } {
  const raw = isRecord(config) ? config : {}
  const configured = isRecord(raw.provider) ? raw.provider : {}
  const warnings: string[] = []
  const byId = new Map(catalog.map((provider) => [provider.id, provider]))

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
    const whitelist = strings(entry.whitelist)
    const blacklist = strings(entry.blacklist)
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

  const enabled = strings(raw.enabled_providers)
  const disabled = new Set(strings(raw.disabled_providers) ?? [])
  const providers = [...byId.values()].filter(
    (provider) => (!enabled || enabled.includes(provider.id)) && !disabled.has(provider.id) && provider.models.length > 0,
  )
  return { providers, warnings }
}
