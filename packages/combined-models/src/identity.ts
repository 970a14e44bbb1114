/**
 * The identity of a concrete model: which models, across providers, are the same weights behind the same API.
 *
 * models.dev strips its curated `base_model` link from the published catalog and `family` is too coarse, so the
 * identity comes from the id, checked against the name. The id is reduced to a canonical key by removing only what
 * providers add around a model (paths, Bedrock vendor dots and region profiles, version suffixes, gateway prefixes,
 * separators, case); every token that names a size, tier, version or variant stays, so `gpt-4o-mini` can never reduce
 * to `gpt-4o`. Models we cannot vouch for (moving aliases, free tiers, TEE and quantised builds, routers, ids whose
 * name disagrees) get no identity: they are never grouped automatically, only by a user rule.
 *
 * Dated snapshots: Anthropic's dated id is the model (`claude-sonnet-4-5` is an alias of `-20250929`), so the date is
 * dropped. Other vendors' snapshots can differ from the alias (`gpt-4o-2024-05-13` has 4k output, `gpt-4o` 16k), so
 * their key keeps the date and `snapshot` names the alias; grouping folds a snapshot into its alias only when the
 * catalog shows the same release date and limits (see grouping.ts).
 */
import type { CatalogModel } from "./types.ts"

export interface ModelIdentity {
  /** Canonical key, also the combined model id: `claude-sonnet-4-5`, `gpt-4o-2024-05-13`. */
  key: string
  /** What was removed from the id to reach the key, for `--explain`. */
  detail: string
  /** Set when the key is a non-Anthropic dated snapshot: the undated alias key and the ISO date. */
  snapshot?: { base: string; date: string }
}

export type IdentityResult = { ok: true; identity: ModelIdentity } | { ok: false; reason: string }

/** Bedrock-style region inference profiles: `us.anthropic.claude-…`. */
const REGION_PROFILE = /^(us|eu|jp|au|apac|global|us-gov|ca|uk)\./
/** Bedrock-style vendor dots: `anthropic.claude-…`, `moonshotai.kimi-k2.5`. */
const VENDOR_DOT =
  /^(anthropic|openai|moonshotai|moonshot|meta|mistral|amazon|deepseek|qwen|google|minimax|nvidia|writer|zai|xai|cohere|ai21|twelvelabs|stability|luma)\.(?=[a-z])/

/** Words that open a model name; a gateway prefix is only stripped when one of these follows it. */
const FAMILY_START =
  /^(claude|gpt|o[134]|chatgpt|gemini|gemma|glm|kimi|qwen|qwq|deepseek|llama|mistral|ministral|magistral|devstral|codestral|pixtral|voxtral|minimax|mimo|grok|nova|phi|command|jamba|ernie|doubao|hunyuan|step|nemotron|sonar|palmyra)/
/** Prefixes gateways put in front of a vendor's id: `databricks-claude-…`, `openai-gpt-54`, `zai-glm-4.7`. */
const GATEWAY_PREFIX =
  /^(?:databricks|openai|anthropic-?|zai-org|z-ai|zai|google|meta|moonshotai|xiaomi|umans|coding|alicloud|snowflake|xpersona|nvidia|mistralai|deepseek-ai|qwen)-/

/** Path segments that mark a build or alias we cannot vouch for. */
const AMBIGUOUS_SEGMENT = /^(tee|~.*|kilo-auto)$/
/** Whole keys that are routers, not models. */
const ROUTER_KEYS = new Set(["auto", "free", "balanced", "small", "frontier", "router", "bodybuilder", "pareto-code"])
/** Moving aliases: they point at different models over time. */
const MOVING_ALIASES = new Set(["deepseek-chat", "deepseek-reasoner", "chatgpt-4o-latest"])
/** Tokens of builds that are not the vendor's model as served elsewhere. */
const AMBIGUOUS_TOKENS = new Map<string, string>([
  ["free", "a free tier (rate limits and data terms differ)"],
  ["tee", "a TEE build"],
  ["latest", "a moving alias"],
  ["fp8", "a quantised build"],
  ["fp4", "a quantised build"],
  ["nvfp4", "a quantised build"],
  ["mxfp4", "a quantised build"],
  ["int4", "a quantised build"],
  ["int8", "a quantised build"],
  ["awq", "a quantised build"],
  ["gptq", "a quantised build"],
  ["gguf", "a quantised build"],
  ["bf16", "a quantised build"],
  ["fp16", "a quantised build"],
])
/**
 * Words in a display name that mark a different model or build than the id spells: a finetune, a modified build, or a
 * variant the id forgot (`gemini-3.1-pro` named "Gemini 3.1 Pro Preview Custom Tools").
 */
