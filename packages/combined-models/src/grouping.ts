/**
 * From catalog and config to combined groups.
 *
 * 1. `combined_models.exclude` removes members everywhere.
 * 2. Every remaining model gets its identity (identity.ts); models with the same key form a candidate group.
 * 3. A non-Anthropic dated snapshot (`gpt-4o-mini-2024-07-18`) folds into its alias's group only when the catalog
 *    shows the alias was released on that date (±7 days) with the same context and output limits; otherwise it keeps
 *    its own group (`gpt-4o-2024-05-13`: same date as `gpt-4o`, but 4k output against 16k).
 * 4. Sanity check on dates: a member released more than 120 days before the group's usual release date is a
 *    different, older model that happens to share the spelling; it is left out and reported in `ungrouped`. A later
 *    date is normal (gateways list models when they add them) and accepted.
 * 5. Manual rules, keyed by group id: `members` defines the group exactly and takes those models out of every other
 *    group; `add` moves models into the group (creating it when nothing was detected under that id); `exclude`
 *    removes; `name` renames; `priority` orders. A group with `members` or `add` is kept with a single provider: the
 *    user asked for it. Rules that only rename, exclude or order leave the min_providers rule in force.
 * 6. Outliers: the group promises its members' minimum limits and shared capabilities, so one odd member would drag
 *    it down (Poe's 4k-output GPT-4o mini would cut every answer of the combined model at 4k). An automatically detected
 *    member is left out, and reported in `ungrouped`, when it lacks tool calls that most providers in the group have,
 *    or when its context or output limit is below half the group's typical one (`typicalOf` and `LIMIT_THAT_MATTERS`
 *    say how that is measured). Members added by hand are never left out; `add` is how a user brings an outlier back.
 * 7. Groups with fewer than `min_providers` distinct providers are dropped: aliases and region profiles inside one
 *    provider are one quota and count once.
 *
 * Output is sorted by group id, members by priority; nothing depends on catalog order.
 */
import type { ResolvedConfig } from "./config.ts"
import { identify, type ModelIdentity } from "./identity.ts"
import { matchesAny, matchesMember, memberRefString } from "./patterns.ts"
import { distinctProviders, orderMembers, orderMembersByCost } from "./priority.ts"
import type { CatalogModel, CatalogProvider, Group, GroupMember, JoinReason, Modality } from "./types.ts"

export interface GroupingProblem {
  path: string
  message: string
}

export interface UngroupedModel {
  providerID: string
  modelID: string
  reason: string
  /** The group it was detected for and then left out of (early release, outlier); absent when it got no identity. */
  groupID?: string
}

export interface GroupingResult {
  groups: Group[]
  problems: GroupingProblem[]
  /** Models that got no automatic identity or failed a sanity check, with why; for `--explain`. */
  ungrouped: UngroupedModel[]
}

type GroupingConfig = Pick<ResolvedConfig, "providerPriority" | "minProviders" | "groups" | "exclude"> & Partial<Pick<ResolvedConfig, "strategy">>

const SNAPSHOT_DATE_TOLERANCE_DAYS = 7
const EARLY_RELEASE_TOLERANCE_DAYS = 120
const DAY_MS = 86_400_000

/**
 * A model on its way into a group: detected by its identity, or claimed by a rule (`joined` manual). The identity's
 * join reason is made only for members that end up in a group (`joinedOf`); most candidates never get that far.
 */
type Candidate =
  | { model: CatalogModel; identity: ModelIdentity; joined?: IdentityJoin }
  | { model: CatalogModel; identity?: undefined; joined: Extract<JoinReason, { kind: "manual" }> }

type IdentityJoin = Extract<JoinReason, { kind: "identity" }>

function identityJoinOf(candidate: Extract<Candidate, { identity: ModelIdentity }>): IdentityJoin {
  return candidate.joined ?? { kind: "identity", key: candidate.identity.key, detail: candidate.identity.detail }
}

function joinedOf(candidate: Candidate): JoinReason {
  return candidate.identity ? identityJoinOf(candidate) : candidate.joined
}

const refKey = (model: Pick<CatalogModel, "providerID" | "modelID">) => `${model.providerID}\u0000${model.modelID}`

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Release dates repeat across a catalog (one launch day, every gateway); bounded like the identity cache. */
const releaseDays = new Map<string, number | undefined>()

