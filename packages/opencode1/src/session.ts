/**
 * Failover inside OpenCode's session loop. The hunks in `prompt.ts` and `processor.ts` call four things:
 *
 * - `routeStep` before each step: which member serves it (and how long to wait first);
 * - `failoverFor` when the step's processor is created: the handle that watches the stream;
 * - `Failover.claims(error)` from the retry policy: whether the engine takes this failure over from the stock
 *   same-provider retry, and what it decided;
 * - `Failover.settle` / `Failover.finish` after the stream: surface the error, or settle the failed attempt (replay:
 *   the attempt's message and parts are removed; continue: its completed tool results are kept) and let the loop
 *   go on to the next step, which `routeStep` sends to the decided member.
 *
 * The stock retry re-streams into the same assistant message, which would splice a retried answer onto the failed
 * one; so every engine decision, even a same-member retry, ends the attempt and starts a fresh step.
 */
import { Cause, Duration, Effect, Option, Schedule } from "effect"
import { PROVIDER_ID, runtime, type CombinedRuntime } from "./runtime.ts"
import { requestKey } from "./request-size-store.ts"
import { keepOwnReasoningOnly, markCut } from "./history.ts"
import { toolPartsAfterFailure, type ToolPartLike } from "./tool-parts.ts"
import { AllMembersOutError, describeFailure, fallbackChainFor, formatDuration, initialState, parseModelRef, pick, recordOutcomes, refOf as ref, sameMember, singleModelGroup, StepEdge, ToolRuns, transition, usableWindow, type ClassifiedError, type CooldownEntry, type FailoverAction, type FailoverEvent, type FailoverState, type Group, type HealthView, type MemberRef, type StepMode, type StepSize, type StreamPart } from "combined-models"

/** What the hunk needs from OpenCode's user message. */
export interface UserMessageLike {
  id: string
  /** The agent the message is for: its `fallback_models` (or the `"*"` agent's) make the chain. */
  agent?: string
  model: { providerID: string; modelID: string }
}

/** OpenCode's last finished assistant message: its tokens say how big the next request is at least. */
export interface FinishedLike {
  tokens?: TokensLike
  summary?: boolean
  /** The member that answered it: the one holding the conversation's prefix in its prompt cache. */
  providerID?: string
  modelID?: string
  /** When it finished (epoch ms): how old that cache is, for `sticky: { window }`. */
  time?: { completed?: number }
}

/** OpenCode's token counts of the last finished step: the next request is at least this big. */
export interface TokensLike {
  input?: number
  output?: number
  cache?: { read?: number; write?: number }
}

export interface StepRoute<P extends string = string, M extends string = string> {
  /** Typed as the selection's ids (OpenCode brands them); a member's ids are the same kind of id. */
  providerID: P
  modelID: M
  /** Sit this out before sending: a retry's wait, or the soonest member's cooldown. */
  waitMs: number
  /**
   * This step does again a step whose attempt failed before any tool call (its message was removed): the same step,
   * so it does not count against the agent's `steps`.
   */
  replay: boolean
  /**
   * What the session status should say before this step, when the route is news: a move down the fallback chain
   * at the start of a step (the selection is cooling, maybe from another process's failure), or a wait for the member
   * back soonest, with the time left. Upstream's `retry` status, so the TUI counts down and `opencode run` prints it;
   * the processor sets `busy` again when the step streams.
   */
  status?: FailoverStatusInfo
  /** Lines for OpenCode's log, each once per process: the shared health store became unreachable, or came back. */
  log?: string[]
}

/** A session status of upstream's `retry` type that carries a failover notice (`action.reason: "failover"`). */
export interface FailoverStatusInfo {
  type: "retry"
  attempt: number
  message: string
  action: { reason: "failover"; provider: string; title: string; message: string; label: string }
  next: number
}

function failoverStatus(notice: string, to: MemberRef, waitMs: number, attempt: number, now = Date.now()): FailoverStatusInfo {
  const wait = waitMs > 0 ? ` (in ${formatDuration(waitMs)})` : ""
  return {
    type: "retry",
    attempt,
    message: notice,
    action: { reason: "failover", provider: to.providerID, title: "Switching provider", message: `${notice}${wait}`, label: to.providerID },
    next: now + waitMs,
  }
}