const NAME_ONLY_MARKERS = [
  "uncensored",
  "abliterated",
  "heretic",
  "tee",
  "free",
  "thinking",
  "fast",
  "turbo",
  "codex",
  "code",
  "mini",
  "nano",
  "lite",
  "flashx",
  "image",
  "tts",
  "speciale",
  "terminus",
  "safeguard",
  "custom",
  "non",
  "vision",
  "distill",
  "preview",
] as const

const MARKER_ORDER = new Map<string, number>(NAME_ONLY_MARKERS.map((marker, index) => [marker, index]))

/** `4-5` as a whole version inside an id; the few versions catalogs spell are compiled once. */
const versionPatterns = new Map<string, RegExp>()
function versionPattern(version: string): RegExp {
  let pattern = versionPatterns.get(version)
  if (pattern) return pattern
  if (versionPatterns.size >= 1_000) versionPatterns.clear()
  versionPatterns.set(version, (pattern = new RegExp(`(?:^|\\D)${version}(?:\\D|$)`)))
  return pattern
}

const ISO_DATE = /-(20\d\d)-(0[1-9]|1[0-2])-([0-3]\d)$/
const COMPACT_DATE = /-(20\d\d)(0[1-9]|1[0-2])([0-3]\d)(?=-|$)/

/**
 * Identities by catalog content. An identity depends on the id and the name only, never on the provider, so the
 * catalog's 5,000 entries hold about 3,700 distinct ones (one model id at many gateways), and a provider reload
 * (a new instance, a config edit) finds every one already computed. Results are immutable and shared. Keyed by id
 * then name, the catalog's own strings: no key string is built per lookup. The bound keeps a long-running server
 * whose catalog keeps changing from growing without end: past it the cache starts over.
 */
const identities = new Map<string, Map<string, IdentityResult>>()
let cachedIdentities = 0
const IDENTITY_CACHE_ENTRIES = 20_000

/** Explains why a model has no automatic identity, or gives it. */
export function identify(model: Pick<CatalogModel, "providerID" | "modelID" | "name">): IdentityResult {
  let byName = identities.get(model.modelID)
  const cached = byName?.get(model.name)
  if (cached) return cached
  const result = identifyUncached(model.modelID, model.name)
  if (cachedIdentities >= IDENTITY_CACHE_ENTRIES) {
    identities.clear()
    cachedIdentities = 0
    byName = undefined
  }
  if (!byName) identities.set(model.modelID, (byName = new Map()))
  byName.set(model.name, result)
  cachedIdentities++
  return result
}