/** `YYYY-MM-DD` or `YYYY-MM` to epoch days; undefined when unreadable. */
function releaseDay(date: string | undefined): number | undefined {
  if (!date) return undefined
  if (releaseDays.has(date)) return releaseDays.get(date)
  if (releaseDays.size >= 10_000) releaseDays.clear()
  const day = parseReleaseDay(date)
  releaseDays.set(date, day)
  return day
}

function parseReleaseDay(date: string): number | undefined {
  const match = /^(\d{4})-(\d{2})(?:-(\d{2}))?/.exec(date)
  if (!match) return undefined
  const ms = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3] ?? "1"))
  return Number.isFinite(ms) ? Math.round(ms / DAY_MS) : undefined
}

/** Distinct values in first-seen order and how often each occurs. A group holds a few: parallel lists, not a map. */
function tally<T>(values: readonly T[]): { distinct: T[]; counts: number[] } {
  const distinct: T[] = []
  const counts: number[] = []
  for (const value of values) {
    const index = distinct.indexOf(value)
    if (index === -1) {
      distinct.push(value)
      counts.push(1)
    } else counts[index]!++
  }
  return { distinct, counts }
}

/** Most frequent value; ties go to the smallest, so the answer never depends on order. */
function mode<T extends string | number>(values: readonly T[]): T | undefined {
  const { distinct, counts } = tally(values)
  let best: T | undefined
  let bestCount = 0
  for (let index = 0; index < distinct.length; index++) {
    const value = distinct[index]!
    const count = counts[index]!
    if (count > bestCount || (count === bestCount && best !== undefined && value < best)) {
      best = value
      bestCount = count
    }
  }
  return best
}

/** The release days of those members that have a readable date. */
function releaseDaysOf(members: readonly Candidate[]): number[] {
  const days: number[] = []
  for (const entry of members) {
    const day = releaseDay(entry.model.releaseDate)
    if (day !== undefined) days.push(day)
  }
  return days
}

function within(a: number, b: number, ratio: number): boolean {
  return Math.abs(a - b) <= ratio * Math.max(a, b)
}

/**
 * Models sorted by provider then model id, so every later step sees the same order whatever the input order. Each
 * provider's models are sorted apart and the providers by id: the same order as sorting the whole list, with fewer
 * comparisons, and duplicates end up side by side, so no map of every model is built (the pass is dominated by
 * allocation; see docs/benchmarks.md).
 */
function sortedModels(providers: readonly CatalogProvider[]): CatalogModel[] {
  const byProvider = new Map<string, CatalogModel[]>()
  for (const provider of providers) {
    const models = provider.models.map((model) => (model.providerID === provider.id ? model : { ...model, providerID: provider.id }))
    const seen = byProvider.get(provider.id)
    byProvider.set(provider.id, seen ? [...seen, ...models] : models)
  }
  const sorted: CatalogModel[] = []
  for (const providerID of [...byProvider.keys()].sort(compareText)) {
    // Stable sort by id then name: of a duplicate ref, the smallest name comes first and is the one kept.
    const models = byProvider.get(providerID)!.sort((a, b) => compareText(a.modelID, b.modelID) || compareText(a.name, b.name))
    for (const model of models) if (sorted.at(-1)?.modelID !== model.modelID || sorted.at(-1)?.providerID !== providerID) sorted.push(model)
  }
  return sorted
}

