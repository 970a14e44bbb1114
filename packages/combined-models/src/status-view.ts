/**
 * The status view both OpenCode editions show (`opencode combined`, `/combined`, the OpenCode 2 status command): each
 * combined model's members in order with their health, the latest switches, and where each order comes from. Plain
 * data in (`CombinedStatus`), text out; gathering the data is each adapter's part.
 */
import type { Headroom } from "./limits.ts"
import { describeFailure, formatDuration, formatTokens } from "./label.ts"
import { entryScope } from "./health-store.ts"
import type { CooldownScope, HealthView } from "./health.ts"
import { isRecord } from "./record.ts"
import type { ClassifiedError, FailureReason, MemberRef } from "./types.ts"

export type MemberHealth =
  | { state: "healthy" }
  | {
      state: "cooling"
      reason: FailureReason
      /** `anthropic rate-limited`. */
      why: string
      /** The provider's own words, redacted. */
      message: string
      /** Epoch ms; null = until re-authenticated (JSON has no Infinity). */
      until: number | null
      /** Whole provider (its credential or its endpoint) or this model only. */
      scope: "provider" | "model"
      /** What the cooldown keeps out: this member, every model of its credential, or of its endpoint. */
      reach?: CooldownScope
      /** For a refused credential: the changes that bring the provider back before `until`. */
      backWith?: string[]
    }

export interface MemberStatus {
  providerID: string
  modelID: string
  /** What the provider's latest answer said it has left, when it sent rate-limit headers. */
  limits?: Headroom
  /** The provider's display name in OpenCode, e.g. `GitHub Copilot`. */
  providerName: string
  health: MemberHealth
}

export interface GroupStatus {
  id: string
  name: string
  members: MemberStatus[]
  /**
   * Where the members' order comes from: the strategy (`cost`, `round_robin`, `least_limited`), the group's own
   * `priority`, `provider_priority`, or neither (alphabetical). Under `least_limited` the members are listed in the
   * order it gives now.
   */
  order: "cost" | "round_robin" | "least_limited" | "group" | "provider_priority" | "alphabetical"
}

export interface CombinedStatus {
  /** `combined`: models are picked as `combined/<group id>`. */
  providerID: string
  providerName: string
  /** When this was read, epoch ms; time left is counted from here. */
  now: number
  groups: GroupStatus[]
  /** Oldest first. */
  switches: SwitchRecord[]
  /** Config warnings from the latest grouping (unknown providers in `provider_priority`, rules that matched nothing). */
  warnings: string[]
  /** Where cooldowns are shared: the machine's health file, or Redis (credentials left out) with its state. */
  healthStore: { kind: "file" } | { kind: "redis"; where: string; synced: boolean; problem?: string }
}

export interface SwitchRecord {
  at: number
  sessionID: string
  groupID: string
  from: MemberRef
  to: MemberRef
  reason: ClassifiedError["reason"]
  notice: string
  /** How far down the fallback chain the turn went with this switch: 0 is the selected model. */
  depth?: number
}

/** A member's health as the views show it, from the shared registry (or any view of the health file). */
export function memberHealth(view: HealthView, member: MemberRef, now: number): MemberHealth {
  const entry = view.cooldownOf(member, now)
  if (!entry) return { state: "healthy" }
  return {
    state: "cooling",
    reason: entry.reason,
    why: describeFailure(member.providerID, entry, member.modelID),
    message: entry.message,
    until: Number.isFinite(entry.until) ? entry.until : null,
    scope: entryScope(entry) === "model" ? "model" : "provider",
    reach: entryScope(entry),
  }
}

const SWITCHES_SHOWN = 10

const ORDER_SOURCE: Record<GroupStatus["order"], (id: string) => string> = {
  cost: () => "strategy cost: cheapest first, then priority",
  round_robin: () => "strategy round_robin: each turn starts at the next healthy provider of this order",
  least_limited: () => "strategy least_limited: most left first by the latest rate-limit headers, then priority",
  group: (id) => `combined_models.groups.${id}.priority`,
  provider_priority: () => "provider_priority, then alphabetical",
  alphabetical: () => "alphabetical; set provider_priority to choose",
}

