/**
 * What the user sees of routing in OpenCode 2: the member that served each session's latest step (the footer's
 * `Claude Sonnet 4.5 (github-copilot)`), the switch notices, and the status view of every combined model's members
 * with their health, cooldowns, the latest switches and where each order comes from. Nothing here calls a model.
 *
 * The view is the 1.x edition's (`CombinedStatus`, rendered by the same `renderCombinedStatus`), built from this
 * process's router. Switches are also written to a small state file beside the health file, so a status read from
 * another process (`opencode api`, a second TUI) shows the switches every process of the machine made.
 */
import { appendSwitch, describeRedisUrl, label, memberHealth, readSwitches, renderCombinedStatus, switchesPath, type CombinedStatus, type GroupStatus, type MemberRef, type SwitchRecord } from "combined-models"
import { PROVIDER_ID, PROVIDER_NAME } from "./catalog.ts"
import type { FooterState } from "./rpc.ts"
import type { Router, SwitchEvent } from "./router.ts"

/** How many switches the state file keeps (the view shows the newest ten). */
const SWITCHES_KEPT = 50

/** OpenCode 2's own switches file beside the health file (the 1.x edition keeps `switches.json`). */
export function switchesFile(stateDir: string): string {
  return switchesPath(stateDir, "switches-opencode2.json")
}

/** The stored switches, oldest first; [] when the file is missing or not ours. */
export const readSwitchRecords = readSwitches

/**
 * One more switch into the file, through the engine's one writer for state files: off the step's path, merged under
 * the file's lock with what other processes added meanwhile.
 */
export function appendSwitchRecord(file: string, record: SwitchRecord): void {
  appendSwitch(file, record, SWITCHES_KEPT)
}

interface Served {
  groupID: string
  member: MemberRef
  at: number
}

/** One served step of a session, with the switches it took to get there. */
export interface StepRecord extends Served {
  /** Switch notices of this step, in order (empty: the first member tried served it). */
  switches: string[]
}

/** Steps kept per session (the newest). */
const STEPS_KEPT = 50

export interface StatusBoardOptions {
  router: Router
  stateDir: string
  clock?: () => number
  /** Provider display names (`GitHub Copilot`), from OpenCode's catalog. */
  providerName?: (providerID: string) => string | undefined
  /** Told when a session's footer state changed. */
  changed?: (sessionID: string, footer: FooterState) => void
}

export class StatusBoard {
  private readonly served = new Map<string, Served>()
  private readonly latestSwitch = new Map<string, SwitchRecord>()
  private readonly steps = new Map<string, StepRecord[]>()
  /** Switches of a session since its latest served step. */
  private readonly pending = new Map<string, string[]>()
  /** How many of the router's switches were taken in already. */
  private seen = 0
  private readonly clock: () => number

  constructor(private readonly options: StatusBoardOptions) {
    this.clock = options.clock ?? Date.now
    this.seen = options.router.switches.length
  }

  get file(): string {
    return switchesFile(this.options.stateDir)
  }

  /** The router's switches since the last call: kept for the footer, written for other processes' views. */
  takeSwitches(): SwitchRecord[] {
    const fresh = this.options.router.switches.slice(this.seen)
    this.seen = this.options.router.switches.length
    const now = this.clock()
    return fresh.map((event: SwitchEvent) => {
      const record: SwitchRecord = { at: now, sessionID: event.sessionID, groupID: event.groupID, from: event.from, to: event.to, reason: event.error.reason, notice: event.notice }
      this.latestSwitch.set(event.sessionID, record)
      this.pending.set(event.sessionID, [...(this.pending.get(event.sessionID) ?? []), record.notice])
      appendSwitchRecord(this.file, record)
      this.options.changed?.(event.sessionID, this.footer(event.sessionID))
      return record
    })
  }