/** The engine's word on a failed attempt, kept on the handle between the retry policy and the settle step. */
export type Decision =
  | { kind: "pass" }
  | { kind: "surface"; message: string }
  | { kind: "switch"; mode: StepMode; to: MemberRef; notice: string; waitMs: number; attempt: number; stockRetry?: boolean }

interface SessionEntry {
  /** The runtime of the session's instance: its config, groups and chains route the session. */
  rt: CombinedRuntime
  /** What the user selected and for which agent: a new selection or agent starts a new route. */
  key: string
  selection: { providerID: string; modelID: string }
  group: Group
  fallbacks: Group[]
  userID?: string
  state: FailoverState
  /** The member `routeStep` chose and no processor has picked up yet. */
  pending?: MemberRef
  /**
   * Every member is out for longer than `max_wait`: the error naming each, shown instead of asking anyone. The step
   * still goes to a member so that OpenCode's processor runs and shows it; that member's request is refused before it
   * leaves (`routedRefusal`).
   */
  allOut?: string
}

const sessions = new Map<string, SessionEntry>()
/** Compaction's own routes, by session. */
const compactions = new Map<string, SessionEntry>()
/** Summary messages removed so their compaction runs again. */
const retriedCompactions = new Set<string>()

/**
 * Routes kept at most: a long-running server sees sessions come and go, and a route is only needed while its session
 * is being served. The least recently started turns go first.
 */
export const MAX_ROUTED_SESSIONS = 1_000

/** Marks a session's route as the most recently used one and drops the oldest beyond the bound. */
function touchSession(sessionID: string, entry: SessionEntry) {
  sessions.delete(sessionID)
  sessions.set(sessionID, entry)
  for (const oldest of sessions.keys()) {
    if (sessions.size <= MAX_ROUTED_SESSIONS) break
    sessions.delete(oldest)
    compactions.delete(oldest)
  }
  // Removed summaries whose compaction never ran again (the session ended first).
  for (const id of retriedCompactions) {
    if (retriedCompactions.size <= MAX_ROUTED_SESSIONS) break
    retriedCompactions.delete(id)
  }
}

/** How many session routes are kept now (for tests and the bound). */
export function routedSessionCount(): number {
  return sessions.size
}

/** Tests start from no sessions. */
export function resetSessions() {
  sessions.clear()
  compactions.clear()
  retriedCompactions.clear()
}

/**
 * The session a provider request belongs to. OpenCode names it on every request (session/llm/request.ts at the pin),
 * but not always under the same header: `x-opencode-session` to a provider whose id starts with `opencode` (OpenCode
 * Zen, `opencode-go`, an account named after them), `X-Session-Id` and `x-session-affinity` to every other.
 */
export function requestSessionID(headers: Headers): string | undefined {
  return headers.get("x-opencode-session") ?? headers.get("x-session-id") ?? headers.get("x-session-affinity") ?? undefined
}

/**
 * `combined_models.timeouts` for a request to this provider when its session's step is routed through the engine to
 * it right now; undefined otherwise (stock behaviour).
 */
export function routedTimeouts(providerID: string, headers: Headers) {
  const sessionID = requestSessionID(headers)
  if (!sessionID) return undefined
  for (const entry of [sessions.get(sessionID), compactions.get(sessionID)]) {
    const member = entry?.state.attempt?.member ?? entry?.pending
    if (entry && member?.providerID === providerID) return entry.rt.config.timeouts
  }
  return undefined
}

/** The refusal for a request the engine knows no member can take now (see `SessionEntry.allOut`); else undefined. */
export function routedRefusal(providerID: string, headers: Headers): Error | undefined {
  const sessionID = requestSessionID(headers)
  const entry = sessionID === undefined ? undefined : sessions.get(sessionID)
  const member = entry?.state.attempt?.member ?? entry?.pending
  return entry?.allOut !== undefined && member?.providerID === providerID ? new AllMembersOutError(entry.allOut) : undefined
}

/** Where a session's route stands, for `opencode combined --session` and the TUI's view. */
export function sessionRoute(sessionID: string) {
  const entry = sessions.get(sessionID)
  if (!entry) return undefined
  const { turn } = entry.state
  return {
    selection: entry.selection,
    chain: [entry.group, ...entry.fallbacks].map((group) => ({ id: group.id, name: group.name })),
    depth: turn.depth,
    servedBy: turn.servedBy ?? entry.state.lastServed,
    failures: turn.failures,
  }
}

