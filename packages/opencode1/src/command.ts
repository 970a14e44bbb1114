/**
 * `opencode combined`: the combined models this OpenCode sees, each member's health and the latest provider switches.
 * It reads state only (the provider list OpenCode built, the shared health and switches files) and calls no model.
 * `combinedStatus` gathers plain data; `renderCombinedStatus` turns it into text; the command prints one of the two.
 */
import { isCombined, modelName, selectionOf, type MessageLike, type ModelRef, type ProviderLike, type ProviderList } from "./label.ts"
import { combinedGroupsOf, runtimeOf } from "./provider.ts"
import { PROVIDER_ID, PROVIDER_NAME, type OpenCodeProvider } from "./runtime.ts"
import { credentialFixes } from "./credentials.ts"
import { combinedOrderEdit } from "./config-edit.ts"
import { createFileHealthStore, defaultHealthPath, DEFAULTS, describeRedisUrl, fallbackChainFor, HealthRegistry, isRecord, ordered, parseModelRef, resolveConfig, sameMember, type HealthView, type MemberRef, type RedisHealthStore, type ResolvedConfig, clockTime, healthText, memberHealth, type CombinedStatus, type MemberHealth, type MemberStatus, type SwitchRecord, readSwitches, switchesPath } from "combined-models"

// The view both editions show lives in the engine; the 1.x adapter names it as it always has.
export { memberHealth, renderCombinedStatus, type CombinedStatus, type GroupStatus, type MemberHealth, type MemberStatus } from "combined-models"

/** `opencode combined priority|exclude|include <group> …` against the providers OpenCode loaded. */
export function combinedEdit(
  providers: Record<string, OpenCodeProvider>,
  input: { action: string; group: string; values: readonly string[]; global?: boolean; directory: string; globalDir: string },
): { code: number; output: string } {
  if (input.action !== "priority" && input.action !== "exclude" && input.action !== "include")
    return { code: 1, output: `unknown action "${input.action}": use priority, exclude or include\n` }
  return combinedOrderEdit(combinedGroupsOf(providers), { ...input, action: input.action })
}

/**
 * `opencode combined` runs in a process of its own: with a Redis store, wait (briefly) for the mirror to load before
 * reading health, so it shows what other machines recorded. Resolves at once for the file store; never rejects.
 */
export async function combinedHealthSynced(providers: Record<string, OpenCodeProvider>, timeoutMs = 1_500): Promise<void> {
  await runtimeOf(providers).redisStore?.whenSynced(timeoutMs)
}

/**
 * The grouping's config warnings for this provider state (a typo in `provider_priority`, a rule that matched nothing),
 * `<path>: <message>` each: `opencode combined` shows them first, `opencode models` on stderr.
 */
export function configWarnings(providers: Record<string, OpenCodeProvider>): string[] {
  return runtimeOf(providers).problems.map((problem) => `${problem.path}: ${problem.message}`)
}

/**
 * `opencode models` prints these on stderr before its list (stdout stays the list scripts read): `warning: <path>:
 * <message>`, as `combined-models groups` prints them.
 */
export function configWarningLines(providers: Record<string, OpenCodeProvider>): string[] {
  return configWarnings(providers).map((warning) => `warning: ${warning}`)
}