function identifyUncached(modelID: string, name: string): IdentityResult {
  const steps: string[] = []
  const original = modelID
  let id = original.trim().toLowerCase()

  const segments = id.split("/")
  const ambiguousSegment = segments.slice(0, -1).find((segment) => AMBIGUOUS_SEGMENT.test(segment))
  if (ambiguousSegment) return { ok: false, reason: `path "${ambiguousSegment}/" marks a moving alias, router or special build` }
  id = segments[segments.length - 1] ?? id
  if (segments.length > 1) steps.push(`path "${segments.slice(0, -1).join("/")}/"`)
  if (id.startsWith("hf:")) {
    id = id.slice(3)
    steps.push('prefix "hf:"')
  }

  // `:free`, `:thinking`, `:8192`: OpenRouter-style suffixes. Bedrock's `-v1:0` is handled below.
  if (id.includes(":") && !/-v?\d+:\d+$/.test(id)) {
    const colon = id.indexOf(":")
    const suffix = id.slice(colon + 1)
    if (suffix !== "thinking") return { ok: false, reason: `suffix ":${suffix}" marks a tier or setting of the model` }
    id = `${id.slice(0, colon)}-thinking`
    steps.push('":thinking" spelled "-thinking"')
  }

  const region = REGION_PROFILE.exec(id)
  if (region) {
    id = id.slice(region[0].length)
    steps.push(`region profile "${region[0]}"`)
  }
  let bedrockStyle = region !== null
  const vendor = VENDOR_DOT.exec(id)
  if (vendor) {
    id = id.slice(vendor[0].length)
    bedrockStyle = true
    // `deepseek.r1` is `deepseek-r1`: the vendor is part of the model name there.
    if (vendor[1] === "deepseek" && !id.startsWith("deepseek")) id = `deepseek-${id}`
    steps.push(`vendor "${vendor[0]}"`)
  }

  const suffix = /(-v\d+:\d+|-\d+:\d+|@default|-maas)$/.exec(id) ?? (bedrockStyle ? /-v1$/.exec(id) : null)
  if (suffix) {
    id = id.slice(0, -suffix[0].length)
    steps.push(`suffix "${suffix[0]}"`)
  }
  let date: string | undefined
  const atDate = /@(20\d\d)(\d\d)(\d\d)$/.exec(id)
  if (atDate) {
    id = `${id.slice(0, -atDate[0].length)}-${atDate[1]}${atDate[2]}${atDate[3]}`
  }

  const gateway = GATEWAY_PREFIX.exec(id)
  if (gateway && FAMILY_START.test(id.slice(gateway[0].length).replace(/^-/, ""))) {
    id = id.slice(gateway[0].length).replace(/^-/, "")
    steps.push(`gateway prefix "${gateway[0]}"`)
  }

  const wasUppercaseTurbo = /-Turbo(?=-|$)/.test(original)
  const spelled = respell(id)
  if (spelled !== id) steps.push(`spelling "${id}" → "${spelled}"`)
  id = spelled

  const isClaude = id.startsWith("claude-")
  const dated = COMPACT_DATE.exec(id) ?? ISO_DATE.exec(id)
  if (dated) {
    const atEnd = dated.index + dated[0].length === id.length
    // A date in the middle of a non-Anthropic id (`…-20250929-thinking`) stays: it names that build.
    if (isClaude || atEnd) {
      date = `${dated[1]}-${dated[2]}-${dated[3]}`
      id = `${id.slice(0, dated.index)}${id.slice(dated.index + dated[0].length)}`
      if (isClaude) steps.push(`date "${date}" (Anthropic's dated id is the model)`)
    }
  }
  id = id.replace(/^(claude-(?:opus|sonnet|haiku)-\d)-0$/, "$1")

  if (wasUppercaseTurbo && !/^(gpt|glm|kimi|grok|qwen-turbo)/.test(id))
    return { ok: false, reason: '"-Turbo" on an open-weights id marks a quantised build' }
  const rejected = rejectReason(id, spelled, name)
  if (rejected) return { ok: false, reason: rejected }

  if (date && !isClaude) {
    const key = `${id}-${date}`
    steps.push(`dated snapshot of "${id}"`)
    return finish(key, steps, { base: id, date })
  }
  return finish(id, steps, undefined)
}

function finish(key: string, steps: string[], snapshot: ModelIdentity["snapshot"]): IdentityResult {
  const detail = steps.length ? `removed ${steps.join(", ")}` : "id is already canonical"
  return { ok: true, identity: snapshot ? { key, detail, snapshot } : { key, detail } }
}