/**
 * The selection as a group (a combined model, or the concrete model as a group of one when a fallback chain
 * applies) and the chain after it. Undefined leaves the step to OpenCode as it was.
 */
function resolveRoute(rt: CombinedRuntime, user: UserMessageLike): Pick<SessionEntry, "group" | "fallbacks"> | undefined {
  const groupOf = (reference: string) => {
    const parsed = parseModelRef(reference)
    if (parsed?.providerID === PROVIDER_ID) return rt.groups.get(parsed.modelID)
    const model = rt.models.get(reference)
    return model && singleModelGroup(model)
  }
  const selected = `${user.model.providerID}/${user.model.modelID}`
  const fallbacks = fallbackChainFor(rt.config, user.agent)
    .filter((reference) => reference !== selected)
    .flatMap((reference) => groupOf(reference) ?? [])
  const group = user.model.providerID === PROVIDER_ID ? rt.groups.get(user.model.modelID) : fallbacks.length ? groupOf(selected) : undefined
  return group && { group, fallbacks }
}

function contextOf(entry: SessionEntry, health: HealthView = entry.rt.view) {
  const { rt } = entry
  return { group: entry.group, fallbacks: entry.fallbacks, health, config: rt.config, access: rt.access, oauthProviders: rt.oauth, limits: rt.limits }
}

/** Apply a transition; the cooldowns it recorded come back for the log. */
function feed(entry: SessionEntry, event: FailoverEvent, health?: HealthView) {
  const { rt } = entry
  const next = transition(entry.state, event, contextOf(entry, health))
  entry.state = next.state
  return { actions: next.actions, cooldowns: recordOutcomes(rt.health, next.actions, rt.credentialOf) }
}

function tokensOf(tokens: TokensLike | undefined): number | undefined {
  if (!tokens) return undefined
  const total = (tokens.input ?? 0) + (tokens.output ?? 0) + (tokens.cache?.read ?? 0) + (tokens.cache?.write ?? 0)
  return total > 0 ? total : undefined
}

/**
 * The size of the request this step sends. After a step of this session: that step's request and answer as the
 * provider counted them (system prompt and tools included), with the prefix the member that answered it now holds
 * in its prompt cache set apart. A session's first step, or the first after a compaction, has no such count: it is
 * what OpenCode sends with every request of this agent (system prompt, tool definitions; `measuredRequest`), plus
 * the summary it goes on from.
 */
function stepSize(rt: CombinedRuntime, user: UserMessageLike, lastFinished: FinishedLike | undefined): StepSize | undefined {
  const tokens = lastFinished?.tokens
  if (lastFinished && !lastFinished.summary) {
    const total = tokensOf(tokens)
    if (total !== undefined) {
      const cached = (tokens?.cache?.read ?? 0) + (tokens?.cache?.write ?? 0)
      const member = lastFinished.providerID && lastFinished.modelID ? { providerID: lastFinished.providerID, modelID: lastFinished.modelID } : undefined
      return { tokens: total, ...(cached > 0 && member ? { cached: { member, tokens: cached } } : {}) }
    }
  }
  const base = rt.requestSizes.baseOf(requestKey(user.agent, user.model))
  if (base === undefined) return undefined
  return { tokens: base + (lastFinished?.summary ? (tokens?.output ?? 0) : 0) }
}

/**
 * The hunk in `llm.ts`, for each request OpenCode is about to send: `measure` gives what it carries besides the
 * conversation (system prompt and tool definitions) by upstream's own estimate (`Token.estimate`), and is only called
 * for a routed session, so other selections pay nothing. Kept for the session's agent and selection: the next
 * session's first step is sized by it. Title and other small-model requests are not a step's. Never throws: a
 * measurement is advisory.
 */
export function measuredRequest(
  input: { sessionID: string; small?: boolean; agent: { name: string }; user: { model: { providerID: string; modelID: string } } },
  measure: () => number,
) {
  if (input.small) return
  const entry = sessions.get(input.sessionID)
  if (!entry) return
  let tokens: number
  try {
    tokens = measure()
  } catch {
    return
  }
  if (Number.isFinite(tokens) && tokens > 0) entry.rt.requestSizes.measured(requestKey(input.agent.name, input.user.model), tokens)
}

const isRef = (value: unknown): value is MemberRef =>
  typeof value === "object" && value !== null && "providerID" in value && "modelID" in value
const noCooldowns: HealthView = { cooldownOf: () => undefined }

