/**
 * What the user sees of routing in OpenCode 2: the member that served each session's latest step (the footer's
 * `Claude Sonnet 4.5 (github-copilot)`), the switch notices, and the status view of every combined model's members
 * with their health, cooldowns, the latest switches and where each order comes from. Nothing here calls a model.
 *
 * The view is the 1.x edition's (`CombinedStatus`, rendered by the same `renderCombinedStatus`), built from this
 * process's router. Switches and each session's served steps (the member, its tokens and cost) are also written to
 * small state files beside the health file, so a status read from another process (`opencode api`, a second TUI)
 * shows what every process of the machine did.
 */
import { appendSwitch, describeRedisUrl, label, memberHealth, readSwitches, renderCombinedStatus, switchesPath, type CombinedStatus, type Group, type GroupStatus, type MemberRef, type SwitchRecord } from "combined-models"
import { PROVIDER_ID, PROVIDER_NAME } from "./catalog.ts"
import type { FooterState } from "./rpc.ts"
import type { Router, SwitchEvent } from "./router.ts"
import { appendStep, mergeSteps, readSteps, readStepsCached, stepID, stepsFile, STEPS_KEPT, type StepRecord } from "./step-store.ts"
import { stepCost, type Price, type StepUsage } from "./usage.ts"

export type { StepRecord } from "./step-store.ts"

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

/** A member's catalog price, from the combined models' members (each carries its catalog `cost`). */
export function memberPrice(groups: Iterable<Group>, member: MemberRef): Price | undefined {
  for (const group of groups)
    for (const candidate of group.members)
      if (candidate.providerID === member.providerID && candidate.modelID === member.modelID && candidate.cost) return candidate.cost
  return undefined
}

const number = new Intl.NumberFormat("en-US")

/** USD, to a hundredth of a cent below a dollar. */
export function formatCost(usd: number): string {
  return `$${usd.toFixed(usd < 1 ? 4 : 2)}`
}