/** Step 3: decide each dated snapshot against its alias. Mutates `buckets`. */
function foldSnapshots(buckets: Map<string, Candidate[]>) {
  const snapshotKeys = [...buckets.keys()].filter((key) => buckets.get(key)?.[0]?.identity?.snapshot !== undefined)
  for (const key of snapshotKeys.sort()) {
    const snapshotMembers = buckets.get(key) ?? []
    const snapshot = snapshotMembers[0]!.identity!.snapshot!
    const aliasMembers = buckets.get(snapshot.base)
    if (!aliasMembers?.length) continue
    const aliasDay = mode(releaseDaysOf(aliasMembers))
    const snapshotDay = releaseDay(snapshot.date)!
    const aliasOutput = mode(aliasMembers.map((entry) => entry.model.limit.output))!
    const aliasContext = mode(aliasMembers.map((entry) => entry.model.limit.context))!
    const snapshotOutput = mode(snapshotMembers.map((entry) => entry.model.limit.output))!
    const snapshotContext = mode(snapshotMembers.map((entry) => entry.model.limit.context))!
    const sameDate = aliasDay !== undefined && Math.abs(aliasDay - snapshotDay) <= SNAPSHOT_DATE_TOLERANCE_DAYS
    const sameLimits = within(aliasOutput, snapshotOutput, 0.1) && within(aliasContext, snapshotContext, 0.1)
    if (!sameDate || !sameLimits) {
      const why = !sameDate
        ? `"${snapshot.base}" was released ${aliasDay === undefined ? "on an unknown date" : new Date(aliasDay * DAY_MS).toISOString().slice(0, 10)}, not ${snapshot.date}`
        : `limits differ from "${snapshot.base}" (${snapshotContext}/${snapshotOutput} against ${aliasContext}/${aliasOutput} context/output)`
      for (const entry of snapshotMembers)
        if (entry.identity) {
          const joined = identityJoinOf(entry)
          entry.joined = { ...joined, detail: `${joined.detail}; kept apart: ${why}` }
        }
      continue
    }
    for (const entry of snapshotMembers)
      if (entry.identity)
        entry.joined = {
          kind: "identity",
          key: snapshot.base,
          detail: `${identityJoinOf(entry).detail}; same release date and limits as "${snapshot.base}", so the same model`,
        }
    aliasMembers.push(...snapshotMembers)
    buckets.delete(key)
  }
}

/** Step 4: drop members released long before the group's usual date. */
function dropEarlyReleases(buckets: Map<string, Candidate[]>, ungrouped: UngroupedModel[]) {
  for (const [key, members] of buckets) {
    // A lone member is its own usual date. Most buckets are one model at one provider.
    if (members.length < 2) continue
    const usual = mode(releaseDaysOf(members))
    if (usual === undefined) continue
    const inTime = (entry: Candidate) => {
      const day = releaseDay(entry.model.releaseDate)
      return day === undefined || usual - day <= EARLY_RELEASE_TOLERANCE_DAYS
    }
    // Almost every bucket keeps all its members: then nothing is copied.
    if (members.every(inTime)) continue
    const kept = members.filter((entry) => {
      if (inTime(entry)) return true
      ungrouped.push({
        providerID: entry.model.providerID,
        modelID: entry.model.modelID,
        groupID: key,
        reason: `spelled like "${key}" but released ${entry.model.releaseDate}, more than ${EARLY_RELEASE_TOLERANCE_DAYS} days before the others (${new Date(usual * DAY_MS).toISOString().slice(0, 10)}): likely an older model`,
      })
      return false
    })
    buckets.set(key, kept)
  }
}

/**
 * Limits are compared as OpenCode uses them, capped at these. OpenCode never asks for more than 32,000 output tokens
 * (`OUTPUT_TOKEN_MAX` in its provider/transform.ts), so 64k against 128k makes no difference to an answer. A window of
 * 128k tokens already holds a long coding session; a larger one only delays compaction. Without the caps, providers
 * that legitimately serve a model with a smaller window would count as outliers: Copilot serves Gemini 2.5 Pro with
 * 128k against 1M elsewhere, and Claude Opus 4.6 with 32k output against 128k.
 */
const LIMIT_THAT_MATTERS = { context: 128_000, output: 32_000 } as const

/**
 * Left out below half the typical limit. Providers do serve a model at half the usual limit on purpose (Copilot's
 * Claude Sonnet 4.5: 32k output against Anthropic's 64k; its GPT-4.1: 16,384 against 32,768), so exactly half stays.
 * Below half, the real catalog shows almost only members at a third or less of their group (4k or 8k output against
 * 16k or 32k, windows of 8k to 40k against 128k, limits of 0): missing data or a cut-down deployment that would cut
 * answers short, not another way of serving the same model.
 */
const OUTLIER_RATIO = 0.5

/**
 * Catalogs write "16k" as 16,000, 16,384 or 16,400, so half is taken with this much room: 8,192 against a typical
 * 16,400, or 16,000 against 32,768, is half of the same number written another way and stays.
 */