export function healthText(health: MemberHealth, now: number, withMessage = true): string {
  if (health.state === "healthy") return "healthy"
  const left = health.until === null ? "until re-authenticated" : `${formatDuration(health.until - now)} left`
  const scope = health.reach === "credential" ? ", every model of this account" : health.scope === "provider" ? ", whole provider" : ""
  const message = health.message && withMessage ? `: ${health.message}` : ""
  const sooner = health.backWith?.length ? `; back sooner with ${orList(health.backWith)}` : ""
  return `cooling down (${health.why}${scope}${message}), ${left}${sooner}`
}

/** `12k of 40k tokens left, resets in 40 s`: the tighter window the provider's last answer stated. */
function limitsText(limits: Headroom, now: number): string {
  const window = (name: string, w: Headroom["tokens"]) => {
    if (!w || (w.resetAt !== undefined && w.resetAt <= now)) return undefined
    const of = w.limit !== undefined ? ` of ${formatTokens(w.limit)}` : ""
    const reset = w.resetAt !== undefined ? `, resets in ${formatDuration(w.resetAt - now)}` : ""
    return `${formatTokens(w.remaining)}${of} ${name} left${reset}`
  }
  return [window("tokens", limits.tokens), window("requests", limits.requests)].filter(Boolean).join("; ")
}

function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`
}

export function clockTime(at: number): string {
  return new Date(at).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z")
}

/** The text `opencode combined` prints. Pure: the same status always renders the same way. */
export function renderCombinedStatus(status: CombinedStatus): string {
  const lines: string[] = []
  // First, where they are seen: a typo in the config explains what follows (a provider missing from every order).
  if (status.warnings.length) {
    for (const warning of status.warnings) lines.push(`warning: ${warning}`)
    lines.push("")
  }
  if (status.groups.length === 0) {
    lines.push("No combined models: no model is offered by enough of the configured providers.")
    lines.push("Configure two providers that serve the same model, or see combined_models.min_providers.")
  } else {
    const count = status.groups.length
    lines.push(`${status.providerName} (${status.providerID}): ${count} model${count === 1 ? "" : "s"}, members in priority order`)
    for (const group of status.groups) {
      lines.push("")
      lines.push(`${status.providerID}/${group.id}  ${group.name}  (order: ${ORDER_SOURCE[group.order](group.id)})`)
      const labels = group.members.map((member) => {
        const name = member.providerName === member.providerID ? "" : ` (${member.providerName})`
        return `${member.providerID}/${member.modelID}${name}`
      })
      const width = Math.max(...labels.map((label) => label.length))
      group.members.forEach((member, index) => {
        const left = member.limits ? `; ${limitsText(member.limits, status.now)}` : ""
        lines.push(`  ${index + 1}. ${labels[index]!.padEnd(width)}  ${healthText(member.health, status.now)}${left}`)
      })
    }
  }

  lines.push("")
  const shown = status.switches.slice(-SWITCHES_SHOWN).reverse()
  if (shown.length === 0) lines.push("Provider switches: none recorded")
  else {
    lines.push(`Latest provider switches (newest first, ${shown.length} of ${status.switches.length}):`)
    for (const record of shown) {
      const route = `${record.from.providerID} → ${record.to.providerID}`
      lines.push(`  ${clockTime(record.at)}  ${status.providerID}/${record.groupID}  ${route}  ${record.notice}  (session ${record.sessionID})`)
    }
  }

  const store = status.healthStore
  if (store.kind === "redis") {
    lines.push("")
    if (store.problem) lines.push(`Health store: ${store.problem}`)
    else lines.push(`Health store: Redis at ${store.where}${store.synced ? "" : " (not loaded yet: cooldowns other machines recorded may be missing)"}`)
  }

  return lines.join("\n") + "\n"
}

export const PICKER_MODES = ["combined", "all"] as const
export type PickerMode = (typeof PICKER_MODES)[number]

/** `combined_models.picker` from OpenCode's config as the server sends it; `"combined"` unless it says `"all"`. */
export function pickerMode(config: unknown): PickerMode {
  const settings = isRecord(config) && isRecord(config.combined_models) ? config.combined_models : undefined
  return settings?.picker === "all" ? "all" : "combined"
}

