/**
 * Adapters from the two catalog shapes we meet into `CatalogProvider[]`: a models.dev `api.json` (the CLI, tests) and
 * OpenCode's loaded provider state (the patches). Input is untrusted: a malformed provider or model is skipped and
 * reported, never thrown, so one bad entry cannot take every combined model down.
 */
import type { CatalogModel, CatalogProvider, Modality } from "./types.ts"
import { isRecord, stringList } from "./record.ts"

export interface CatalogProblem {
  /** Where in the input, e.g. `anthropic.models.claude-sonnet-4-5.limit.context`. */
  path: string
  message: string
}

export interface CatalogResult {
  providers: CatalogProvider[]
  problems: CatalogProblem[]
}

const MODALITIES: readonly Modality[] = ["text", "image", "audio", "video", "pdf"]
const STATUSES = new Set<CatalogModel["status"]>(["alpha", "beta", "deprecated", "active"])

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0
}

function describe(value: unknown): string {
  if (value === null) return "null"
  if (Array.isArray(value)) return "a list"
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  return typeof value === "object" ? "an object" : String(value)
}

/**
 * Collects problems for one entry; `fail` records one and returns undefined so callers can `return fail(…)`. The
 * path is spelled only when something fails: one object and no string per model of a catalog that is almost always
 * well formed.
 */
class EntryProblems {
  constructor(
    private readonly into: CatalogProblem[],
    private readonly providerKey: string,
    private readonly modelKey?: string,
  ) {}
  fail(field: string, message: string): undefined {
    const base = this.modelKey === undefined ? this.providerKey : `${this.providerKey}.models.${this.modelKey}`
    this.into.push({ path: field ? `${base}.${field}` : base, message: `${message}; entry skipped` })
    return undefined
  }
}

function readLimit(raw: unknown, problems: EntryProblems): CatalogModel["limit"] | undefined {
  if (!isRecord(raw)) return problems.fail("limit", `expected an object with context and output, got ${describe(raw)}`)
  if (!isCount(raw.context)) return problems.fail("limit.context", `expected a token count, got ${describe(raw.context)}`)
  if (!isCount(raw.output)) return problems.fail("limit.output", `expected a token count, got ${describe(raw.output)}`)
  if (raw.input !== undefined && !isCount(raw.input))
    return problems.fail("limit.input", `expected a token count, got ${describe(raw.input)}`)
  return raw.input === undefined
    ? { context: raw.context, output: raw.output }
    : { context: raw.context, input: raw.input, output: raw.output }
}

/** Cost is informational: a malformed cost drops the cost, not the model. */
function readCost(input: unknown, output: unknown, cacheRead: unknown, cacheWrite: unknown): CatalogModel["cost"] {
  if (!isCount(input) || !isCount(output)) return undefined
  const cost: NonNullable<CatalogModel["cost"]> = { input, output }
  if (isCount(cacheRead)) cost.cacheRead = cacheRead
  if (isCount(cacheWrite)) cost.cacheWrite = cacheWrite
  return cost
}

function readModalityList(raw: unknown): Modality[] {
  if (!Array.isArray(raw)) return ["text"]
  return MODALITIES.filter((modality) => raw.includes(modality))
}

function readModalityFlags(raw: unknown): Modality[] {
  if (!isRecord(raw)) return ["text"]
  const modalities: Modality[] = []
  for (const modality of MODALITIES) if (raw[modality] === true) modalities.push(modality)
  return modalities
}

function readStatus(raw: unknown): CatalogModel["status"] {
  return STATUSES.has(raw as CatalogModel["status"]) ? (raw as CatalogModel["status"]) : undefined
}

function readText(raw: unknown): string | undefined {
  if (typeof raw !== "string" || raw === "") return undefined
  // Most texts start with a visible character; only the rest need trimming to tell blank from not.
  return raw.charCodeAt(0) > 32 || raw.trim() !== "" ? raw : undefined
}

/** The optional fields, set only when present (an absent field stays absent, not `undefined`). */
function withOptional(
  model: CatalogModel,
  family: string | undefined,
  releaseDate: string | undefined,
  cost: CatalogModel["cost"],
  status: CatalogModel["status"],
): CatalogModel {
  if (family !== undefined) model.family = family
  if (releaseDate !== undefined) model.releaseDate = releaseDate
  if (cost !== undefined) model.cost = cost
  if (status !== undefined) model.status = status
  return model
}

function readModelsDevModel(providerID: string, key: string, raw: unknown, problems: EntryProblems): CatalogModel | undefined {
  if (!isRecord(raw)) return problems.fail("", `expected a model object, got ${describe(raw)}`)
  // The record key is what OpenCode uses as the model id; `id` inside should agree but the key wins.
  const limit = readLimit(raw.limit, problems)
  if (!limit) return undefined
  const modalities = isRecord(raw.modalities) ? raw.modalities : {}
  return withOptional(
    {
      providerID,
      modelID: key,
      name: readText(raw.name) ?? key,
      limit,
      capabilities: {
        reasoning: raw.reasoning === true,
        toolCall: raw.tool_call === true,
        attachment: raw.attachment === true,
        temperature: raw.temperature === true,
        input: readModalityList(modalities.input),
        output: readModalityList(modalities.output),
      },
    },
    readText(raw.family),
    readText(raw.release_date),
    isRecord(raw.cost) ? readCost(raw.cost.input, raw.cost.output, raw.cost.cache_read, raw.cost.cache_write) : undefined,
    readStatus(raw.status),
  )
}

