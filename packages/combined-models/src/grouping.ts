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
import * as R from "remeda"
import type { ResolvedConfig } from "./config.ts"
import { identify, type ModelIdentity } from "./identity.ts"
import { matchesAny, matchesMember, memberRefString } from "./patterns.ts"
import { distinctProviders, orderMembers } from "./priority.ts"
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

type GroupingConfig = Pick<ResolvedConfig, "providerPriority" | "minProviders" | "groups" | "exclude">

const SNAPSHOT_DATE_TOLERANCE_DAYS = 7
const EARLY_RELEASE_TOLERANCE_DAYS = 120
const DAY_MS = 86_400_000

interface Candidate {
  model: CatalogModel
  joined: JoinReason
}

const refKey = (model: Pick<CatalogModel, "providerID" | "modelID">) => `${model.providerID}\u0000${model.modelID}`

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** `YYYY-MM-DD` or `YYYY-MM` to epoch days; undefined when unreadable. */
function releaseDay(date: string | undefined): number | undefined {
  if (!date) return undefined
  const match = /^(\d{4})-(\d{2})(?:-(\d{2}))?/.exec(date)
  if (!match) return undefined
  const ms = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3] ?? "1"))
  return Number.isFinite(ms) ? Math.round(ms / DAY_MS) : undefined
}

/** Most frequent value; ties go to the smallest, so the answer never depends on order. */
function mode<T extends string | number>(values: readonly T[]): T | undefined {
  const counts = new Map<T, number>()
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1)
  let best: T | undefined
  let bestCount = 0
  for (const [value, count] of counts)
    if (count > bestCount || (count === bestCount && best !== undefined && value < best)) {
      best = value
      bestCount = count
    }
  return best
}

function within(a: number, b: number, ratio: number): boolean {
  return Math.abs(a - b) <= ratio * Math.max(a, b)
}

/** Models sorted by provider then model id, so every later step sees the same order whatever the input order. */
function sortedModels(providers: readonly CatalogProvider[]): CatalogModel[] {
  const seen = new Map<string, CatalogModel>()
  for (const provider of providers)
    for (const model of provider.models) {
      const normalized = model.providerID === provider.id ? model : { ...model, providerID: provider.id }
      const key = refKey(normalized)
      // A duplicate ref keeps the first by a content-independent rule: the smallest name, then whatever is equal.
      const existing = seen.get(key)
      if (!existing || compareText(normalized.name, existing.name) < 0) seen.set(key, normalized)
    }
  return [...seen.values()].sort((a, b) => compareText(a.providerID, b.providerID) || compareText(a.modelID, b.modelID))
}

/** Step 3: decide each dated snapshot against its alias. Mutates `buckets`. */
function foldSnapshots(
  buckets: Map<string, Candidate[]>,
  identities: Map<string, ModelIdentity>,
) {
  const snapshotKeys = [...buckets.keys()].filter((key) => {
    const first = buckets.get(key)?.[0]
    return first !== undefined && identities.get(refKey(first.model))?.snapshot !== undefined
  })
  for (const key of snapshotKeys.sort()) {
    const snapshotMembers = buckets.get(key) ?? []
    const snapshot = identities.get(refKey(snapshotMembers[0]!.model))!.snapshot!
    const aliasMembers = buckets.get(snapshot.base)
    if (!aliasMembers?.length) continue
    const aliasDay = mode(aliasMembers.map((entry) => releaseDay(entry.model.releaseDate)).filter(R.isDefined))
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
        if (entry.joined.kind === "identity") entry.joined = { ...entry.joined, detail: `${entry.joined.detail}; kept apart: ${why}` }
      continue
    }
    for (const entry of snapshotMembers)
      if (entry.joined.kind === "identity")
        entry.joined = {
          kind: "identity",
          key: snapshot.base,
          detail: `${entry.joined.detail}; same release date and limits as "${snapshot.base}", so the same model`,
        }
    aliasMembers.push(...snapshotMembers)
    buckets.delete(key)
  }
}