/** Everything `opencode combined` shows, from the providers OpenCode loaded (its `Provider.list()`). */
export function combinedStatus(providers: Record<string, OpenCodeProvider>, now: number = Date.now()): CombinedStatus {
  const rt = runtimeOf(providers)
  const groups = [...combinedGroupsOf(providers).values()].sort((a, b) => a.id.localeCompare(b.id))
  // A status command has made no request of its own: what it shows comes from the file the serving processes write.
  const limits = rt.limits
  return {
    providerID: PROVIDER_ID,
    providerName: providers[PROVIDER_ID]?.name ?? PROVIDER_NAME,
    now,
    groups: groups.map((group) => ({
      id: group.id,
      name: group.name,
      order: group.strategy ?? (rt.config.groups[group.id]?.priority?.length ? "group" : rt.config.providerPriority.length ? "provider_priority" : "alphabetical"),
      members: (group.strategy === "least_limited" ? ordered(group, group.members, {}, { now, limits }) : group.members).map((member): MemberStatus => {
        const health = withCredentialFixes(memberHealth(rt.view, member, now), providers[member.providerID], rt.oauth)
        const headroom = limits.headroomOf({ providerID: member.providerID, modelID: member.modelID }, now)
        return {
          providerID: member.providerID,
          modelID: member.modelID,
          providerName: providers[member.providerID]?.name ?? member.providerID,
          health,
          ...(headroom ? { limits: headroom } : {}),
        }
      }),
    })),
    switches: rt.latestSwitches(),
    warnings: configWarnings(providers),
    healthStore: healthStoreStatus(rt.config.healthStore, rt.redisStore),
  }
}

function healthStoreStatus(setting: ResolvedConfig["healthStore"], store: RedisHealthStore | undefined): CombinedStatus["healthStore"] {
  if (setting.kind === "file") return { kind: "file" }
  const where = describeRedisUrl(setting.url)
  if (!store) return { kind: "redis", where, synced: false, problem: "no state directory: cooldowns stay in this process" }
  return { kind: "redis", where, synced: store.synced, ...(store.problem ? { problem: store.problem } : {}) }
}

/** An auth cooldown ends as soon as the provider's credential changes: say which changes count. */
function withCredentialFixes(
  health: MemberHealth,
  provider: OpenCodeProvider | undefined,
  oauth: ReadonlySet<string>,
): MemberHealth {
  // A refused credential, and a model its plan does not include: another credential brings the member back.
  if (health.state !== "cooling" || (health.reason !== "auth" && health.reason !== "model_unavailable") || !provider) return health
  return { ...health, backWith: credentialFixes(provider, oauth.has(provider.id)) }
}

// ---------------------------------------------------------------------------------------------------------------------
// Per-session detail: `opencode combined --session [id]` and the TUI's `/combined` dialog.
// ---------------------------------------------------------------------------------------------------------------------

/** Token counts as OpenCode records them on an assistant message. */
export interface TokensUsage {
  input?: number
  output?: number
  reasoning?: number
  cache?: { read?: number; write?: number }
}

/** A user or assistant message with what the view reads: OpenCode's `MessageV2.Info`, loosely typed. */
export interface SessionMessageLike extends MessageLike {
  agent?: string
  cost?: number
  tokens?: TokensUsage
  time?: { created?: number; completed?: number }
  error?: unknown
}

/** One switch of the session, as the view shows it. */
export interface SessionSwitch {
  at: number
  from: MemberRef
  to: MemberRef
  reason: string
  notice: string
  /** How deep in the fallback chain the turn went with it, when the record says. */
  depth?: number
}

/** Tokens and cost of every assistant message one concrete model served. */
export interface UsageRow {
  providerID: string
  modelID: string
  /** The model's display name, or its id. */
  name: string
  /** Fallback depth the model served at: 0 = the selection itself; null = not on the selection's chain. */
  depth: number | null
  steps: number
  input: number
  output: number
  reasoning: number
  cacheRead: number
  cacheWrite: number
  cost: number
}

export interface SessionDetail {
  providerID: string
  sessionID: string
  title?: string
  now: number
  /** The model of the latest user message. */
  selection?: ModelRef & { name: string; combined: boolean }
  /**
   * The selected combined model's members in priority order (the selection itself when it is a concrete model), with
   * their health now when the health file was read.
   */
  members: (MemberRef & { health?: MemberHealth })[]
  /** `fallback_models` after the selection, as configured for the session's agent. */
  chain: string[]
  /** The model that served the latest assistant message. */
  servedBy?: MemberRef & { depth: number | null }
  /** The deepest fallback depth reached in the session: 0 = never left the selected model. */
  depth: number
  /** Oldest first. */
  switches: SessionSwitch[]
  /** One row per serving model, in order of first use. */
  usage: UsageRow[]
  total: Omit<UsageRow, "providerID" | "modelID" | "name" | "depth">
}