function readProviders(
  input: unknown,
  readModel: (providerID: string, key: string, raw: unknown, problems: EntryProblems) => CatalogModel | undefined,
  entries: (input: unknown) => [string, unknown][] | undefined,
): CatalogResult {
  const problems: CatalogProblem[] = []
  const providerEntries = entries(input)
  if (!providerEntries)
    return { providers: [], problems: [{ path: "(top level)", message: `expected providers keyed by id, got ${describe(input)}` }] }
  const providers: CatalogProvider[] = []
  for (const [key, raw] of providerEntries) {
    const at = new EntryProblems(problems, key)
    if (!isRecord(raw)) {
      at.fail("", `expected a provider object, got ${describe(raw)}`)
      continue
    }
    const id = readText(raw.id) ?? key
    if (!isRecord(raw.models)) {
      at.fail("models", `expected models keyed by id, got ${describe(raw.models)}`)
      continue
    }
    const models: CatalogModel[] = []
    for (const [modelKey, rawModel] of Object.entries(raw.models)) {
      const model = readModel(id, modelKey, rawModel, new EntryProblems(problems, key, modelKey))
      if (model) models.push(model)
    }
    const env = stringList(raw.env) ?? []
    providers.push({ id, name: readText(raw.name) ?? id, models, ...(env.length ? { env } : {}) })
  }
  return { providers, problems }
}

/**
 * A models.dev `api.json`: `{ providerID: { id, name, models: { modelID: {…} } } }`. A model's `experimental.modes`
 * become models of their own, `<id>-<mode>` named `<name> <Mode>` with the mode's cost, as OpenCode's
 * `fromModelsDevProvider` makes them (Claude Opus 4.6 Fast).
 */
export function fromModelsDev(apiJson: unknown): CatalogResult {
  return readProviders(apiJson, readModelsDevModel, (input) =>
    isRecord(input) ? Object.entries(input).map(([key, provider]) => [key, withModeModels(provider)]) : undefined,
  )
}

function withModeModels(provider: unknown): unknown {
  if (!isRecord(provider) || !isRecord(provider.models)) return provider
  const models: Record<string, unknown> = {}
  for (const [key, model] of Object.entries(provider.models)) {
    models[key] = model
    const modes = isRecord(model) && isRecord(model.experimental) && isRecord(model.experimental.modes) ? model.experimental.modes : {}
    for (const [mode, options] of Object.entries(modes)) {
      if (!isRecord(model) || mode === "") continue
      const id = `${readText(model.id) ?? key}-${mode}`
      const cost = isRecord(options) && isRecord(options.cost) ? { ...(isRecord(model.cost) ? model.cost : {}), ...options.cost } : model.cost
      models[id] = { ...model, id, name: `${readText(model.name) ?? key} ${mode[0]!.toUpperCase()}${mode.slice(1)}`, cost }
    }
  }
  return { ...provider, models }
}

function readOpenCodeModel(providerID: string, key: string, raw: unknown, problems: EntryProblems): CatalogModel | undefined {
  if (!isRecord(raw)) return problems.fail("", `expected a model object, got ${describe(raw)}`)
  const limit = readLimit(raw.limit, problems)
  if (!limit) return undefined
  const capabilities = isRecord(raw.capabilities) ? raw.capabilities : undefined
  if (!capabilities) return problems.fail("capabilities", `expected an object, got ${describe(raw.capabilities)}`)
  const cost = isRecord(raw.cost) ? raw.cost : {}
  const cache = isRecord(cost.cache) ? cost.cache : {}
  return withOptional(
    {
      providerID,
      modelID: key,
      name: readText(raw.name) ?? key,
      limit,
      capabilities: {
        reasoning: capabilities.reasoning === true,
        toolCall: capabilities.toolcall === true,
        attachment: capabilities.attachment === true,
        temperature: capabilities.temperature === true,
        input: readModalityFlags(capabilities.input),
        output: readModalityFlags(capabilities.output),
      },
    },
    readText(raw.family),
    readText(raw.release_date),
    readCost(cost.input, cost.output, cache.read, cache.write),
    readStatus(raw.status),
  )
}

/**
 * OpenCode's loaded providers (`Provider.Info`: `{ id, name, models: { [id]: Provider.Model } }`), as a record keyed
 * by provider id or a list. Models are keyed by the id OpenCode routes with, which is what a member names.
 */
export function fromOpenCodeProviders(providers: unknown): CatalogResult {
  return readProviders(providers, readOpenCodeModel, (input) => {
    if (Array.isArray(input))
      return input.map((provider, index) => [
        isRecord(provider) && typeof provider.id === "string" ? provider.id : `[${index}]`,
        provider,
      ])
    return isRecord(input) ? Object.entries(input) : undefined
  })
}