/** `12,340 in (8,000 cached) / 812 out`. */
export function formatUsage(usage: Pick<StepUsage, "input" | "output" | "cacheRead" | "cacheWrite">): string {
  const cache = [usage.cacheRead ? `${number.format(usage.cacheRead)} cached` : "", usage.cacheWrite ? `${number.format(usage.cacheWrite)} written to cache` : ""].filter(Boolean)
  return `${number.format(usage.input)} in${cache.length ? ` (${cache.join(", ")})` : ""} / ${number.format(usage.output)} out`
}

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
  private readonly clock: () => number

  constructor(private readonly options: StatusBoardOptions) {
    this.clock = options.clock ?? Date.now
  }

  get file(): string {
    return switchesFile(this.options.stateDir)
  }

  /** The router's switches since the last call: kept for the footer, written for other processes' views. */
  takeSwitches(): SwitchRecord[] {
    // Taken out of the router's list: it holds only what the board has not seen, however long OpenCode runs.
    const fresh = this.options.router.switches.splice(0)
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

  get stepsFile(): string {
    return stepsFile(this.options.stateDir)
  }

  /**
   * A step of `sessionID` on `groupID` was answered in full by `member`, with the tokens its stream reported: kept with
   * its cost at the member's catalog price, and written for other processes' views.
   */
  recordServed(sessionID: string, groupID: string, member: MemberRef, usage?: StepUsage): StepRecord {
    const before = this.served.get(sessionID)
    const at = this.clock()
    this.served.set(sessionID, { groupID, member, at })
    const step: StepRecord = { id: stepID(), groupID, member: { providerID: member.providerID, modelID: member.modelID }, at, switches: this.pending.get(sessionID) ?? [] }
    if (usage) {
      step.usage = usage
      const price = memberPrice(this.options.router.groups.values(), member)
      if (price) step.cost = stepCost(usage, price)
    }
    const steps = this.steps.get(sessionID) ?? []
    steps.push(step)
    this.pending.delete(sessionID)
    this.steps.set(sessionID, steps.slice(-STEPS_KEPT))
    appendStep(this.stepsFile, sessionID, step)
    const same = before && before.groupID === groupID && before.member.providerID === member.providerID && before.member.modelID === member.modelID
    if (!same) this.options.changed?.(sessionID, this.footer(sessionID))
    return step
  }

  /** The member that served the session's latest step, if any. */
  servedBy(sessionID: string): Served | undefined {
    return this.served.get(sessionID)
  }

  footer(sessionID: string | undefined): FooterState {
    if (!sessionID) return {}
    // A session this instance has not served (OpenCode loaded the plugin again while it ran, or another process
    // served it): its latest step as the steps file has it.
    const served = this.served.get(sessionID) ?? readStepsCached(this.stepsFile).get(sessionID)?.at(-1)
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

  /**
   * The session's served steps, oldest first: those every process of the machine wrote to the steps file, and this
   * process's own (a write may not have landed yet).
   */
  sessionSteps(sessionID: string): StepRecord[] {
    return mergeSteps(readSteps(this.stepsFile).get(sessionID) ?? [], this.steps.get(sessionID) ?? [])
  }

  /** The session's steps: which member served each, after which switches, with its tokens and cost; then each member's totals. */
  sessionText(sessionID: string): string {
    const steps = this.sessionSteps(sessionID)
    if (steps.length === 0) return `This session (${sessionID}): no step on a combined model recorded yet\n`
    const lines = [`This session (${sessionID}): ${steps.length} step${steps.length === 1 ? "" : "s"} on combined models, the member that served each:`]
    steps.forEach((step, index) => {
      const when = new Date(step.at).toISOString().slice(11, 19)
      const after = step.switches.length ? `  after ${step.switches.join("; ")}` : ""
      const tokens = step.usage ? `  ${formatUsage(step.usage)}${step.cost !== undefined ? `, ${formatCost(step.cost)}` : ""}` : ""
      lines.push(`  ${index + 1}. ${when}Z  ${PROVIDER_ID}/${step.groupID}  ${step.member.providerID}/${step.member.modelID}${tokens}${after}`)
    })
    const counts = new Map<string, number>()
    for (const step of steps) counts.set(step.member.providerID, (counts.get(step.member.providerID) ?? 0) + 1)
    lines.push(`  Steps per provider: ${[...counts].map(([provider, count]) => `${provider} ${count}`).join(", ")}`)
    lines.push("  Tokens and cost per member:", ...memberTotals(steps).map((line) => `    ${line}`))
    return lines.join("\n") + "\n"
  }

  text(now: number = this.clock(), sessionID?: string): string {
    const overview = renderCombinedStatus(this.status(now))
    return sessionID ? `${this.sessionText(sessionID)}\n${overview}` : overview
  }
}

/**
 * Each member's steps with their tokens and cost added up: `anthropic/claude-sonnet-4-5: 3 steps, 12,340 in (8,000
 * cached) / 812 out, $0.0421`. Steps whose stream reported no usage are counted as such; a member without a catalog
 * price shows tokens without cost.
 */
export function memberTotals(steps: readonly StepRecord[]): string[] {
  const totals = new Map<string, { steps: number; reported: number; input: number; output: number; cacheRead: number; cacheWrite: number; cost?: number }>()
  for (const step of steps) {
    const key = `${step.member.providerID}/${step.member.modelID}`
    const total = totals.get(key) ?? { steps: 0, reported: 0, input: 0, output: 0, cacheRead: 0, cacheWrite: 0 }
    total.steps++
    if (step.usage) {
      total.reported++
      total.input += step.usage.input
      total.output += step.usage.output
      total.cacheRead += step.usage.cacheRead ?? 0
      total.cacheWrite += step.usage.cacheWrite ?? 0
    }
    if (step.cost !== undefined) total.cost = (total.cost ?? 0) + step.cost
    totals.set(key, total)
  }
  return [...totals].map(([member, total]) => {
    const count = `${total.steps} step${total.steps === 1 ? "" : "s"}`
    if (total.reported === 0) return `${member}: ${count}, no token usage reported`
    const unreported = total.reported < total.steps ? ` (${total.steps - total.reported} without usage)` : ""
    const cost = total.cost !== undefined ? `, ${formatCost(total.cost)}` : ", no price in the catalog"
    return `${member}: ${count}${unreported}, ${formatUsage(total)}${cost}`
  })
}