/**
 * The member for this session's next step. A model that is not combined and has no fallback chain comes back as
 * it was, so the hunk is a no-op for every other selection. `instance` is the session's OpenCode instance (its
 * directory): that instance's config routes it.
 */
export function routeStep<P extends string, M extends string>(
  sessionID: string,
  user: UserMessageLike & { model: { providerID: P; modelID: M } },
  lastFinished?: FinishedLike,
  options: { instance?: string; now?: number } = {},
): StepRoute<P, M> {
  // A compaction summary's tokens are the old conversation it summed up, not what the next step sends (OpenCode's own
  // overflow check skips it too): `stepSize` counts only its output, the summary itself.
  const route = chooseStep(sessionID, user, stepSize(runtime(options.instance), user, lastFinished), { ...options, lastFinished })
  const log = runtime(options.instance).takeStoreNotices()
  return log.length ? { ...route, log } : route
}

function chooseStep<P extends string, M extends string>(
  sessionID: string,
  user: UserMessageLike & { model: { providerID: P; modelID: M } },
  size: StepSize | undefined,
  options: { instance?: string; now?: number; lastFinished?: FinishedLike },
): StepRoute<P, M> {
  const now = options.now ?? Date.now()
  const selected = { providerID: user.model.providerID, modelID: user.model.modelID, waitMs: 0, replay: false }
  const rt = runtime(options.instance)
  const key = `${user.model.providerID}/${user.model.modelID}|${user.agent ?? ""}`
  let entry = sessions.get(sessionID)
  if (!entry || entry.key !== key || entry.userID !== user.id) {
    // Routes are resolved at turn boundaries: config and providers may have changed since the last turn.
    const route = resolveRoute(rt, user)
    if (!route) {
      sessions.delete(sessionID)
      return selected
    }
    if (!entry || entry.key !== key) {
      entry = { rt, key, selection: user.model, ...route, state: withServedBefore(initialState(route.group.id), options.lastFinished) }
      sessions.set(sessionID, entry)
    } else Object.assign(entry, route, { rt })
  }
  if (entry.userID !== user.id) {
    touchSession(sessionID, entry)
    if (entry.userID !== undefined) feed(entry, { type: "turn_finished", at: now })
    // Only round_robin reads the counter: other strategies pay no state-file write per turn.
    const rotation = entry.group.strategy === "round_robin" ? entry.rt.nextRotation(entry.group.id) : undefined
    feed(entry, { type: "turn_started", at: now, ...(rotation !== undefined ? { rotation } : {}) })
    entry.userID = user.id
  }

  const requested: FailoverEvent = { type: "step_requested", at: now, contextTokens: size?.tokens, ...(size?.cached ? { cached: size.cached } : {}) }
  entry.allOut = undefined
  let { actions } = feed(entry, requested)
  const surfaced = actions.find((action) => action.type === "surface")
  if (surfaced) {
    // Every member is cooling down past max_wait: the error comes at once and nobody is asked. Routing without the
    // cooldowns finds the member the step is handed to, so that OpenCode shows the error; if none would take it even
    // then (no room, no access), the step is OpenCode's as it was.
    entry.state = { ...entry.state, phase: "idle" }
    actions = feed(entry, requested, noCooldowns).actions
    if (actions.some((action) => action.type === "use" || action.type === "wait")) {
      entry.allOut = surfaced.message
      entry.state = { ...entry.state, next: undefined }
    }
  }
  const chosen = actions.find((action) => action.type === "use" || action.type === "wait")
  if (!chosen || (chosen.type !== "use" && chosen.type !== "wait")) return selected
  entry.pending = ref(chosen.member)
  const member = { providerID: chosen.member.providerID as P, modelID: chosen.member.modelID as M }
  const notBefore = entry.state.next?.notBefore ?? now
  const waitMs = chosen.type === "wait" ? chosen.delayMs : Math.max(0, notBefore - now)
  const attempt = entry.state.turn.switches + entry.state.turn.retries
  return {
    ...member,
    waitMs,
    replay: chosen.mode === "replay",
    ...(chosen.notice ? { status: failoverStatus(chosen.notice, chosen.member, waitMs, attempt, now) } : {}),
  }
}

/**
 * A session this process has not routed yet (`opencode run -c`, a restarted TUI, a reload) still says who served it
 * last: its last finished assistant message names the member and when it finished. `sticky: "session"` and
 * `{ window }` go on from there, as they would have in the process that served it, so the prompt cache is not thrown
 * away for a new process. A member that is not on this route any more is simply not found by routing.
 */
