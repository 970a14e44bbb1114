/**
 * Routing: which member of a group serves the next request. Pure: the group, a view of provider health, the
 * config and what the request needs go in; a member (or why none) comes out.
 */
import type { ResolvedConfig } from "./config.ts"
import type { CooldownEntry, HealthView } from "./health.ts"
import { matchesMember } from "./patterns.ts"
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
  /** Providers that already failed in this turn: one provider is one quota, so none of its members is tried again. */
  failedProviders?: readonly string[]
  /** The member that last answered: kept while it is healthy (sticky), so the prompt cache survives. */
  stickTo?: MemberRef
}

export type SkipWhy = "not_allowed" | "excluded" | "failed_this_turn" | "too_small" | "cooling"

export interface SkippedMember {
  member: MemberRef
  why: SkipWhy
  reason?: FailureReason
  until?: number
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
  options: { now: number; access?: Access },
): PickResult {
  const skipped: SkippedMember[] = []
  const cooling: { member: GroupMember; entry: CooldownEntry }[] = []
  const ready: GroupMember[] = []
  const failed = new Set(need.failedProviders ?? [])
  const coolingOf = providerCooldowns(group.members, health, options.now)

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
    if (need.contextTokens !== undefined && inputWindow(member) < need.contextTokens) {
      skipped.push({ member: ref, why: "too_small" })
      continue
    }
    const entry = coolingOf.get(member.providerID)
    if (entry) {
      skipped.push({ member: ref, why: "cooling", reason: entry.reason, until: entry.until })
      cooling.push({ member, entry })
      continue
    }
    ready.push(member)
  }

  const sticky = need.stickTo && ready.find((member) => sameMember(member, need.stickTo))
  const chosen = sticky ?? ready[0]
  if (chosen) return { kind: "member", member: chosen, skipped }

  const soonest = cooling
    .filter(({ entry }) => Number.isFinite(entry.until))
    .sort((a, b) => a.entry.until - b.entry.until)[0]
  if (soonest) return { kind: "wait", member: soonest.member, until: soonest.entry.until, skipped }
  return { kind: "none", skipped }
}