const SPELLING_ROOM = 1_024 / 1_000

type LimitName = keyof typeof LIMIT_THAT_MATTERS

interface Typical {
  context: number
  output: number
  providers: number
  providersWithToolCalls: number
}

/**
 * What a group usually offers. Each provider counts once, with its best member, so Bedrock's region profiles or a
 * gateway's aliases never outvote other providers. The typical limit is the lower median over providers: being below
 * half of it then always means that a strict majority of providers offer more than twice as much, and with two
 * providers (the lower median is the smaller one) neither is an outlier, since neither is typical.
 */
function typicalOf(candidates: readonly Candidate[]): Typical {
  // A group has a handful of providers: parallel lists searched in place allocate less than a map per group.
  const providers: string[] = []
  const contexts: number[] = []
  const outputs: number[] = []
  let providersWithToolCalls = 0
  const toolCalls: boolean[] = []
  for (const { model } of candidates) {
    const index = providers.indexOf(model.providerID)
    if (index === -1) {
      providers.push(model.providerID)
      contexts.push(model.limit.context)
      outputs.push(model.limit.output)
      toolCalls.push(model.capabilities.toolCall)
      if (model.capabilities.toolCall) providersWithToolCalls++
      continue
    }
    contexts[index] = Math.max(contexts[index]!, model.limit.context)
    outputs[index] = Math.max(outputs[index]!, model.limit.output)
    if (model.capabilities.toolCall && !toolCalls[index]) {
      toolCalls[index] = true
      providersWithToolCalls++
    }
  }
  const lowerMedian = (values: number[]) => values.sort((a, b) => a - b)[(values.length - 1) >> 1]!
  return { context: lowerMedian(contexts), output: lowerMedian(outputs), providers: providers.length, providersWithToolCalls }
}

/** 16384 → "16,384", by hand: `toLocaleString` is slow enough to show in the time grouping a whole catalog takes. */
const count = (value: number) => String(value).replace(/\B(?=(\d{3})+$)/g, ",")

/** Why a member would drag its group down; empty when it would not. */
const NO_REASONS: readonly string[] = []

function outlierReasons(model: CatalogModel, typical: Typical): readonly string[] {
  if (!isOutlier(model, typical)) return NO_REASONS
  const reasons: string[] = []
  if (!model.capabilities.toolCall && typical.providersWithToolCalls * 2 > typical.providers)
    reasons.push(`no tool calls, while ${typical.providersWithToolCalls} of the group's ${typical.providers} providers have them`)
  for (const limit of ["context", "output"] as const satisfies readonly LimitName[]) {
    const cap = LIMIT_THAT_MATTERS[limit]
    if (Math.min(model.limit[limit], cap) * SPELLING_ROOM >= OUTLIER_RATIO * Math.min(typical[limit], cap)) continue
    const capped =
      typical[limit] <= cap ? "" : limit === "output" ? ` (OpenCode asks for ${count(cap)} at most)` : ` (a window past ${count(cap)} only delays compaction)`
    reasons.push(`${limit} limit ${count(model.limit[limit])} is below half the group's typical ${count(typical[limit])}${capped}`)
  }
  return reasons
}

/** The test of `outlierReasons` without its words: almost every member passes, and passing allocates nothing. */
function isOutlier(model: CatalogModel, typical: Typical): boolean {
  if (!model.capabilities.toolCall && typical.providersWithToolCalls * 2 > typical.providers) return true
  const { context, output } = LIMIT_THAT_MATTERS
  return (
    Math.min(model.limit.context, context) * SPELLING_ROOM < OUTLIER_RATIO * Math.min(typical.context, context) ||
    Math.min(model.limit.output, output) * SPELLING_ROOM < OUTLIER_RATIO * Math.min(typical.output, output)
  )
}

/**
 * Step 6: leave out automatically detected members that would drag the group's limits or capabilities down. Repeats
 * until nothing more is left out, because leaving out a low member raises the typical limit; stopping after one round
 * would make grouping the kept members again leave out more.
 */