function withServedBefore(state: FailoverState, lastFinished: FinishedLike | undefined): FailoverState {
  const { providerID, modelID } = lastFinished ?? {}
  const completed = lastFinished?.time?.completed
  if (!providerID || !modelID || typeof completed !== "number" || !Number.isFinite(completed)) return state
  return { ...state, lastServed: { providerID, modelID }, lastServedAt: completed }
}

/**
 * With the context-window fallback on (`"context_overflow"` in `failover_on`): whether this session's conversation,
 * at `tokens`, has room at another member of its route (the selection's group or its fallback chain), ready now. The
 * processor asks before it marks a finished step for compaction: the next step then goes to that member instead.
 * False for a session not routed here, or with the fallback off: stock compaction as before.
 */
export function hasRoomElsewhere(sessionID: string, tokens: TokensLike | undefined, now = Date.now()): boolean {
  const entry = sessions.get(sessionID)
  const needed = tokensOf(tokens)
  if (!entry || needed === undefined || !entry.rt.config.failoverOn.includes("context_overflow")) return false
  const { rt } = entry
  return [entry.group, ...entry.fallbacks.slice(0, rt.config.maxFallbackDepth)].some((group) => {
    const reserved = rt.config.compactionReserved
    const picked = pick(group, rt.view, rt.config, { contextTokens: needed, roomFor: needed, reserved }, { now, access: rt.access })
    return picked.kind === "member" && usableWindow(picked.member, reserved) > needed
  })
}

/**
 * The combined model a subagent should inherit: the parent's selection rather than the member that served the
 * parent's step, so the subagent fails over too.
 */
export function selectionFor<T extends { providerID: string; modelID: string }>(sessionID: string, served: T): T {
  const entry = sessions.get(sessionID)
  const onRoute = entry && [entry.group, ...entry.fallbacks].some((group) =>
    group.members.some((m) => sameMember(m, served)),
  )
  // The selection's ids are the same kind of id as the served model's (OpenCode brands both).
  return onRoute && entry ? ({ ...served, ...entry.selection } as T) : served
}

/** What the hunk passes from the processor: OpenCode's services, typed by what we call. */
export interface SettleServices {
  session: {
    removeMessage: (input: { sessionID: never; messageID: never }) => Effect.Effect<unknown, unknown, never>
    updateMessage: (message: never) => Effect.Effect<unknown, unknown, never>
    /** Reads the attempt's message with its parts (OpenCode's `Session.findMessage`). */
    findMessage: (sessionID: never, predicate: (message: never) => boolean) => Effect.Effect<Option.Option<unknown>, unknown, never>
    updatePart: (part: never) => Effect.Effect<unknown, unknown, never>
  }
  status: { set: (sessionID: never, info: never) => Effect.Effect<unknown, unknown, never> }
  message: { id: string; sessionID: string; error?: unknown; finish?: string }
  /** A new part id (OpenCode's `PartID.ascending`), for a tool call the processor never recorded. */
  partID: () => string
}

/** How long a continued attempt waits for its tools to end after the abort before calling them interrupted. */
const TOOL_SETTLE_MS = 1_000

export class Failover {
  #decision: Decision | undefined
  /** The latest failure of this step, as classified. */
  #failure: ClassifiedError | undefined
  #cooldowns: CooldownEntry[] = []
  readonly #edge: StepEdge
  /** The step's tool executions, recorded where the AI SDK starts them (`watch`). */
  readonly #tools: ToolRuns

