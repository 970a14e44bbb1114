/**
 * Routing: which member of a group serves the next request. Pure: the group, a view of provider health, the
 * config and what the request needs go in; a member (or why none) comes out.
 */
import type { ResolvedConfig } from "./config.ts"
import type { CooldownEntry, HealthView } from "./health.ts"
import { headroomShare, shortOf, type LimitsView, type StepSize } from "./limits.ts"
import { matchesMember } from "./patterns.ts"
import { distinctProviders } from "./priority.ts"
import type { FailureReason, Group, GroupMember, MemberRef } from "./types.ts"

/**
 * Who the user can and may use. OpenCode only loads providers that are enabled and have credentials, so groups
 * built from its state already respect this; routing checks again because cooldowns, config and credentials
 * change while a session runs.
 */
export interface Access {
  /** Providers with credentials (OpenCode's connected providers). Absent: every provider counts as connected. */
  connected?: ReadonlySet<string>
  /** `enabled_providers` from opencode.json: when set, nothing else is used. */
  enabled?: ReadonlySet<string>
  /** `disabled_providers` from opencode.json. */
  disabled?: ReadonlySet<string>
}

export interface RouteNeed {
  /** Tokens the request needs (history, system prompt and room for the answer); members with less are skipped. */
  contextTokens?: number
  /** Of those, the prefix the member that served the last step holds in its prompt cache (read ahead leaves it out where the provider's limits do). */
  cached?: StepSize["cached"]
  /** How much more than `contextTokens` the step may spend against a rate limit (`StepSize.margin`). */
  margin?: number
  /** Providers that already failed in this turn: one provider is one quota, so none of its members is tried again. */
  failedProviders?: readonly string[]
  /** The member that last answered: kept while it is healthy (sticky), so the prompt cache survives. */
  stickTo?: MemberRef
  /**
   * With the context-window fallback on: members whose usable window (what OpenCode fills before it compacts) is
   * this many tokens or less come after the ones with room, so the conversation moves instead of being compacted.
   */
  roomFor?: number
  /** OpenCode's `compaction.reserved`, when set: part of the usable window. */
  reserved?: number
  /** The conversation no longer fits a window this size (a provider said so): smaller members are skipped. */
  minWindow?: number
  /** `round_robin`: how many places the order turns for this turn (a counter that grows by one a turn). */
  rotation?: number
}

export type SkipWhy = "not_allowed" | "excluded" | "failed_this_turn" | "too_small" | "cooling" | "near_limit"

export interface SkippedMember {
  member: MemberRef
  why: SkipWhy
  reason?: FailureReason
  until?: number
  /** For `cooling`: the cooldown, which says why, how far it reaches and what brings the member back. */
  entry?: CooldownEntry
}

export type PickResult =
  | { kind: "member"; member: GroupMember; skipped: SkippedMember[] }
  /** Every usable member is cooling down; `member` is the one back soonest. */
  | { kind: "wait"; member: GroupMember; until: number; skipped: SkippedMember[] }
  | { kind: "none"; skipped: SkippedMember[] }

export function sameMember(a: MemberRef | undefined, b: MemberRef | undefined): boolean {
  return !!a && !!b && a.providerID === b.providerID && a.modelID === b.modelID
}

/** Just the reference, without the member's catalog data: what goes into state and actions. */
export function refOf(member: MemberRef): MemberRef {
  return { providerID: member.providerID, modelID: member.modelID }
}

/** `"openrouter/anthropic/claude-sonnet-4.5"` → provider and model: the provider id ends at the first slash. */
export function parseModelRef(reference: string): MemberRef | undefined {
  const slash = reference.indexOf("/")
  if (slash <= 0 || slash === reference.length - 1) return undefined
  return { providerID: reference.slice(0, slash), modelID: reference.slice(slash + 1) }
}

export function memberKey(member: MemberRef): string {
  return `${member.providerID}/${member.modelID}`
}

export function isAllowed(providerID: string, access: Access | undefined): boolean {
  if (!access) return true
  if (access.enabled && !access.enabled.has(providerID)) return false
  if (access.disabled?.has(providerID)) return false
  if (access.connected && !access.connected.has(providerID)) return false
  return true
}

/** The window a member gives a request: its input limit when it has one, else the whole context. */
export function inputWindow(member: GroupMember): number {
  return member.limit.input ?? member.limit.context
}

/**
 * The tokens OpenCode lets a conversation reach on this member before it compacts (`session/overflow.ts` at the pin:
 * the input limit less `compaction.reserved`, by default up to 20k, or the context less the answer's room, at most
 * 32k).
 */
export function usableWindow(member: GroupMember, reserved?: number): number {
  const answer = Math.min(member.limit.output || 32_000, 32_000)
  if (member.limit.input) return Math.max(0, member.limit.input - (reserved ?? Math.min(20_000, answer)))
  return Math.max(0, member.limit.context - answer)
}

/**
 * The longest cooldown of each provider over all its ids in the group: an alias, its dated snapshot and region
 * profiles of one model at one provider share one quota, so when one of them is cooling they all are.
 */
export function providerCooldowns(members: readonly MemberRef[], health: HealthView, now: number): Map<string, CooldownEntry> {
  const longest = new Map<string, CooldownEntry>()
  for (const member of members) {
    const entry = health.cooldownOf({ providerID: member.providerID, modelID: member.modelID }, now)
    const known = longest.get(member.providerID)
    if (entry && (!known || entry.until > known.until)) longest.set(member.providerID, entry)
  }
  return longest
}