/** Separators, decimal spellings, token order: everything that spells one version differently. */
function respell(id: string): string {
  return (
    id
      // Fireworks writes the decimal point as `p`: `kimi-k2p6`, `glm-5p1`, `llama-v3p1`.
      .replace(/(\d)p(\d)(?!\d)/g, "$1.$2")
      // Venice and Copilot drop it where a two-digit number cannot be a version: `gpt-54`, `minimax-m25`, `claude-opus-41`.
      .replace(/^(gpt-|minimax-m)(\d)(\d)(?=-|$)/, "$1$2.$3")
      .replace(/^(claude-(?:opus|sonnet|haiku)-)(\d)(\d)(?=-|$)/, "$1$2.$3")
      .replace(/[._\s]+/g, "-")
      .replace(/-{2,}/g, "-")
      .replace(/-think$/, "-thinking")
      // Kimi For Coding's `k2p6` (not `k2-think`, MBZUAI's model); OpenRouter's pinned `deepseek-chat-v3-0324` (the bare `deepseek-chat` moves).
      .replace(/^k2(?=-\d)/, "kimi-k2")
      .replace(/^deepseek-chat-v(\d)/, "deepseek-v$1")
      // Family names glue to their version in some catalogs and not others; settle on the common spelling.
      .replace(/^qwen-(\d)/, "qwen$1")
      .replace(/^qwen(\d)(\d)(?=-)/, "qwen$1-$2")
      .replace(/^(llama|gemma|glm|phi)(\d)/, "$1-$2")
      // Anthropic's order: `claude-sonnet-4-5` (4 and later), `claude-3-5-sonnet` (3.x).
      .replace(/^claude-([4-9](?:-\d)?)-(opus|sonnet|haiku)(?=-|$)/, "claude-$2-$1")
      .replace(/^claude-(opus|sonnet|haiku)-(3(?:-\d)?)(?=-|$)/, "claude-$2-$1")
  )
}

/** `key` is the id as it will group, `spelled` the same before dates were taken out (names may carry the date). */
function rejectReason(key: string, spelled: string, name: string): string | undefined {
  if (ROUTER_KEYS.has(key)) return "a router, not a model"
  if (MOVING_ALIASES.has(key) || key.endsWith("-latest")) return "a moving alias: it points at different models over time"
  for (const token of key.split("-")) {
    const why = AMBIGUOUS_TOKENS.get(token)
    if (why) return `"-${token}" marks ${why}`
  }
  return nameDisagreement(spelled, name)
}

/**
 * The name is the catalog's second opinion. A version in the name that the id lacks (`databricks-claude-sonnet-4`
 * named "Claude Sonnet 4.5", Bedrock `deepseek.v3` named "DeepSeek-V3.1"), or a word such as "Uncensored", means the
 * id alone would put the model in the wrong group.
 */
function nameDisagreement(key: string, name: string): string | undefined {
  const plain = name
    .toLowerCase()
    // Google's marketing name for its image models; "nano" there is no size.
    .replace(/nano banana/g, "")
    .replace(/\([^)]*\)/g, " ")
    .replace(/^[^:]*:\s*/, "")
  // The first marker in list order that the name has and the id lacks.
  let found: number | undefined
  for (const word of plain.split(/[^a-z0-9]+/)) {
    const index = MARKER_ORDER.get(word)
    if (index !== undefined && (found === undefined || index < found) && !key.includes(word)) found = index
  }
  if (found !== undefined) return `the name "${name}" says "${NAME_ONLY_MARKERS[found]}", the id does not`
  // A snapshot code in the name ("DeepSeek V3 0324", "Kimi K2 0711") that the id lacks names a different build.
  const undashedKey = key.replace(/-/g, "")
  for (const code of plain.match(/\b\d{4}\b/g) ?? [])
    if (!undashedKey.includes(code)) return `the name "${name}" says "${code}", the id "${key}" does not`
  // Mistral-style ids carry a YYMM code (`mistral-small-2506`) while the name carries the marketing version ("3.2").
  if (/(^|-)\d{4}(-|$)/.test(key)) return undefined
  for (const match of plain.matchAll(/(\d+)\.(\d+)/g)) {
    // "Nova Pro 1.0" is `nova-pro-v1`, "Claude 4.0 Opus" is `claude-opus-4`.
    const version = match[2] === "0" ? `${match[1]}` : `${match[1]}-${match[2]}`
    if (!versionPattern(version).test(key))
      return `the name "${name}" says version ${match[1]}.${match[2]}, the id "${key}" does not`
  }
  return undefined
}

/** The canonical identity key of a concrete model, or undefined when it should not be grouped automatically. */
export function modelIdentity(model: Pick<CatalogModel, "providerID" | "modelID" | "name">): ModelIdentity | undefined {
  const result = identify(model)
  return result.ok ? result.identity : undefined
}
