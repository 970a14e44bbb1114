/**
 * The models.dev catalog as OpenCode's provider state holds it (`Provider.Info`), the input the provider hunk hands
 * the runtime at provider load. Mirrors upstream's `fromModelsDevProvider` / `fromModelsDevModel` at the pin
 * (packages/opencode/src/provider/provider.ts) in every field the runtime reads, plus the ones it skips over, so the
 * benchmark walks records of the real size; variants are left out (they are computed per SDK and never read).
 */
type Raw = Record<string, any>

const MODALITIES = ["text", "audio", "image", "video", "pdf"] as const

const flags = (list: unknown) => Object.fromEntries(MODALITIES.map((m) => [m, Array.isArray(list) && list.includes(m)]))

const cost = (raw: Raw | undefined) => ({
  input: raw?.input ?? 0,
  output: raw?.output ?? 0,
  cache: { read: raw?.cache_read ?? 0, write: raw?.cache_write ?? 0 },
})

function model(provider: Raw, raw: Raw) {
  return {
    id: raw.id,
    providerID: provider.id,
    name: raw.name,
    family: raw.family,
    api: { id: raw.id, url: raw.provider?.api ?? provider.api ?? "", npm: raw.provider?.npm ?? provider.npm ?? "@ai-sdk/openai-compatible" },
    status: raw.status ?? "active",
    headers: {},
    options: {},
    cost: cost(raw.cost),
    limit: { context: raw.limit?.context, input: raw.limit?.input, output: raw.limit?.output },
    capabilities: {
      temperature: raw.temperature ?? false,
      reasoning: raw.reasoning ?? false,
      attachment: raw.attachment ?? false,
      toolcall: raw.tool_call ?? true,
      input: flags(raw.modalities?.input),
      output: flags(raw.modalities?.output),
      interleaved: false,
    },
    release_date: raw.release_date ?? "",
    variants: {},
  }
}

export function openCodeProviders(apiJson: Raw): Record<string, Raw> {
  const providers: Record<string, Raw> = {}
  for (const provider of Object.values(apiJson) as Raw[]) {
    const models: Record<string, Raw> = {}
    for (const [key, raw] of Object.entries(provider.models as Raw)) {
      models[key] = model(provider, raw)
      for (const [mode, options] of Object.entries((raw.experimental?.modes ?? {}) as Raw)) {
        const id = `${raw.id}-${mode}`
        models[id] = { ...model(provider, raw), id, name: `${raw.name} ${mode[0]!.toUpperCase()}${mode.slice(1)}`, cost: options.cost ? cost({ ...raw.cost, ...options.cost }) : cost(raw.cost) }
      }
    }
    providers[provider.id] = { id: provider.id, source: "custom", name: provider.name, env: [...(provider.env ?? [])], options: {}, models }
  }
  return providers
}