export function pick(
  group: Group,
  health: HealthView,
  config: Pick<ResolvedConfig, "exclude">,
  need: RouteNeed = {},
  options: { now: number; access?: Access; limits?: LimitsView },
): PickResult {
  const skipped: SkippedMember[] = []
  const cooling: { member: GroupMember; entry: CooldownEntry }[] = []
  const ready: GroupMember[] = []
  const failed = new Set(need.failedProviders ?? [])
  const coolingOf = providerCooldowns(group.members, health, options.now)
  const needed = Math.max(need.contextTokens ?? 0, need.minWindow ?? 0)

  for (const member of group.members) {
    const ref = { providerID: member.providerID, modelID: member.modelID }
    if (!isAllowed(member.providerID, options.access)) {
      skipped.push({ member: ref, why: "not_allowed" })
      continue
    }
    if (config.exclude.some((pattern) => matchesMember(pattern, ref))) {
      skipped.push({ member: ref, why: "excluded" })
      continue
    }
    if (failed.has(member.providerID)) {
      skipped.push({ member: ref, why: "failed_this_turn" })
      continue
    }
    if (needed > 0 && inputWindow(member) < needed) {
      skipped.push({ member: ref, why: "too_small" })
      continue
    }
    const entry = coolingOf.get(member.providerID)
    if (entry) {
      skipped.push({ member: ref, why: "cooling", reason: entry.reason, until: entry.until, entry })
      cooling.push({ member, entry })
      continue
    }
    ready.push(member)
  }

  const chosen = choose(group, ready, need, options, skipped)
  if (chosen) return { kind: "member", member: chosen, skipped }

  const soonest = cooling
    .filter(({ entry }) => Number.isFinite(entry.until))
    .sort((a, b) => a.entry.until - b.entry.until)[0]
  if (soonest) return { kind: "wait", member: soonest.member, until: soonest.entry.until, skipped }
  return { kind: "none", skipped }
}

/**
 * The member to use among the ready ones. Members without room come last, each kind only while another has it:
 * first those a step of this size would push past their usable window (with the context-window fallback on), then
 * those whose rate-limit headers say this step would exceed what they have left before the reset. Then the
 * strategy orders what is left, and the sticky member wins when it is among it.
 */
function choose(group: Group, ready: GroupMember[], need: RouteNeed, options: { now: number; limits?: LimitsView }, skipped: SkippedMember[]) {
  let candidates = ready
  if (need.roomFor !== undefined) {
    const roomy = candidates.filter((member) => usableWindow(member, need.reserved) > need.roomFor!)
    if (roomy.length > 0) {
      for (const member of candidates) if (!roomy.includes(member)) skipped.push({ member: refOf(member), why: "too_small" })
      candidates = roomy
    }
  }
  const { limits, now } = options
  if (limits) {
    const short = new Map<GroupMember, number>()
    for (const member of candidates) {
      const size = need.contextTokens === undefined ? undefined : { tokens: need.contextTokens, cached: need.cached, margin: need.margin }
      const gap = shortOf(limits.headroomOf(refOf(member), now), size, now, member)
      if (gap) short.set(member, gap.resetAt)
    }
    if (short.size > 0 && short.size < candidates.length) {
      for (const [member, until] of short) skipped.push({ member: refOf(member), why: "near_limit", until })
      candidates = candidates.filter((member) => !short.has(member))
    }
  }
  if (candidates.length === 0) return undefined
  const sticky = need.stickTo && candidates.find((member) => sameMember(member, need.stickTo))
  if (sticky) return sticky
  return ordered(group, candidates, need, options)[0]
}

/** A provider's place in the order turned `turn` places. */
function rotated(providers: readonly string[], turn: number, providerID: string): number {
  return (providers.indexOf(providerID) - turn + providers.length) % providers.length
}

/** The ready members in the order the group's strategy gives them now. */
export function ordered(group: Pick<Group, "strategy">, members: GroupMember[], need: RouteNeed, options: { now: number; limits?: LimitsView }): GroupMember[] {
  // After a provider said the conversation does not fit: the smallest window that fits, so cost grows no more than it must.
  if (need.minWindow !== undefined) return [...members].sort((a, b) => inputWindow(a) - inputWindow(b))
  if (group.strategy === "round_robin") {
    // Turns go round the providers, not their ids: an alias and its dated snapshot (or two region profiles) are one
    // provider, one quota, and would otherwise get two turns in a row.
    const providers = distinctProviders(members)
    if (providers.length < 2) return members
    const turn = (((need.rotation ?? 0) % providers.length) + providers.length) % providers.length
    // Stable: inside one provider its members keep their order.
    return [...members].sort((a, b) => rotated(providers, turn, a.providerID) - rotated(providers, turn, b.providerID))
  }
  if (group.strategy === "least_limited" && options.limits) {
    const { limits, now } = options
    // Only members whose headers were read are ranked, among the places they hold in the priority order: a provider
    // that sends no headers (Copilot, Bedrock) keeps its place, rather than outranking every one that reports.
    const share = new Map<GroupMember, number>()
    for (const member of members) {
      const headroom = limits.headroomOf(refOf(member), now)
      if (headroom) share.set(member, headroomShare(headroom, now, need.contextTokens))
    }
    if (share.size < 2) return members
    const read = members.filter((member) => share.has(member))
    // Stable: equal headroom keeps the priority order.
    const ranked = [...read].sort((a, b) => share.get(b)! - share.get(a)!)
    return members.map((member) => (share.has(member) ? ranked.shift()! : member))
  }
  return members
}