/**
 * The members of a model reference (`combined/<group>` or `provider/model`): a combined model's come from the
 * `members` the server puts in the virtual model's `options`; a concrete model is its own only member.
 */
export function membersOf(providers: ProviderList | undefined, model: ModelRef): MemberRef[] {
  if (model.providerID !== PROVIDER_ID) return [{ providerID: model.providerID, modelID: model.modelID }]
  const entry = findProvider(providers, PROVIDER_ID)?.models[model.modelID] as { options?: unknown } | undefined
  const members = isRecord(entry?.options) ? entry.options.members : undefined
  if (!Array.isArray(members)) return []
  return members.flatMap((member) =>
    isRecord(member) && typeof member.providerID === "string" && typeof member.modelID === "string"
      ? [{ providerID: member.providerID, modelID: member.modelID }]
      : [],
  )
}

/**
 * How far down the chain `served` is for a message made under `selection`: 0 when it is (a member of) the selection,
 * n when it is (a member of) the n-th `fallback_models` entry, null when neither (config changed since, or unknown).
 */
export function fallbackDepth(input: {
  served: MemberRef
  selection: ModelRef
  chain: readonly string[]
  providers?: ProviderList | undefined
}): number | null {
  const { served, selection, providers } = input
  const has = (model: ModelRef | undefined) =>
    model !== undefined && membersOf(providers, model).some((member) => sameMember(member, served))
  if (has(selection)) return 0
  const chain = input.chain.filter((reference) => reference !== `${selection.providerID}/${selection.modelID}`)
  const index = chain.findIndex((reference) => has(parseModelRef(reference)))
  return index === -1 ? null : index + 1
}

/**
 * The per-session view from plain data: the session's messages (as OpenCode stores them), the provider list (names,
 * and the combined models' members), the switch records (any session's; this one's are kept), the fallback chain of
 * the session's agent. Pure.
 */
export function sessionDetail(input: {
  session: { id: string; title?: string }
  messages: readonly SessionMessageLike[]
  providers?: ProviderList | undefined
  switches?: readonly SwitchRecord[]
  chain?: readonly string[]
  /** The shared health (the runtime's registry, or a reader of the health file): each member's state now. */
  health?: HealthView
  now?: number
}): SessionDetail {
  const { session, messages, providers } = input
  const now = input.now ?? Date.now()
  const chain = [...(input.chain ?? [])]
  const latestUser = [...messages].reverse().find((message) => message.role === "user" && message.model)
  const selected = latestUser?.model
  const selection = selected && {
    providerID: selected.providerID,
    modelID: selected.modelID,
    name: modelName(providers, selected),
    combined: isCombined(selected),
  }
  const switches = (input.switches ?? [])
    .filter((record) => record.sessionID === session.id)
    .sort((a, b) => a.at - b.at)
    .map(
      (record): SessionSwitch => ({
        at: record.at,
        from: { providerID: record.from.providerID, modelID: record.from.modelID },
        to: { providerID: record.to.providerID, modelID: record.to.modelID },
        reason: record.reason,
        notice: record.notice,
        ...(record.depth !== undefined ? { depth: record.depth } : {}),
      }),
    )

  const rows = new Map<string, UsageRow>()
  const total = { steps: 0, input: 0, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0, cost: 0 }
  let depth = 0
  let servedBy: SessionDetail["servedBy"]
  for (const message of messages) {
    if (message.role !== "assistant" || !message.providerID || !message.modelID) continue
    const served = { providerID: message.providerID, modelID: message.modelID }
    const under = selectionOf(message, messages)
    const at = under ? fallbackDepth({ served, selection: under, chain, providers }) : 0
    if (at !== null) depth = Math.max(depth, at)
    servedBy = { ...served, depth: at }
    const key = `${served.providerID}/${served.modelID}`
    let row = rows.get(key)
    if (!row) {
      row = { ...served, name: modelName(providers, served), depth: at, steps: 0, input: 0, output: 0, reasoning: 0, cacheRead: 0, cacheWrite: 0, cost: 0 }
      rows.set(key, row)
    } else if (at !== null && (row.depth === null || at > row.depth)) row.depth = at
    const add = {
      steps: 1,
      input: count(message.tokens?.input),
      output: count(message.tokens?.output),
      reasoning: count(message.tokens?.reasoning),
      cacheRead: count(message.tokens?.cache?.read),
      cacheWrite: count(message.tokens?.cache?.write),
      cost: count(message.cost),
    }
    for (const field of Object.keys(add) as (keyof typeof add)[]) {
      row[field] += add[field]
      total[field] += add[field]
    }
  }
  for (const record of switches) if (record.depth !== undefined) depth = Math.max(depth, record.depth)

  return {
    providerID: PROVIDER_ID,
    sessionID: session.id,
    ...(session.title ? { title: session.title } : {}),
    now,
    ...(selection ? { selection } : {}),
    members: (selected ? membersOf(providers, selected) : []).map((member) =>
      input.health ? { ...member, health: memberHealth(input.health, member, now) } : member,
    ),
    chain: selected ? chain.filter((reference) => reference !== `${selected.providerID}/${selected.modelID}`) : chain,
    ...(servedBy ? { servedBy } : {}),
    depth,
    switches,
    usage: [...rows.values()],
    total,
  }
}

