import type { ModelEditor, V2Model, V2ProviderInfo } from "../src/api.ts"

/**
 * OpenCode 2's model editor over plain maps, with the `combined` provider empty: `update` creates a model under a
 * provider that exists, as OpenCode's does.
 */
export function memoryEditor(providers: Record<string, { info: V2ProviderInfo; models: V2Model[] }>): ModelEditor {
  const models = new Map<string, Map<string, V2Model>>(Object.entries(providers).map(([id, p]) => [id, new Map(p.models.map((m) => [m.id, m]))]))
  models.set("combined", new Map())
  return {
    list: (providerID) => (providerID ? [...(models.get(providerID)?.values() ?? [])] : [...models.values()].flatMap((m) => [...m.values()])),
    get: (providerID, modelID) => models.get(providerID)?.get(modelID),
    update: (providerID, modelID, fn) => {
      const model = models.get(providerID)?.get(modelID) ?? ({ id: modelID, providerID } as V2Model)
      fn(model)
      models.get(providerID)?.set(modelID, model)
    },
    remove: (providerID, modelID) => void models.get(providerID)?.delete(modelID),
    provider: { get: (providerID) => (providers[providerID] ? { provider: providers[providerID]!.info } : undefined) },
  }
}
