/**
 * `opencode combined`: the combined models this OpenCode sees, each member's health and the latest provider switches.
 * It reads state only (the provider list OpenCode built, the shared health and switches files) and calls no model.
 * `combinedStatus` gathers plain data; `renderCombinedStatus` turns it into text; the command prints one of the two.
 */
import { formatDuration, describeFailure } from "../label.ts"
import type { FailureReason } from "../types.ts"
import { combinedGroupsOf } from "./provider.ts"
import { PROVIDER_ID, PROVIDER_NAME, runtime, type OpenCodeProvider, type SwitchRecord } from "./runtime.ts"

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
      /** Whole provider (auth, quota) or this model only. */
      scope: "provider" | "model"
    }

export interface MemberStatus {
  providerID: string
  modelID: string
  /** The provider's display name in OpenCode, e.g. `GitHub Copilot`. */
  providerName: string
  health: MemberHealth
}

export interface GroupStatus {
  id: string
  name: string
  members: MemberStatus[]
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
}

/** Everything `opencode combined` shows, from the providers OpenCode loaded (its `Provider.list()`). */
export function combinedStatus(providers: Record<string, OpenCodeProvider>, now: number = Date.now()): CombinedStatus {
  const rt = runtime()
  const groups = [...combinedGroupsOf(providers).values()].sort((a, b) => a.id.localeCompare(b.id))
  return {
    providerID: PROVIDER_ID,
    providerName: providers[PROVIDER_ID]?.name ?? PROVIDER_NAME,
    now,
    groups: groups.map((group) => ({
      id: group.id,
      name: group.name,
      members: group.members.map((member): MemberStatus => {
        const entry = rt.health.cooldownOf(member, now)
        const health: MemberHealth = entry
          ? {
              state: "cooling",
              reason: entry.reason,
              why: describeFailure(member.providerID, entry),
              message: entry.message,
              until: Number.isFinite(entry.until) ? entry.until : null,
              scope: entry.modelID === "*" ? "provider" : "model",
            }
          : { state: "healthy" }
        return {
          providerID: member.providerID,
          modelID: member.modelID,
          providerName: providers[member.providerID]?.name ?? member.providerID,
          health,
        }
      }),
    })),
    switches: rt.latestSwitches(),
    warnings: rt.problems.map((problem) => `${problem.path}: ${problem.message}`),
  }
}

const SWITCHES_SHOWN = 10

function healthText(health: MemberHealth, now: number): string {
  if (health.state === "healthy") return "healthy"
  const left = health.until === null ? "until re-authenticated" : `${formatDuration(health.until - now)} left`
  const scope = health.scope === "provider" ? ", whole provider" : ""
  const message = health.message ? `: ${health.message}` : ""
  return `cooling down (${health.why}${scope}${message}), ${left}`
}

function clockTime(at: number): string {
  return new Date(at).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z")
}

/** The text `opencode combined` prints. Pure: the same status always renders the same way. */
export function renderCombinedStatus(status: CombinedStatus): string {
  const lines: string[] = []
  if (status.groups.length === 0) {
    lines.push("No combined models: no model is offered by enough of the configured providers.")
    lines.push("Configure two providers that serve the same model, or see combined_models.min_providers.")
  } else {
    const count = status.groups.length
    lines.push(`${status.providerName} (${status.providerID}): ${count} model${count === 1 ? "" : "s"}, members in priority order`)
    for (const group of status.groups) {
      lines.push("")
      lines.push(`${status.providerID}/${group.id}  ${group.name}`)
      const labels = group.members.map((member) => {
        const name = member.providerName === member.providerID ? "" : ` (${member.providerName})`
        return `${member.providerID}/${member.modelID}${name}`
      })
      const width = Math.max(...labels.map((label) => label.length))
      group.members.forEach((member, index) => {
        lines.push(`  ${index + 1}. ${labels[index]!.padEnd(width)}  ${healthText(member.health, status.now)}`)
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

  if (status.warnings.length) {
    lines.push("")
    lines.push("Config warnings:")
    for (const warning of status.warnings) lines.push(`  ${warning}`)
  }
  return lines.join("\n") + "\n"
}