function leaveOutOutliers(groupID: string, candidates: readonly Candidate[]): { kept: Candidate[]; leftOut: UngroupedModel[] } {
  let kept = [...candidates]
  const leftOut: UngroupedModel[] = []
  // Most candidate groups are one model at one provider, which has nothing to stand out from.
  if (kept.length < 2) return { kept, leftOut }
  for (;;) {
    const typical = typicalOf(kept)
    const round: { entry: Candidate; reasons: readonly string[] }[] = []
    for (const entry of kept) {
      if (!entry.identity) continue
      const reasons = outlierReasons(entry.model, typical)
      if (reasons.length) round.push({ entry, reasons })
    }
    if (round.length === 0) return { kept, leftOut }
    for (const { entry, reasons } of round)
      leftOut.push({
        providerID: entry.model.providerID,
        modelID: entry.model.modelID,
        groupID,
        reason: `${reasons.join("; ")}; add it by hand with combined_models.groups.${groupID}.add if you want it`,
      })
    kept = kept.filter((entry) => !round.some((outlier) => outlier.entry === entry))
  }
}

/** Display name: the most common cleaned member name, ties to the shortest then alphabetical. */
function displayName(members: readonly GroupMember[], id: string): string {
  const names: string[] = []
  for (const member of members) {
    const name = cleanName(member.name)
    if (name !== "") names.push(name)
  }
  if (names.length === 0) return id
  // Names of dated snapshots often carry the date only in parentheses, which cleaning removes; put it back.
  const date = /(20\d\d-\d\d-\d\d)$/.exec(id)?.[1]
  if (date) return `${pickName(names.map((name) => name.replace(/\s*-?\s*\d{4}-\d{2}-\d{2}$/, "")))} (${date})`
  return pickName(names)
}

/** A name that is just an id ("claude-sonnet-4-5") is the last resort. */
const ID_LIKE = /^[a-z0-9._:/-]+$/

/** The most common name; ties to a real name over an id, then the shortest, then alphabetical. One pass, no sort. */
function pickName(names: readonly string[]): string {
  const { distinct, counts } = tally(names)
  let best = 0
  for (let index = 1; index < distinct.length; index++) if (betterName(distinct[index]!, counts[index]!, distinct[best]!, counts[best]!)) best = index
  return distinct[best]!
}

function betterName(name: string, count: number, than: string, thanCount: number): boolean {
  const idLike = ID_LIKE.test(name)
  if (idLike !== ID_LIKE.test(than)) return !idLike
  if (count !== thanCount) return count > thanCount
  if (name.length !== than.length) return name.length < than.length
  return name < than
}

/** Member names repeat across a catalog (one model at every gateway); cleaning is four regular expressions. */
const cleanNames = new Map<string, string>()

/** "Anthropic: Claude Sonnet 4.5 (latest)" → "Claude Sonnet 4.5". */
function cleanName(name: string): string {
  const cached = cleanNames.get(name)
  if (cached !== undefined) return cached
  const cleaned = name
    .replace(/\s*\([^)]*\)\s*/g, " ")
    .replace(/^[^:]{1,30}:\s+/, "")
    .replace(/^.*\//, "")
    .replace(/\s+/g, " ")
    .trim()
  if (cleanNames.size >= 20_000) cleanNames.clear()
  cleanNames.set(name, cleaned)
  return cleaned
}

function intersectModalities(lists: readonly Modality[][]): Modality[] {
  const [first, ...rest] = lists
  if (!first) return []
  return first.filter((modality) => rest.every((list) => list.includes(modality)))
}

function combineLimits(members: readonly GroupMember[]): CatalogModel["limit"] {
  const context = Math.min(...members.map((member) => member.limit.context))
  const output = Math.min(...members.map((member) => member.limit.output))
  if (!members.some((member) => member.limit.input !== undefined)) return { context, output }
  const input = Math.min(...members.map((member) => member.limit.input ?? member.limit.context))
  return { context, input, output }
}

function combineCapabilities(members: readonly GroupMember[]): CatalogModel["capabilities"] {
  let reasoning = true
  let toolCall = true
  let attachment = true
  let temperature = true
  for (const { capabilities } of members) {
    reasoning &&= capabilities.reasoning
    toolCall &&= capabilities.toolCall
    attachment &&= capabilities.attachment
    temperature &&= capabilities.temperature
  }
  return {
    reasoning,
    toolCall,
    attachment,
    temperature,
    input: intersectModalities(members.map((member) => member.capabilities.input)),
    output: intersectModalities(members.map((member) => member.capabilities.output)),
  }
}