  /** A step of `sessionID` on `groupID` was answered in full by `member`. */
  recordServed(sessionID: string, groupID: string, member: MemberRef): void {
    const before = this.served.get(sessionID)
    const at = this.clock()
    this.served.set(sessionID, { groupID, member, at })
    const steps = this.steps.get(sessionID) ?? []
    steps.push({ groupID, member, at, switches: this.pending.get(sessionID) ?? [] })
    this.pending.delete(sessionID)
    this.steps.set(sessionID, steps.slice(-STEPS_KEPT))
    const same = before && before.groupID === groupID && before.member.providerID === member.providerID && before.member.modelID === member.modelID
    if (!same) this.options.changed?.(sessionID, this.footer(sessionID))
  }

  /** The member that served the session's latest step, if any. */
  servedBy(sessionID: string): Served | undefined {
    return this.served.get(sessionID)
  }

  footer(sessionID: string | undefined): FooterState {
    if (!sessionID) return {}
    const served = this.served.get(sessionID)
    const group = served ? this.options.router.groups.get(served.groupID) : undefined
    const state: FooterState = {}
    if (served) state.label = label({ name: group?.name ?? served.groupID }, served.member)
    const latest = this.latestSwitch.get(sessionID)
    if (latest) {
      state.notice = latest.notice
      state.noticeAt = latest.at
    }
    return state
  }

  /** Every combined model's members in their order now, with health and the latest switches of the machine. */
  status(now: number = this.clock()): CombinedStatus {
    const router = this.options.router
    const config = router.config
    const groups = [...router.groups.values()].sort((a, b) => a.id.localeCompare(b.id))
    return {
      providerID: PROVIDER_ID,
      providerName: PROVIDER_NAME,
      now,
      groups: groups.map((group) => {
        const order: GroupStatus["order"] =
          group.strategy ?? (config.groups[group.id]?.priority?.length ? "group" : config.providerPriority.length ? "provider_priority" : "alphabetical")
        return {
          id: group.id,
          name: group.name,
          order,
          members: group.members.map((member) => ({
            providerID: member.providerID,
            modelID: member.modelID,
            providerName: this.options.providerName?.(member.providerID) ?? member.providerID,
            health: memberHealth(router.view, member, now),
          })),
        }
      }),
      switches: readSwitchRecords(this.file),
      warnings: router.problems.map((problem) => `${problem.path}: ${problem.message}`),
      healthStore: this.healthStore(),
    }
  }

  /** Where cooldowns are kept, as the 1.x edition's view says it: with Redis, its address, whether it was read yet, and its problem. */
  private healthStore(): CombinedStatus["healthStore"] {
    const setting = this.options.router.config.healthStore
    const store = this.options.router.redis
    if (setting.kind === "file" || !store) return { kind: "file" }
    return { kind: "redis", where: describeRedisUrl(setting.url), synced: store.synced, ...(store.problem ? { problem: store.problem } : {}) }
  }

  /** The session's served steps, oldest first (this process's; a step served elsewhere is not known here). */
  sessionSteps(sessionID: string): StepRecord[] {
    return this.steps.get(sessionID) ?? []
  }

  /** The session's steps: which member served each, after which switches, and how many steps each member served. */
  sessionText(sessionID: string): string {
    const steps = this.sessionSteps(sessionID)
    if (steps.length === 0) return `This session (${sessionID}): no step on a combined model served yet by this OpenCode process\n`
    const lines = [`This session (${sessionID}): ${steps.length} step${steps.length === 1 ? "" : "s"} on combined models, the member that served each:`]
    steps.forEach((step, index) => {
      const when = new Date(step.at).toISOString().slice(11, 19)
      const after = step.switches.length ? `  after ${step.switches.join("; ")}` : ""
      lines.push(`  ${index + 1}. ${when}Z  ${PROVIDER_ID}/${step.groupID}  ${step.member.providerID}/${step.member.modelID}${after}`)
    })
    const counts = new Map<string, number>()
    for (const step of steps) counts.set(step.member.providerID, (counts.get(step.member.providerID) ?? 0) + 1)
    lines.push(`  Steps per provider: ${[...counts].map(([provider, count]) => `${provider} ${count}`).join(", ")}`)
    return lines.join("\n") + "\n"
  }

  text(now: number = this.clock(), sessionID?: string): string {
    const overview = renderCombinedStatus(this.status(now))
    return sessionID ? `${this.sessionText(sessionID)}\n${overview}` : overview
  }
}
