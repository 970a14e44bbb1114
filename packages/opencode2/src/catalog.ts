/**
 * OpenCode 2's model catalog in the engine's plain shapes. OpenCode 2 keeps a model's wire (`package`), endpoint and
 * credential (`settings`) on its provider with per-model overrides; a member we route to needs them merged, as
 * OpenCode's own model snapshot merges them.
 */
import type { CatalogModel, CatalogProvider, Modality } from "combined-models"
import type { ModelEditor, V2Model, V2ProviderInfo } from "./api.ts"

/** The virtual provider that holds the combined models. */
export const PROVIDER_ID = "combined"
export const PROVIDER_NAME = "Combined"

const MODALITIES: readonly Modality[] = ["text", "image", "audio", "video", "pdf"]

function modalities(raw: unknown): Modality[] {
  if (!Array.isArray(raw)) return ["text"]
  return MODALITIES.filter((modality) => raw.includes(modality))
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0
}

function releaseDate(model: V2Model): string | undefined {
  const released = model.time?.released
  return isCount(released) && released > 0 ? new Date(released).toISOString().slice(0, 10) : undefined
}

/** One model as the engine reads it; undefined for an entry without the limits grouping needs. */
export function toCatalogModel(model: V2Model): CatalogModel | undefined {
  if (typeof model.id !== "string" || typeof model.providerID !== "string") return undefined
  const limit = model.limit
  if (!limit || !isCount(limit.context) || !isCount(limit.output)) return undefined
  const capabilities = model.capabilities ?? {}
  const variants = Array.isArray(model.variants) ? model.variants : []
  // Reasoning is not a flag in 2.x: a model that takes a thinking or effort setting reasons.
  const reasoning =
    capabilities.reasoning === true || variants.some((variant) => variant && variant.id !== "none" && variant.id !== "default" && variant.settings !== undefined)
  const cost = Array.isArray(model.cost) ? model.cost.find((tier) => tier && !("tier" in tier)) ?? model.cost[0] : undefined
  const result: CatalogModel = {
    providerID: model.providerID,
    modelID: model.id,
    name: typeof model.name === "string" ? model.name : model.id,
    limit: isCount(limit.input) ? { context: limit.context, input: limit.input, output: limit.output } : { context: limit.context, output: limit.output },
    capabilities: {
      reasoning,
      toolCall: capabilities.tools === true,
      attachment: (capabilities.input ?? []).some((input) => input !== "text"),
      temperature: capabilities.temperature === true,
      input: modalities(capabilities.input),
      output: modalities(capabilities.output),
    },
  }
  if (typeof model.family === "string") result.family = model.family
  const released = releaseDate(model)
  if (released) result.releaseDate = released
  if (cost && isCount(cost.input) && isCount(cost.output)) {
    result.cost = { input: cost.input, output: cost.output }
    // Cached input's own prices: a step's cost in the status view counts cached tokens at them.
    if (isCount(cost.cache?.read)) result.cost.cacheRead = cost.cache.read
    if (isCount(cost.cache?.write)) result.cost.cacheWrite = cost.cache.write
  }
  if (model.status === "alpha" || model.status === "beta" || model.status === "deprecated" || model.status === "active") result.status = model.status
  return result
}

/** Every connected provider's models (the combined provider's own left out), as the engine's catalog. */
export function catalogFrom(editor: ModelEditor): CatalogProvider[] {
  const byProvider = new Map<string, CatalogProvider>()
  for (const model of editor.list()) {
    if (!model || model.providerID === PROVIDER_ID || model.enabled === false) continue
    if ((model.type ?? "chat") !== "chat") continue
    const converted = toCatalogModel(model)
    if (!converted) continue
    let provider = byProvider.get(model.providerID)
    if (!provider) {
      const info = editor.provider.get(model.providerID)?.provider
      byProvider.set(model.providerID, (provider = { id: model.providerID, name: info?.name ?? model.providerID, models: [] }))
    }
    provider.models.push(converted)
  }
  return [...byProvider.values()]
}

function merged<T extends Record<string, unknown>>(base: T | undefined, own: T | undefined): T | undefined {
  if (base === undefined && own === undefined) return undefined
  return { ...(base ?? {}), ...(own ?? {}) } as T
}

/**
 * The combined model's catalog entry made to send its requests to `member`: the member's wire, endpoint, credential,
 * headers, body and model id, under the combined model's own id and name.
 */
export function pointAt(target: V2Model, member: V2Model, provider: V2ProviderInfo | undefined, name: string): void {
  for (const key of Object.keys(target)) if (key !== "id" && key !== "providerID") delete target[key]
  Object.assign(target, structuredClone({ ...member, id: target.id, providerID: target.providerID }))
  target.name = name
  target.modelID = member.modelID ?? member.id
  const pkg = member.package ?? provider?.package
  if (pkg) target.package = pkg
  const settings = merged(provider?.settings, member.settings)
  if (settings) target.settings = settings
  const headers = merged(provider?.headers, member.headers)
  if (headers) target.headers = headers
  const body = merged(provider?.body, member.body)
  if (body) target.body = body
  delete target.canonical
  delete target.integrationID
}