/** Step 4: drop members released long before the group's usual date. */
function dropEarlyReleases(buckets: Map<string, Candidate[]>, ungrouped: UngroupedModel[]) {
  for (const [key, members] of buckets) {
    const usual = mode(members.map((entry) => releaseDay(entry.model.releaseDate)).filter(R.isDefined))
    if (usual === undefined) continue
    const kept = members.filter((entry) => {
      const day = releaseDay(entry.model.releaseDate)
      if (day === undefined || usual - day <= EARLY_RELEASE_TOLERANCE_DAYS) return true
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
  const best = new Map<string, { context: number; output: number; toolCall: boolean }>()
  for (const { model } of candidates) {
    const seen = best.get(model.providerID)
    best.set(model.providerID, {
      context: Math.max(seen?.context ?? 0, model.limit.context),
      output: Math.max(seen?.output ?? 0, model.limit.output),
      toolCall: (seen?.toolCall ?? false) || model.capabilities.toolCall,
    })
  }
  const providers = [...best.values()]
  const lowerMedian = (values: number[]) => values.sort((a, b) => a - b)[(values.length - 1) >> 1]!
  return {
    context: lowerMedian(providers.map((provider) => provider.context)),
    output: lowerMedian(providers.map((provider) => provider.output)),
    providers: providers.length,
    providersWithToolCalls: providers.filter((provider) => provider.toolCall).length,
  }
}

/** 16384 → "16,384", by hand: `toLocaleString` is slow enough to show in the time grouping a whole catalog takes. */
const count = (value: number) => String(value).replace(/\B(?=(\d{3})+$)/g, ",")

/** Why a member would drag its group down; empty when it would not. */
function outlierReasons(model: CatalogModel, typical: Typical): string[] {
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
    const round = kept.flatMap((entry) => {
      if (entry.joined.kind === "manual") return []
      const reasons = outlierReasons(entry.model, typical)
      return reasons.length ? [{ entry, reasons }] : []
    })
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
  const names = members.map((member) => cleanName(member.name)).filter((name) => name !== "")
  if (names.length === 0) return id
  // Names of dated snapshots often carry the date only in parentheses, which cleaning removes; put it back.
  const date = /(20\d\d-\d\d-\d\d)$/.exec(id)?.[1]
  if (date) return `${pickName(names.map((name) => name.replace(/\s*-?\s*\d{4}-\d{2}-\d{2}$/, "")))} (${date})`
  return pickName(names)
}

function pickName(names: readonly string[]): string {
  const counts = R.countBy(names, R.identity())
  return R.sortBy(
    Object.entries(counts),
    // A name that is just an id ("claude-sonnet-4-5") is the last resort.
    [([name]) => (/^[a-z0-9._:/-]+$/.test(name) ? 1 : 0), "asc"],
    [([, count]) => count, "desc"],
    [([name]) => name.length, "asc"],
    [([name]) => name, "asc"],
  )[0]![0]
}

/** "Anthropic: Claude Sonnet 4.5 (latest)" → "Claude Sonnet 4.5". */
function cleanName(name: string): string {
  return name
    .replace(/\s*\([^)]*\)\s*/g, " ")
    .replace(/^[^:]{1,30}:\s+/, "")
    .replace(/^.*\//, "")
    .replace(/\s+/g, " ")
    .trim()
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
  const all = (pick: (capabilities: CatalogModel["capabilities"]) => boolean) =>
    members.every((member) => pick(member.capabilities))
  return {
    reasoning: all((c) => c.reasoning),
    toolCall: all((c) => c.toolCall),
    attachment: all((c) => c.attachment),
    temperature: all((c) => c.temperature),
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
    joined: candidate.joined,
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
  const identities = new Map<string, ModelIdentity>()
  const buckets = new Map<string, Candidate[]>()
  for (const model of models) {
    const result = identify(model)
    if (!result.ok) {
      ungrouped.push({ providerID: model.providerID, modelID: model.modelID, reason: result.reason })
      continue
    }
    identities.set(refKey(model), result.identity)
    const { key, detail } = result.identity
    const entry: Candidate = { model, joined: { kind: "identity", key, detail } }
    const bucket = buckets.get(key)
    if (bucket) bucket.push(entry)
    else buckets.set(key, [entry])
  }
  foldSnapshots(buckets, identities)
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

  // Steps 6 and 7: leave out outliers, build, keep, order.
  const groups: Group[] = []
  for (const [groupID, detected] of buckets) {
    const { kept: candidates, leftOut } = leaveOutOutliers(groupID, detected)
    ungrouped.push(...leftOut)
    const rule = config.groups[groupID]
    const priority = rule?.priority ?? config.providerPriority
    const members = orderMembers(candidates.map(toMember), priority)
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
    groups.push(group)
  }
  groups.sort((a, b) => compareText(a.id, b.id))
  ungrouped.sort((a, b) => compareText(a.providerID, b.providerID) || compareText(a.modelID, b.modelID))
  return { groups, problems, ungrouped }
}