function count(value: number | undefined): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0
}

function money(value: number): string {
  return `$${value.toFixed(value !== 0 && Math.abs(value) < 0.01 ? 4 : 2)}`
}

function table(rows: string[][], alignRight: readonly boolean[]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) =>
    row
      .map((cell, column) => (alignRight[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd(),
  )
}

/** The text of the per-session view, for `opencode combined --session` and the TUI dialog. Pure. */
export function renderSessionDetail(detail: SessionDetail): string {
  const lines: string[] = []
  const ref = (member: MemberRef) => `${member.providerID}/${member.modelID}`
  lines.push(`Session ${detail.sessionID}${detail.title ? `  ${detail.title}` : ""}`)
  if (!detail.selection) lines.push("Selected: no message yet")
  else {
    lines.push(`Selected: ${ref(detail.selection)}  ${detail.selection.name}`)
    if (detail.selection.combined && detail.members.length) {
      lines.push("Members, in priority order:")
      const labels = detail.members.map(ref)
      const width = Math.max(...labels.map((text) => text.length))
      detail.members.forEach((member, index) => {
        // The provider's own words are in --json and `opencode combined`; one line per member here.
        const health = member.health ? `  ${healthText(member.health, detail.now, false)}` : ""
        lines.push(`  ${index + 1}. ${labels[index]!.padEnd(width)}${health}`.trimEnd())
      })
    }
  }
  if (detail.chain.length) lines.push(`Fallback chain: ${detail.chain.join(" → ")}`)
  if (detail.servedBy) {
    const served = detail.servedBy
    const index = detail.members.findIndex((member) => sameMember(member, served))
    const member = detail.selection?.combined && index !== -1 ? `, member ${index + 1} of ${detail.members.length}` : ""
    const at = served.depth === null ? "off the fallback chain" : served.depth === 0 ? `the selected model${member}` : `fallback depth ${served.depth}`
    lines.push(`Served last: ${ref(detail.servedBy)} (${at})`)
  }
  const of = detail.chain.length ? ` of ${detail.chain.length}` : ""
  lines.push(`Fallback depth reached: ${detail.depth}${of}${detail.depth === 0 ? " (never left the selected model)" : ""}`)

  lines.push("")
  if (detail.switches.length === 0) lines.push("Switches: none in this session")
  else {
    lines.push(`Switches (${detail.switches.length}, oldest first):`)
    for (const record of detail.switches) {
      const depth = record.depth ? `  [depth ${record.depth}]` : ""
      lines.push(`  ${clockTime(record.at)}  ${ref(record.from)} → ${ref(record.to)}  ${record.reason}${depth}`)
      lines.push(`    ${record.notice}`)
    }
  }

  lines.push("")
  if (detail.usage.length === 0) lines.push("Usage: no assistant message yet")
  else {
    lines.push("Usage per serving model:")
    const header = ["model", "depth", "steps", "input", "output", "reasoning", "cache read", "cache write", "cost"]
    const cells = (row: Omit<UsageRow, "providerID" | "modelID" | "name" | "depth">) => [
      String(row.steps),
      String(row.input),
      String(row.output),
      String(row.reasoning),
      String(row.cacheRead),
      String(row.cacheWrite),
      money(row.cost),
    ]
    const body = detail.usage.map((row) => [ref(row), row.depth === null ? "?" : String(row.depth), ...cells(row)])
    const rows = [header, ...body, ...(detail.usage.length > 1 ? [["total", "", ...cells(detail.total)]] : [])]
    for (const line of table(rows, [false, true, true, true, true, true, true, true, true])) lines.push(`  ${line}`)
  }
  return lines.join("\n") + "\n"
}

/**
 * The health the server recorded, read from the health file in its state directory: for views that run apart from
 * the server (the TUI). Read-only: the registry loads the file and is dropped; nothing is written back.
 */
export function fileHealthView(stateDir: string): HealthView {
  return new HealthRegistry({ cooldowns: DEFAULTS.cooldowns, store: createFileHealthStore(defaultHealthPath(stateDir)) })
}

export function findProvider(providers: ProviderList | undefined, id: string): ProviderLike | undefined {
  if (providers === undefined) return undefined
  return providers instanceof Map ? providers.get(id) : (providers as readonly ProviderLike[]).find((entry) => entry.id === id)
}

/** The agent of the session's latest user message: its `fallback_models` make the chain. */
function latestAgent(messages: readonly SessionMessageLike[]): string | undefined {
  return [...messages].reverse().find((message) => message.role === "user")?.agent
}

/**
 * `opencode combined --session`: the view with this process's runtime (configured when the command loaded OpenCode's
 * provider list): the switches on file and the fallback chain of the session's agent.
 */
export function combinedSessionDetail(input: {
  providers: Record<string, OpenCodeProvider>
  session: { id: string; title?: string }
  messages: readonly SessionMessageLike[]
  now?: number
}): SessionDetail {
  const rt = runtimeOf(input.providers)
  return sessionDetail({
    session: input.session,
    messages: input.messages,
    providers: Object.values(input.providers),
    switches: rt.latestSwitches(),
    chain: fallbackChainFor(rt.config, latestAgent(input.messages)),
    health: rt.view,
    ...(input.now !== undefined ? { now: input.now } : {}),
  })
}

/**
 * The TUI's view, from what it holds (the providers and config the server sent, the session's messages) and the
 * switches file in OpenCode's state directory, which the server process writes. Needs no server memory.
 */
export function sessionDetailFromState(input: {
  stateDir: string
  /** OpenCode's config as the server sends it: `fallback_models` per agent and under `combined_models`. */
  config?: unknown
  providers?: ProviderList | undefined
  session: { id: string; title?: string }
  messages: readonly SessionMessageLike[]
  now?: number
}): SessionDetail {
  const raw = isRecord(input.config) ? input.config : {}
  const resolved = resolveConfig(raw, {})
  const chain = resolved.ok ? fallbackChainFor(resolved.config, latestAgent(input.messages)) : []
  return sessionDetail({
    session: input.session,
    messages: input.messages,
    providers: input.providers,
    switches: readSwitches(switchesPath(input.stateDir)),
    chain,
    health: fileHealthView(input.stateDir),
    ...(input.now !== undefined ? { now: input.now } : {}),
  })
}