function toMember(candidate: Candidate): GroupMember {
  const { model } = candidate
  const member: GroupMember = {
    providerID: model.providerID,
    modelID: model.modelID,
    name: model.name,
    limit: model.limit,
    capabilities: model.capabilities,
    joined: joinedOf(candidate),
  }
  if (model.cost) member.cost = model.cost
  if (model.releaseDate) member.releaseDate = model.releaseDate
  return member
}

/** Up to three catalog refs that look like what a pattern meant, for the fix in a problem message. */
/**
 * One concrete model as a group of one, for a `provider/model` entry of a fallback chain: routing, cooldowns and
 * failover then treat it as they treat any combined model.
 */
export function singleModelGroup(model: CatalogModel): Group {
  const member = toMember({ model, joined: { kind: "manual", rule: "fallback_models" } })
  return {
    id: `${model.providerID}/${model.modelID}`,
    name: model.name,
    members: [member],
    providers: [model.providerID],
    limit: model.limit,
    capabilities: model.capabilities,
    manual: true,
  }
}

function suggestions(pattern: string, models: readonly CatalogModel[]): string {
  const needle = pattern.toLowerCase().split("/").pop()!.replace(/\*/g, "").replace(/[._]/g, "-")
  if (needle.length < 2) return ""
  const close = models
    .filter((model) => model.modelID.toLowerCase().replace(/[._]/g, "-").includes(needle))
    .slice(0, 3)
    .map(memberRefString)
  return close.length ? `; similar: ${close.join(", ")}` : ""
}

function unmatched(path: string, pattern: string, models: readonly CatalogModel[]): GroupingProblem {
  return {
    path,
    message: `"${pattern}" matches no model in the catalog; check the provider id and model id (run \`combined-models groups --catalog … \` to list them)${suggestions(pattern, models)}`,
  }
}