  constructor(
    private readonly sessionID: string,
    private readonly entry: SessionEntry,
    private readonly member: MemberRef,
    private readonly options: { compaction?: boolean } = {},
  ) {
    this.#edge = new StepEdge({
      member,
      feed: (event) => {
        const { actions, cooldowns } = feed(entry, event)
        // The cooldowns a failure recorded, for the log line of its decision.
        if (event.type === "step_failed") this.#cooldowns = cooldowns
        return actions
      },
      attemptOpen: () => entry.state.attempt !== undefined,
    })
    this.#tools = new ToolRuns({ onStart: (toolCallId) => this.#edge.toolStarted(toolCallId) })
    this.#edge.start({ fresh: true })
  }

  /**
   * The processor's stream input with each tool's execution recorded: a tool counts as run from the moment the AI SDK
   * starts it, whether or not the processor read the call off the stream before a failure dropped it.
   */
  watch<I extends { tools?: Record<string, unknown> }>(input: I): I {
    return input.tools ? { ...input, tools: this.#tools.watch(input.tools) } : input
  }

  /**
   * Every stream event, first thing in the processor's handler. A finish that is not the provider's end of message
   * (`error`, `unknown`) is thrown from here, before the processor records it: the stream then fails like any other
   * failure, through the retry policy (`claims`), and the partial answer is never kept as the answer.
   */
  observe(event: StreamPart) {
    const failure = this.#edge.observe(event)
    if (failure) throw failure
    if (this.#edge.outcome === "finished" && event.type === "step-finish" && this.options.compaction)
      compactions.delete(this.sessionID)
  }

  /** After the stream drained without an error: a stream that never finished was cut short. */
  ended() {
    const failure = this.#edge.closed()
    if (failure) throw failure
  }

  /**
   * Called by the retry policy with each failure: true when the engine takes it over (the stock same-provider
   * retry then stops), false for what stays OpenCode's business (abort, bad requests, reasons not in `failover_on`,
   * and a context overflow unless the context-window fallback is on and a larger window is ready).
   */
  claims(error: unknown): boolean {
    if (this.#decision && this.#decision.kind !== "pass") return true
    if (this.entry.allOut !== undefined && AllMembersOutError.isInstance(error)) {
      // Refused before it left: nothing was sent, nothing failed, nothing cools. The error names every member.
      this.#decision = { kind: "surface", message: this.entry.allOut }
      this.entry.allOut = undefined
      this.entry.state = { ...this.entry.state, phase: "failed", attempt: undefined, next: undefined }
      return true
    }
    const { rt } = this.entry
    const now = Date.now()
    const { error: classified, actions } = this.#edge.fail(error)
    this.#failure = classified
    this.#decision = this.decide(actions, now)
    // The member refused reasoning another spelling of it wrote: its history keeps only its own from now on.
    if (actions.some((action) => action.type === "retry" && action.ownReasoningOnly)) keepOwnReasoningOnly(this.sessionID, this.member)
    if (this.options.compaction && this.#decision.kind === "surface") compactions.delete(this.sessionID)
    // A move to another provider, or down the fallback chain to another model of the same provider.
    if (this.#decision.kind === "switch" && !sameMember(this.#decision.to, this.member))
      rt.recordSwitch({
        at: now,
        sessionID: this.sessionID,
        groupID: this.entry.group.id,
        from: this.member,
        to: this.#decision.to,
        reason: classified.reason,
        notice: this.#decision.notice,
        depth: this.entry.state.turn.depth,
      })
    return this.#decision.kind !== "pass"
  }

  private decide(actions: FailoverAction[], now: number): Decision {
    const attempt = this.entry.state.turn.switches + this.entry.state.turn.retries
    for (const action of actions) {
      switch (action.type) {
        case "pass_through":
          return { kind: "pass" }
        case "surface":
          return { kind: "surface", message: action.message }
        case "retry":
          return { kind: "switch", mode: action.mode, to: ref(action.member), notice: action.notice, waitMs: action.delayMs, attempt }
        case "wait":
          return { kind: "switch", mode: action.mode, to: ref(action.member), notice: action.notice, waitMs: action.delayMs, attempt }
        case "replay":
        case "continue": {
          const notBefore = this.entry.state.next?.notBefore ?? now
          return { kind: "switch", mode: action.type, to: ref(action.member), notice: action.notice, waitMs: Math.max(0, notBefore - now), attempt }
        }
      }
    }
    return { kind: "pass" }
  }

  /**
   * What OpenCode's log gets for a decision: who was selected and served, why, for how long the failed member cools
   * down, and how deep in the fallback chain. Messages were redacted by the classifier; no content, no keys.
   */
  private logFields(extra: Record<string, unknown>): Record<string, unknown> {
    const { turn } = this.entry.state
    const failure = turn.failures.at(-1)
    const cooldown = this.#cooldowns[0]
    return {
      "session.id": this.sessionID,
      selected: `${this.entry.selection.providerID}/${this.entry.selection.modelID}`,
      failed: `${this.member.providerID}/${this.member.modelID}`,
      reason: failure?.error.reason,
      status: failure?.error.statusCode,
      error: failure?.error.message,
      cooldown: cooldown ? (Number.isFinite(cooldown.until) ? `${Math.round((cooldown.until - Date.now()) / 1000)}s` : "until re-authenticated") : undefined,
      depth: turn.depth,
      ...Object.fromEntries(
        Object.entries(extra).map(([key, value]) => [key, isRef(value) ? `${value.providerID}/${value.modelID}` : value]),
      ),
    }
  }

  /**
   * OpenCode's stock retry is about to stream this step again after `delayMs`, for a failure the engine left to it.
   * That stream starts from the step's input, without the results of the tools this step already ran, so the model
   * would call them again. When a tool ran, the engine takes the retry over instead: the attempt is kept as a tool
   * step and the next step goes on from the tool results after the same wait. Nothing cools down and nothing moves:
   * routing sends it to the member it would pick anyway. True when it took over.
   */
  continuesInsteadOfStockRetry(delayMs: number): boolean {
    if (this.options.compaction || this.#edge.toolsStarted.size === 0 || this.#decision?.kind === "switch") return false
    const waitMs = Math.max(0, Math.round(delayMs))
    const cause = this.#failure ? describeFailure(this.member.providerID, this.#failure) : `${this.member.providerID} failed`
    const attempt = this.entry.state.turn.switches + this.entry.state.turn.retries
    this.#decision = { kind: "switch", mode: "continue", to: this.member, notice: `${cause}, retrying in ${formatDuration(waitMs)} from the tool results`, waitMs, attempt, stockRetry: true }
    return true
  }

  /** The engine took this failure over. */
  get claimed(): boolean {
    return this.#decision !== undefined && this.#decision.kind !== "pass"
  }

  /** The attempt ends in a switch (or a same-member retry): the loop goes on. */
  get switching(): boolean {
    return this.#decision?.kind === "switch"
  }

  /**
   * In place of the processor's `halt` for a claimed failure: the final error names every member's failure; a
   * switch halts nothing, so OpenCode publishes no session error and does not go idle mid-turn.
   */
  settle<E, R>(
    halt: (error: unknown) => Effect.Effect<void, E, R>,
    error: unknown,
    open?: { currentText?: unknown; reasoningMap?: Record<string, unknown> },
  ): Effect.Effect<void, E, R> {
    const decision = this.#decision
    if (decision?.kind === "surface")
      return Effect.logWarning("combined-models: every member failed").pipe(
        Effect.annotateLogs(this.logFields({ message: decision.message })),
        Effect.andThen(halt(new Error(decision.message, { cause: error }))),
      )
    if (decision?.kind !== "switch") return halt(error)
    if (decision.mode !== "continue" && open) {
      // The processor's cleanup would close the attempt's open text and reasoning, and `opencode run` prints closed
      // text: a replayed attempt must leave nothing behind, so they are dropped before cleanup sees them.
      open.currentText = undefined
      open.reasoningMap = {}
    }
    // A thinking block the failure cut off is marked, so the next member's history leaves it out (`historyFor`):
    // Anthropic refuses an unsigned, partial one. Cleanup still closes it, so the session shows it finished.
    if (decision.mode === "continue" && open?.reasoningMap)
      for (const part of Object.values(open.reasoningMap)) markCut(part)
    return Effect.void
  }

  /**
   * After the processor's cleanup: settle the failed attempt and show the switch. Replay removes the attempt's
   * message (its parts go with it), so the answer the user reads comes from one provider; continue keeps it, with
   * its completed tool results, as a finished tool step for the next member to go on from.
   */
  finish(services: SettleServices): Effect.Effect<"continue"> {
    const decision = this.#decision
    const { sessionID } = this
    const compaction = this.options.compaction === true
    const fields = this.logFields(decision?.kind === "switch" ? { served: decision.to, notice: decision.notice, mode: decision.mode } : {})
    const tools = this.#tools
    return Effect.gen(function* () {
      if (decision?.kind !== "switch") return "continue" as const
      yield* Effect.logInfo("combined-models: failover").pipe(Effect.annotateLogs(fields))
      const message = services.message
      if (decision.mode === "continue") {
        message.error = undefined
        message.finish = "tool-calls"
        yield* services.session.updateMessage(message as never)
        // Every tool that ran gets its real result in the message, or one that says it was interrupted and may have
        // run: the processor only recorded the calls it read off the stream before the failure.
        if (tools.runs.length > 0) {
          yield* Effect.promise(() => tools.settled(TOOL_SETTLE_MS))
          const found = yield* services.session
            .findMessage(message.sessionID as never, ((candidate: { info?: { id?: string } }) => candidate.info?.id === message.id) as never)
            .pipe(Effect.orElseSucceed(() => Option.none()))
          const held = Option.getOrUndefined(found) as { parts?: readonly unknown[] } | undefined
          const parts = (held?.parts ?? []).filter(isToolPart)
          for (const part of toolPartsAfterFailure({ message, parts, runs: tools.runs, partID: services.partID }))
            yield* services.session.updatePart(part as never)
        }
      } else {
        yield* services.session.removeMessage({ sessionID: message.sessionID, messageID: message.id } as never)
      }
      // A compaction is re-run at once by its hunk, so the wait (a retry's, or the soonest member's) happens here; so
      // does the stock retry's wait, which routing does not know of.
      if (compaction) retriedCompactions.add(message.id)
      yield* services.status.set(sessionID as never, failoverStatus(decision.notice, decision.to, decision.waitMs, decision.attempt) as never)
      if ((compaction || decision.stockRetry) && decision.waitMs > 0) yield* Effect.sleep(decision.waitMs)
      return "continue" as const
    }).pipe(Effect.orDie)
  }
}

function isToolPart(part: unknown): part is ToolPartLike {
  return typeof part === "object" && part !== null && (part as { type?: unknown }).type === "tool"
}

/**
 * The processor's retry policy with the engine asked first: a failure the engine claims ends the stock retry at
 * once (no stock "retrying" status, no stock wait); what it passes on gets the stock policy as before, except that a
 * stock retry of a step whose tools already ran goes on from their results (`continuesInsteadOfStockRetry`). The
 * engine must come first because a wrapped predicate would only see what the stock policy chose to retry: a 401 would
 * never reach it.
 */
export function guardRetry<Output, Input, Error, Env>(
  failover: Failover | undefined,
  policy: Schedule.Schedule<Output, Input, Error, Env>,
): Schedule.Schedule<Output, Input, Error, Env> {
  if (!failover) return policy
  return Schedule.fromStep(
    Effect.map(Schedule.toStep(policy), (step) => (now: number, input: Input) =>
      failover.claims(input)
        ? Cause.done(undefined as Output)
        : Effect.flatMap(step(now, input), (decided) =>
            failover.continuesInsteadOfStockRetry(Duration.toMillis(decided[1])) ? Cause.done(decided[0]) : Effect.succeed(decided),
          ),
    ),
  )
}

/**
 * The handle for a step's processor, when `routeStep` routed this step through a combined model or a chain, or when
 * the step is a compaction running on a member of the session's selected model.
 */
export function failoverFor(
  sessionID: string,
  model: { providerID: string; id: string },
  message?: { summary?: boolean },
): Failover | undefined {
  if (message?.summary) return compactionFailover(sessionID, model)
  const entry = sessions.get(sessionID)
  if (!entry?.pending) return undefined
  if (entry.pending.providerID !== model.providerID || entry.pending.modelID !== model.id) return undefined
  const member = entry.pending
  entry.pending = undefined
  return new Failover(sessionID, entry, member)
}

/**
 * Compaction resolves `combined/<id>` without session routing (the first healthy member); its failures still go
 * through the engine, on a route of its own that lasts until a compaction of the session succeeds or gives up, so
 * each member is tried at most once. A failed attempt's summary is removed and the compaction runs again
 * (`retriesCompaction`); the cooldown just recorded makes the next run land on the next member.
 */
function compactionFailover(sessionID: string, model: { providerID: string; id: string }): Failover | undefined {
  const session = sessions.get(sessionID)
  const served = { providerID: model.providerID, modelID: model.id }
  if (!session?.group.members.some((member) => sameMember(member, served)))
    return undefined
  let entry = compactions.get(sessionID)
  if (!entry || entry.group !== session.group) {
    entry = {
      rt: session.rt,
      key: `compaction|${session.key}`,
      selection: session.selection,
      group: session.group,
      fallbacks: [],
      state: initialState(session.group.id),
    }
    feed(entry, { type: "turn_started", at: Date.now() })
    compactions.set(sessionID, entry)
  }
  return new Failover(sessionID, entry, served, { compaction: true })
}

/** Whether this compaction summary was removed for another attempt: the compaction then runs again. */
export function retriesCompaction(message: { id: string }): boolean {
  return retriedCompactions.delete(message.id)
}