export function buildGroups(providers: readonly CatalogProvider[], config: GroupingConfig): GroupingResult {
  const problems: GroupingProblem[] = []
  const ungrouped: UngroupedModel[] = []
  const allModels = sortedModels(providers)

  config.exclude.forEach((pattern, index) => {
    if (!allModels.some((model) => matchesMember(pattern, model)))
      problems.push(unmatched(`combined_models.exclude[${index}]`, pattern, allModels))
  })
  const models = allModels.filter((model) => !matchesAny(config.exclude, model))

  // Step 2: identities and candidate groups.
  const buckets = new Map<string, Candidate[]>()
  for (const model of models) {
    const result = identify(model)
    if (!result.ok) {
      ungrouped.push({ providerID: model.providerID, modelID: model.modelID, reason: result.reason })
      continue
    }
    const { identity } = result
    const { key } = identity
    const entry: Candidate = { model, identity }
    const bucket = buckets.get(key)
    if (bucket) bucket.push(entry)
    else buckets.set(key, [entry])
  }
  foldSnapshots(buckets)
  dropEarlyReleases(buckets, ungrouped)

  // Step 5: manual rules, in group id order so a model claimed twice goes to the same group every time.
  const manualIds = Object.keys(config.groups).sort()
  const keptWithOneProvider = new Set<string>()
  const claimedBy = new Map<string, string>()
  const removeEverywhere = (model: CatalogModel) => {
    for (const [key, members] of buckets) {
      const index = members.findIndex((entry) => refKey(entry.model) === refKey(model))
      if (index !== -1) {
        members.splice(index, 1)
        if (members.length === 0) buckets.delete(key)
      }
    }
  }
  const claim = (groupID: string, list: readonly string[], field: "members" | "add") => {
    const claimed: Candidate[] = []
    list.forEach((pattern, index) => {
      const path = `combined_models.groups.${groupID}.${field}[${index}]`
      const matched = models.filter((model) => matchesMember(pattern, model))
      if (matched.length === 0) {
        problems.push(
          allModels.some((model) => matchesMember(pattern, model))
            ? { path, message: `"${pattern}" only matches models excluded by combined_models.exclude` }
            : unmatched(path, pattern, allModels),
        )
        return
      }
      for (const model of matched) {
        const owner = claimedBy.get(refKey(model))
        if (owner !== undefined && owner !== groupID) {
          problems.push({
            path,
            message: `${memberRefString(model)} is already a member of "${owner}" by hand; it stays there (remove it from one of the two groups)`,
          })
          continue
        }
        if (owner === groupID) continue
        claimedBy.set(refKey(model), groupID)
        claimed.push({ model, joined: { kind: "manual", rule: `${path}: "${pattern}"` } })
      }
    })
    for (const entry of claimed) removeEverywhere(entry.model)
    return claimed
  }

  for (const groupID of manualIds) {
    const rule = config.groups[groupID]!
    if (!rule.members) continue
    if (rule.add)
      problems.push({
        path: `combined_models.groups.${groupID}.add`,
        message: `"add" is ignored when "members" defines the group; list every member under "members"`,
      })
    const claimed = claim(groupID, rule.members, "members")
    buckets.delete(groupID)
    if (claimed.length) buckets.set(groupID, claimed)
    keptWithOneProvider.add(groupID)
  }
  for (const groupID of manualIds) {
    const rule = config.groups[groupID]!
    if (rule.members || !rule.add) continue
    const claimed = claim(groupID, rule.add, "add")
    if (!claimed.length) continue
    buckets.set(groupID, [...(buckets.get(groupID) ?? []), ...claimed])
    keptWithOneProvider.add(groupID)
  }
  for (const groupID of manualIds) {
    const rule = config.groups[groupID]!
    const members = buckets.get(groupID)
    rule.exclude?.forEach((pattern, index) => {
      const path = `combined_models.groups.${groupID}.exclude[${index}]`
      if (!members?.some((entry) => matchesMember(pattern, entry.model)))
        problems.push(
          allModels.some((model) => matchesMember(pattern, model))
            ? { path, message: `"${pattern}" is not a member of "${groupID}"; nothing to exclude` }
            : unmatched(path, pattern, allModels),
        )
    })
    if (members && rule.exclude?.length) {
      const kept = members.filter((entry) => !matchesAny(rule.exclude!, entry.model))
      if (kept.length) buckets.set(groupID, kept)
      else buckets.delete(groupID)
    }
    if (!buckets.has(groupID) && !rule.members && !rule.add)
      problems.push({
        path: `combined_models.groups.${groupID}`,
        message: `no group "${groupID}" was detected in the catalog, so this rule changes nothing; use "members" to define it by hand or check the id with \`combined-models groups\``,
      })
  }

  const groups: Group[] = []
  for (const [groupID, detected] of buckets) {
    const rule = config.groups[groupID]
    // Most buckets are one model at one provider: nothing to leave out, too few providers, no rule to report on.
    if (detected.length === 1 && config.minProviders > 1 && !rule && !keptWithOneProvider.has(groupID)) continue
    const { kept: candidates, leftOut } = leaveOutOutliers(groupID, detected)
    ungrouped.push(...leftOut)
    const priority = rule?.priority ?? config.providerPriority
    const strategy = rule?.strategy ?? config.strategy ?? "priority"
    const members = (strategy === "cost" ? orderMembersByCost : orderMembers)(candidates.map(toMember), priority)
    const providerIDs = distinctProviders(members)
    if (providerIDs.length < config.minProviders && !keptWithOneProvider.has(groupID)) {
      if (rule)
        problems.push({
          path: `combined_models.groups.${groupID}`,
          message: `"${groupID}" is offered by ${providerIDs.length} provider${providerIDs.length === 1 ? "" : "s"} (${providerIDs.join(", ")}), fewer than min_providers (${config.minProviders}); add members with "add" to keep it`,
        })
      continue
    }
    const group: Group = {
      id: groupID,
      name: rule?.name ?? displayName(members, groupID),
      members,
      providers: providerIDs,
      limit: combineLimits(members),
      capabilities: combineCapabilities(members),
      manual: rule !== undefined,
    }
    if (rule?.priority) group.priority = rule.priority
    if (strategy !== "priority") group.strategy = strategy
    groups.push(group)
  }
  groups.sort((a, b) => compareText(a.id, b.id))
  ungrouped.sort((a, b) => compareText(a.providerID, b.providerID) || compareText(a.modelID, b.modelID))
  return { groups, problems, ungrouped }
}
