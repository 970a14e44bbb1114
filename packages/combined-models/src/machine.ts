/**
 * The failover state machine: `transition(state, event, context) → { state, actions }`, pure. The edge (the
 * session processor in OpenCode, the rehearsal driver here) feeds it what happened to each step and carries out
 * the actions: send the step to a member, settle a failed attempt, record cooldowns, show the error.
 *
 * One state per session that uses a combined model. A turn is one user message; a step is one LLM call.
 */
import type { ResolvedConfig } from "./config.ts"
import type { HealthView } from "./health.ts"
import type { LimitsView, StepSize } from "./limits.ts"
import {
  cooldownLine,
  describeFailure,
  failureSummary,
  fallbackNotice,
  formatDuration,
  nearLimitNotice,
  switchNotice,
  widerWindowNotice,
  type MemberFailure,
} from "./label.ts"
import { inputWindow, pick, refOf as ref, sameMember, usableWindow, type Access, type PickResult, type SkippedMember } from "./route.ts"
import { NEVER_FAIL_OVER, reachesOtherModels, scopeOf, type ClassifiedError, type FailureReason, type Group, type GroupMember, type MemberRef } from "./types.ts"

/**
 * How a step goes to a member. `fresh`: a new step. `replay`: the failed attempt emitted no tool call, so its
 * partial output is discarded and the same step is sent again. `continue`: tool calls were made, so their
 * results are kept and the loop goes on from them: replaying would run the tools twice.
 */
export type StepMode = "fresh" | "replay" | "continue"

export interface Attempt {
  member: MemberRef
  startedAt: number
  sawContent: boolean
  toolCalls: number
  toolsCompleted: number
}

export interface TurnState {
  index: number
  /** How far down the fallback chain this turn has gone: 0 is the selected model. */
  depth: number
  /** The member that completed this turn's latest step. */
  servedBy?: MemberRef
  switches: number
  /** Consecutive same-member retries of the current step. */
  retries: number
  failures: MemberFailure[]
  /** Providers given up on in this turn: one provider is one quota, so none of its members is tried again. */
  abandoned: string[]
  /** OAuth providers whose 401 was already retried once in this turn (after the sign-in's token refresh). */
  signInRetried?: string[]
  /** `round_robin`: how far this turn turns the order (the edge's counter; the turn index when it gives none). */
  rotation?: number
  /** A provider said the conversation no longer fits this window: for the rest of the turn, smaller members are out. */
  minWindow?: number
  /** Members that refused the reasoning in the history and were sent the step again without it, once each per turn. */
  reasoningResent?: MemberRef[]
}

export interface FailoverState {
  groupID: string
  phase: "idle" | "pending" | "streaming" | "failed" | "aborted"
  /** Decided, not yet started: what the next step uses. */
  next?: { member: MemberRef; mode: StepMode; notBefore: number }
  attempt?: Attempt
  /** The member that completed the latest step of any turn (for `sticky: "session"` and `{ window }`). */
  lastServed?: MemberRef
  /** When it did. */
  lastServedAt?: number
  /** Tokens the session's next request needs, as last reported. */
  contextTokens?: number
  /** Of those, the prefix cached at the member that served the last step (read ahead leaves it out where limits do). */
  cached?: StepSize["cached"]
  /** How much more than `contextTokens` the step may spend (`StepSize.margin`): 1 when they are the request itself. */
  margin?: number
  turn: TurnState
}

export type FailoverEvent =
  /** `rotation`: the edge's turn counter for `round_robin`, shared by the sessions of a process. */
  | { type: "turn_started"; at: number; rotation?: number }
  | { type: "step_requested"; at: number; contextTokens?: number; cached?: StepSize["cached"]; margin?: number }
  | { type: "step_started"; at: number; member: MemberRef }
  | { type: "first_content"; at: number; kind: "text" | "reasoning" | "tool" }
  | { type: "tool_call"; at: number; toolCallId: string }
  | { type: "tool_completed"; at: number; toolCallId: string }
  | { type: "step_finished"; at: number }
  | { type: "step_failed"; at: number; error: ClassifiedError }
  | { type: "user_abort"; at: number }
  | { type: "turn_finished"; at: number }

export type FailoverAction =
  /** Send the step to this member now; `notice` when that meant going down the fallback chain. */
  | { type: "use"; member: GroupMember; mode: StepMode; notice?: string }
  /**
   * Send the step to the same member again after `delayMs`: the wait was short enough to keep the prompt cache.
   * `ownReasoningOnly`: the member refused reasoning another spelling of it wrote; from now on its history carries
   * only the reasoning written under its own id.
   */
  | { type: "retry"; member: GroupMember; mode: StepMode; delayMs: number; notice: string; ownReasoningOnly?: true }
  /** Discard the failed attempt's partial output and send the step to another member. */
  | { type: "replay"; from: MemberRef; member: GroupMember; notice: string }
  /** Keep the failed attempt's completed tool results and go on with another member. */
  | { type: "continue"; from: MemberRef; member: GroupMember; notice: string }
  /** Every usable member is cooling down: wait for the one back soonest. */
  | { type: "wait"; member: GroupMember; mode: StepMode; delayMs: number; notice: string }
  /** Nothing left to try: show this error, which names every member's failure. */
  | { type: "surface"; message: string; failures: MemberFailure[]; cause: "all_failed" | "switch_budget" | "no_member" }
  /** Not a failover matter (user abort, context overflow, a bad request, a reason not in `failover_on`). */
  | { type: "pass_through"; error: ClassifiedError }
  /** Record the failure in the health registry. */
  | { type: "cool_down"; member: MemberRef; error: ClassifiedError; attemptStartedAt: number }
  /** The member answered: clear its failure streak (and a cooldown recorded before this attempt began). */
  | { type: "recovered"; member: MemberRef; attemptStartedAt: number }

export interface FailoverContext {
  /** The selected model. */
  group: Group
  /** The chain after it (`fallback_models`), each entry a combined group or a one-member group. */
  fallbacks?: readonly Group[]
  health: HealthView
  config: ResolvedConfig
  access?: Access
  /**
   * Providers signed in with OAuth (Claude Pro/Max, Copilot): their tokens expire and OpenCode's auth plugins refresh
   * them on the next request, so a 401 is retried once on the same member before it counts as bad credentials.
   */
  oauthProviders?: ReadonlySet<string>
  /** What providers' rate-limit headers said they have left: read ahead, and `least_limited`. */
  limits?: LimitsView
}

export interface Transition {
  state: FailoverState
  actions: FailoverAction[]
}

/** Waits worth sitting out on the same member when the provider named none. */
const SAME_MEMBER_WAIT: Partial<Record<FailureReason, number>> = {
  server_error: 1_000,
  overloaded: 2_000,
  network: 500,
}

export function initialState(groupID: string): FailoverState {
  return { groupID, phase: "idle", turn: newTurn(0) }
}

function newTurn(index: number): TurnState {
  return { index, depth: 0, switches: 0, retries: 0, failures: [], abandoned: [] }
}

/** The group a turn at this depth routes in. */
export function groupAt(context: Pick<FailoverContext, "group" | "fallbacks">, depth: number): Group {
  return depth === 0 ? context.group : (context.fallbacks?.[depth - 1] ?? context.group)
}

function deepestAllowed(context: FailoverContext): number {
  return Math.min(context.fallbacks?.length ?? 0, context.config.maxFallbackDepth)
}

export function transition(state: FailoverState, event: FailoverEvent, context: FailoverContext): Transition {
  switch (event.type) {
    case "turn_started":
      return {
        state: {
          ...state,
          phase: "idle",
          next: undefined,
          attempt: undefined,
          turn: { ...newTurn(state.turn.index + 1), ...(event.rotation !== undefined ? { rotation: event.rotation } : {}) },
        },
        actions: [],
      }
    case "step_requested":
      return requestStep(
        event.contextTokens === undefined ? state : { ...state, contextTokens: event.contextTokens, cached: event.cached, margin: event.margin },
        event.at,
        context,
      )
    case "step_started":
      return {
        state: {
          ...state,
          phase: "streaming",
          next: undefined,
          attempt: { member: ref(event.member), startedAt: event.at, sawContent: false, toolCalls: 0, toolsCompleted: 0 },
        },
        actions: [],
      }
    case "first_content":
      return updateAttempt(state, (attempt) => ({ ...attempt, sawContent: true }))
    case "tool_call":
      return updateAttempt(state, (attempt) => ({ ...attempt, sawContent: true, toolCalls: attempt.toolCalls + 1 }))
    case "tool_completed":
      return updateAttempt(state, (attempt) => ({ ...attempt, toolsCompleted: attempt.toolsCompleted + 1 }))
    case "step_finished": {
      if (!state.attempt) return { state, actions: [] }
      const { member, startedAt } = state.attempt
      return {
        state: {
          ...state,
          phase: "idle",
          attempt: undefined,
          lastServed: member,
          lastServedAt: event.at,
          turn: { ...state.turn, servedBy: member, retries: 0 },
        },
        actions: [{ type: "recovered", member, attemptStartedAt: startedAt }],
      }
    }
    case "step_failed":
      return failStep(state, event.error, event.at, context)
    case "user_abort":
      return { state: { ...state, phase: "aborted", next: undefined, attempt: undefined }, actions: [] }
    case "turn_finished":
      return { state: { ...state, phase: "idle", next: undefined, attempt: undefined }, actions: [] }
  }
}

function updateAttempt(state: FailoverState, update: (attempt: Attempt) => Attempt): Transition {
  if (!state.attempt) return { state, actions: [] }
  return { state: { ...state, attempt: update(state.attempt) }, actions: [] }
}

function findMember(group: Group, member: MemberRef): GroupMember | undefined {
  return group.members.find((candidate) => sameMember(candidate, member))
}

function stickTarget(state: FailoverState, config: ResolvedConfig, at: number): MemberRef | undefined {
  const { sticky } = config
  if (sticky === "off") return undefined
  if (sticky === "session") return state.turn.servedBy ?? state.lastServed
  if (sticky === "turn") return state.turn.servedBy
  const recent = state.lastServedAt !== undefined && at - state.lastServedAt <= sticky.windowMs
  return state.turn.servedBy ?? (recent ? state.lastServed : undefined)
}

function route(state: FailoverState, at: number, context: FailoverContext, options: { limits?: boolean } = {}): PickResult {
  const { config } = context
  return pick(
    groupAt(context, state.turn.depth),
    context.health,
    config,
    {
      contextTokens: state.contextTokens,
      ...(state.cached ? { cached: state.cached } : {}),
      ...(state.margin !== undefined ? { margin: state.margin } : {}),
      failedProviders: state.turn.abandoned,
      stickTo: stickTarget(state, config, at),
      rotation: state.turn.rotation ?? state.turn.index,
      ...(state.turn.minWindow !== undefined ? { minWindow: state.turn.minWindow } : {}),
      // With the context-window fallback on, a member that would compact this conversation comes after one with room.
      ...(config.failoverOn.includes("context_overflow") && state.contextTokens !== undefined
        ? { roomFor: state.contextTokens, reserved: config.compactionReserved }
        : {}),
    },
    { now: at, access: context.access, limits: options.limits === false ? undefined : context.limits },
  )
}

/**
 * The notice for a step read ahead away from the member it would have gone to: that member's headers say it has too
 * little left for this step before its reset. Undefined when the limits changed nothing.
 */
function nearLimitMove(state: FailoverState, at: number, context: FailoverContext, picked: Extract<PickResult, { kind: "member" }>) {
  const near = picked.skipped.filter((entry) => entry.why === "near_limit")
  if (near.length === 0) return undefined
  const unread = route(state, at, context, { limits: false })
  if (unread.kind !== "member" || sameMember(unread.member, picked.member)) return undefined
  const passed = near.find((entry) => sameMember(entry.member, unread.member))
  if (!passed || passed.until === undefined) return undefined
  // Once per move: steps and turns that already went on at the other member need no second notice.
  const previous = state.turn.servedBy ?? state.lastServed
  if (previous && sameMember(previous, picked.member)) return undefined
  return nearLimitNotice(passed.member, Math.max(0, passed.until - at), picked.member)
}

/**
 * The turn as it is at a model further down the fallback chain: a different model, so providers given up on for the
 * last one are tried again, unless what failed was the whole provider. The switch budget is per model: the walk down
 * the chain is bounded by max_fallback_depth instead.
 */
function turnDownTheChain(turn: TurnState, depth: number): TurnState {
  // A refusal of one model says nothing about the next model; its credential's or endpoint's failures still count.
  const providerWide = turn.failures.filter((failure) => reachesOtherModels(failure.error))
  return { ...turn, depth, switches: 0, abandoned: [...new Set(providerWide.map((failure) => failure.member.providerID))] }
}

/** The first ready member further down the fallback chain that `accept` takes, and the turn as it is there. */
function descend(state: FailoverState, at: number, context: FailoverContext, accept: (member: GroupMember) => boolean = () => true) {
  for (let depth = state.turn.depth + 1; depth <= deepestAllowed(context); depth++) {
    const deeper: FailoverState = { ...state, turn: turnDownTheChain(state.turn, depth) }
    const picked = route(deeper, at, context)
    if (picked.kind === "member" && accept(picked.member))
      return { state: deeper, member: picked.member, from: groupAt(context, state.turn.depth), to: groupAt(context, depth) }
  }
  return undefined
}

/**
 * A decision made earlier is stale when its member has since cooled past the time the step was to start: the loop may
 * run a subtask or a compaction between the decision and the step, and another session may have seen that member
 * fail meanwhile. A cooldown that ends by `notBefore` is the decision's own wait (a retry after Retry-After).
 */
function stillGood(next: NonNullable<FailoverState["next"]>, at: number, context: FailoverContext): boolean {
  const cooldown = context.health.cooldownOf(next.member, at)
  // The decision's own wait is recorded by the registry a moment after the machine's event time: allow for that.
  return !cooldown || cooldown.until <= Math.max(at, next.notBefore) + OWN_WAIT_SLACK_MS
}

/** How far past a retry's planned start its own recorded cooldown may end and still be that retry's. */
const OWN_WAIT_SLACK_MS = 1_000

function requestStep(state: FailoverState, at: number, context: FailoverContext): Transition {
  const decided = state.next && findMember(groupAt(context, state.turn.depth), state.next.member)
  if (state.next && decided && stillGood(state.next, at, context)) {
    return {
      state: { ...state, phase: "pending" },
      actions: [{ type: "use", member: decided, mode: state.next.mode }],
    }
  }
  // A replay or continue decided before stays one: only the member is chosen again.
  const mode: StepMode = state.next?.mode ?? "fresh"
  const picked = route(state, at, context)
  const roomier = picked.kind === "member" ? roomDownTheChain(state, at, context, picked.member) : undefined
  if (roomier) return roomier
  if (picked.kind === "member") {
    const notice = nearLimitMove(state, at, context, picked)
    return {
      state: { ...state, phase: "pending", next: { member: ref(picked.member), mode, notBefore: at } },
      actions: [{ type: "use", member: picked.member, mode, ...(notice ? { notice } : {}) }],
    }
  }
  const deeper = descend(state, at, context)
  if (deeper) {
    return {
      state: { ...deeper.state, phase: "pending", next: { member: ref(deeper.member), mode, notBefore: at } },
      actions: [{ type: "use", member: deeper.member, mode, notice: fallbackNotice(deeper.from, deeper.to, deeper.member) }],
    }
  }
  if (picked.kind === "wait" && picked.until - at <= context.config.maxWaitMs) {
    const delayMs = Math.max(0, picked.until - at)
    return {
      state: { ...state, phase: "pending", next: { member: ref(picked.member), mode, notBefore: picked.until } },
      actions: [
        {
          type: "wait",
          member: picked.member,
          mode,
          delayMs,
          notice: `every provider of ${groupAt(context, state.turn.depth).name} is cooling down; waiting ${formatDuration(delayMs)} for ${picked.member.providerID}`,
        },
      ],
    }
  }
  return surface(state, context, "no_member", picked.skipped, at)
}

function failStep(state: FailoverState, error: ClassifiedError, at: number, context: FailoverContext): Transition {
  const failedMember = state.attempt?.member ?? state.next?.member
  const attemptStartedAt = state.attempt?.startedAt ?? at
  const { config } = context

  if (error.reason === "aborted")
    return { state: { ...state, phase: "aborted", next: undefined, attempt: undefined }, actions: [{ type: "pass_through", error }] }
  const passThrough: Transition = { state: { ...state, phase: "idle", next: undefined, attempt: undefined }, actions: [{ type: "pass_through", error }] }
  const resent = failedMember && error.refusedReasoning ? resendWithoutReasoning(state, failedMember, error, at, context) : undefined
  if (resent) return resent
  if (!failedMember || NEVER_FAIL_OVER.includes(error.reason) || !config.failoverOn.includes(error.reason)) return passThrough
  // Without a member with a larger window the overflow stays OpenCode's: stock compaction runs.
  if (error.reason === "context_overflow") return widerWindow(state, failedMember, error, at, context) ?? passThrough

  const mode: StepMode = (state.attempt?.toolCalls ?? 0) > 0 ? "continue" : "replay"
  const failures = [...state.turn.failures, { member: failedMember, error, at }]
  const cooldown: FailoverAction = { type: "cool_down", member: failedMember, error, attemptStartedAt }
  const settled: FailoverState = { ...state, phase: "pending", attempt: undefined, next: undefined }

  const current = findMember(groupAt(context, state.turn.depth), failedMember)
  const signInRetried = state.turn.signInRetried ?? []
  if (
    current &&
    error.reason === "auth" &&
    // A key missing here was never sent: there is no sign-in to refresh.
    scopeOf(error) !== "request" &&
    context.oauthProviders?.has(failedMember.providerID) &&
    !signInRetried.includes(failedMember.providerID)
  ) {
    // No cooldown yet: an expired OAuth token is refreshed by OpenCode's auth plugin on the next request.
    return {
      state: {
        ...settled,
        next: { member: failedMember, mode, notBefore: at },
        turn: { ...state.turn, failures, signInRetried: [...signInRetried, failedMember.providerID] },
      },
      actions: [
        {
          type: "retry",
          member: current,
          mode,
          delayMs: 0,
          notice: `${describeFailure(failedMember.providerID, error)}, retrying once with a refreshed sign-in`,
        },
      ],
    }
  }

  const wait = sameMemberWait(error, at)
  if (
    current &&
    wait !== undefined &&
    wait <= config.maxRetryWaitMs &&
    state.turn.retries < config.retriesBeforeFailover
  ) {
    return {
      state: {
        ...settled,
        next: { member: failedMember, mode, notBefore: at + wait },
        turn: { ...state.turn, failures, retries: state.turn.retries + 1 },
      },
      actions: [
        // Only a wait the provider named is shared with other sessions; our own short backoff is not a cooldown.
        ...(error.retryAfterMs !== undefined ? [cooldown] : []),
        {
          type: "retry",
          member: current,
          mode,
          delayMs: wait,
          notice: `${describeFailure(failedMember.providerID, error)}, retrying in ${formatDuration(wait)}`,
        },
      ],
    }
  }

  const turn: TurnState = {
    ...state.turn,
    failures,
    retries: 0,
    abandoned: [...new Set([...state.turn.abandoned, failedMember.providerID])],
  }
  const afterFailure: FailoverState = { ...settled, turn }
  if (turn.switches >= config.maxSwitchesPerTurn) return withCooldown(cooldown, surface(afterFailure, context, "switch_budget", [], at))

  const picked = route(afterFailure, at, context)
  const notice = (to: MemberRef) => switchNotice(failedMember, error, to, expectedCooldown(error, at, config))
  if (picked.kind === "member") {
    const to = picked.member
    return {
      state: { ...afterFailure, next: { member: ref(to), mode, notBefore: at }, turn: { ...turn, switches: turn.switches + 1 } },
      actions: [
        cooldown,
        mode === "continue"
          ? { type: "continue", from: failedMember, member: to, notice: notice(to) }
          : { type: "replay", from: failedMember, member: to, notice: notice(to) },
      ],
    }
  }
  const deeper = descend(afterFailure, at, context)
  if (deeper) {
    const to = deeper.member
    const fellBack = `${describeFailure(failedMember.providerID, error, failedMember.modelID)}; ${fallbackNotice(deeper.from, deeper.to, to)}`
    return {
      state: { ...deeper.state, next: { member: ref(to), mode, notBefore: at } },
      actions: [
        cooldown,
        mode === "continue"
          ? { type: "continue", from: failedMember, member: to, notice: fellBack }
          : { type: "replay", from: failedMember, member: to, notice: fellBack },
      ],
    }
  }
  if (picked.kind === "wait" && picked.until - at <= config.maxWaitMs) {
    const delayMs = Math.max(0, picked.until - at)
    return {
      state: {
        ...afterFailure,
        next: { member: ref(picked.member), mode, notBefore: picked.until },
        turn: { ...turn, switches: turn.switches + 1 },
      },
      actions: [
        cooldown,
        { type: "wait", member: picked.member, mode, delayMs, notice: `${notice(picked.member)} in ${formatDuration(delayMs)}` },
      ],
    }
  }
  return withCooldown(cooldown, surface(afterFailure, context, "all_failed", picked.skipped, at))
}

/**
 * A member refused the reasoning in the step's history (a thinking signature it cannot verify: reasoning another
 * spelling of the model wrote, which the history shares as the same model's). Not a failover matter and nothing to
 * cool: the same member gets the step again at once, its history without that reasoning. Once per member and turn;
 * refused again, it is the request's error as any other. Undefined when that once was used, or the member is not on
 * the turn's route.
 */
function resendWithoutReasoning(state: FailoverState, failedMember: MemberRef, error: ClassifiedError, at: number, context: FailoverContext): Transition | undefined {
  const resent = state.turn.reasoningResent ?? []
  const current = findMember(groupAt(context, state.turn.depth), failedMember)
  if (!current || resent.some((member) => sameMember(member, failedMember))) return undefined
  const mode: StepMode = (state.attempt?.toolCalls ?? 0) > 0 ? "continue" : "replay"
  return {
    state: {
      ...state,
      phase: "pending",
      attempt: undefined,
      next: { member: ref(failedMember), mode, notBefore: at },
      turn: { ...state.turn, failures: [...state.turn.failures, { member: failedMember, error, at }], reasoningResent: [...resent, ref(failedMember)] },
    },
    actions: [
      {
        type: "retry",
        member: current,
        mode,
        delayMs: 0,
        notice: `${failedMember.providerID} refused thinking written under another id of ${failedMember.modelID}; resending without it`,
        ownReasoningOnly: true,
      },
    ],
  }
}

/**
 * With the context-window fallback on, a step whose conversation has no room left in any member of this model (it
 * would be compacted there) goes down the fallback chain to the first model with a member that has room, before
 * anything fails. Undefined when this model has room, the fallback is off, or no model down the chain has room.
 */
function roomDownTheChain(state: FailoverState, at: number, context: FailoverContext, chosen: GroupMember): Transition | undefined {
  const tokens = state.contextTokens
  const { config } = context
  if (tokens === undefined || !config.failoverOn.includes("context_overflow") || usableWindow(chosen, config.compactionReserved) > tokens) return undefined
  const deeper = descend(state, at, context, (member) => usableWindow(member, config.compactionReserved) > tokens)
  if (!deeper) return undefined
  const mode: StepMode = state.next?.mode ?? "fresh"
  const notice = widerWindowNotice(chosen, inputWindow(chosen), deeper.member, inputWindow(deeper.member), deeper.to)
  return {
    state: { ...deeper.state, phase: "pending", next: { member: ref(deeper.member), mode, notBefore: at } },
    actions: [{ type: "use", member: deeper.member, mode, notice }],
  }
}

/**
 * The context-window fallback (`"context_overflow"` in `failover_on`): the conversation no longer fits the member that
 * served, so it goes on at the member, here or down the fallback chain, with the smallest window larger than that
 * one. No cooldown: the provider did nothing wrong, and a shorter conversation (the next turn's, after a compaction)
 * fits it again. Undefined when no ready member has a larger window.
 */
function widerWindow(state: FailoverState, failedMember: MemberRef, error: ClassifiedError, at: number, context: FailoverContext): Transition | undefined {
  const current = findMember(groupAt(context, state.turn.depth), failedMember)
  if (!current) return undefined
  const window = inputWindow(current)
  const minWindow = Math.max(state.turn.minWindow ?? 0, window + 1)
  const failures = [...state.turn.failures, { member: failedMember, error, at }]
  let best: { turn: TurnState; member: GroupMember } | undefined
  for (let depth = state.turn.depth; depth <= deepestAllowed(context); depth++) {
    const here = depth === state.turn.depth
    // A switch inside this model counts against its budget; a move down the chain starts the next model's (as descend).
    if (here && state.turn.switches >= context.config.maxSwitchesPerTurn) continue
    const turn: TurnState = here
      ? { ...state.turn, failures, minWindow, retries: 0, switches: state.turn.switches + 1 }
      : { ...turnDownTheChain({ ...state.turn, failures }, depth), minWindow, retries: 0 }
    const picked = route({ ...state, turn }, at, context)
    if (picked.kind === "member" && (!best || inputWindow(picked.member) < inputWindow(best.member))) best = { turn, member: picked.member }
  }
  if (!best) return undefined
  const mode: StepMode = (state.attempt?.toolCalls ?? 0) > 0 ? "continue" : "replay"
  const to = best.member
  const deeper = best.turn.depth !== state.turn.depth ? groupAt(context, best.turn.depth) : undefined
  const notice = widerWindowNotice(failedMember, window, to, inputWindow(to), deeper)
  const turn = best.turn
  return {
    state: { ...state, phase: "pending", attempt: undefined, next: { member: ref(to), mode, notBefore: at }, turn },
    actions: [mode === "continue" ? { type: "continue", from: failedMember, member: to, notice } : { type: "replay", from: failedMember, member: to, notice }],
  }
}

function withCooldown(cooldown: FailoverAction, transition: Transition): Transition {
  return { ...transition, actions: [cooldown, ...transition.actions] }
}

/** How long the provider asked us to wait; for transient failures without a word, a short default. */
function sameMemberWait(error: ClassifiedError, at: number): number | undefined {
  if (error.reason === "quota" || error.reason === "auth" || error.reason === "timeout" || error.reason === "model_unavailable") return undefined
  if (error.retryAfterMs !== undefined) return error.retryAfterMs
  if (error.resetAt !== undefined) return Math.max(0, error.resetAt - at)
  return SAME_MEMBER_WAIT[error.reason]
}

/** What the notice promises; the registry may grow it for repeat offenders. */
function expectedCooldown(error: ClassifiedError, at: number, config: ResolvedConfig): number {
  if (error.resetAt !== undefined) return Math.max(0, error.resetAt - at)
  if (error.retryAfterMs !== undefined) return error.retryAfterMs
  const reason = error.reason as keyof ResolvedConfig["cooldowns"]
  return config.cooldowns[reason] ?? config.cooldowns.unknown
}

function surface(
  state: FailoverState,
  context: FailoverContext,
  cause: "all_failed" | "switch_budget" | "no_member",
  skipped: SkippedMember[],
  at: number,
): Transition {
  const { config } = context
  const walked = Array.from({ length: state.turn.depth + 1 }, (_, depth) => groupAt(context, depth).name)
  // After a walk down the chain the failures span every model tried: name them all.
  const subject = walked.length > 1 ? `${walked.slice(0, -1).join(", ")} and ${walked.at(-1)}` : walked[0]!
  const group = groupAt(context, state.turn.depth)
  const lines: string[] = []
  if (state.turn.failures.length > 0) lines.push(failureSummary(subject, state.turn.failures))
  const unexplained = skipped.filter((entry) => entry.why !== "failed_this_turn")
  if (unexplained.length > 0) {
    // Known before asking anyone: every member is out for longer than max_wait. No request was sent, none will be.
    const allCooling = cause === "no_member" && unexplained.every((entry) => entry.why === "cooling" || entry.why === "not_allowed" || entry.why === "excluded")
    if (lines.length === 0 && allCooling && unexplained.some((entry) => entry.why === "cooling"))
      lines.push(`Every provider of ${group.name} is out for longer than combined_models.max_wait (${formatDuration(config.maxWaitMs)}); no request was sent:`)
    if (lines.length === 0) lines.push(`No provider of ${group.name} can take this request:`)
    for (const entry of unexplained) lines.push(`- ${entry.member.providerID}/${entry.member.modelID}: ${describeSkip(entry, state, at)}`)
  }
  if (cause === "switch_budget")
    lines.push(`Stopped after ${config.maxSwitchesPerTurn} provider switches in this turn (combined_models.max_switches_per_turn).`)
  if (lines.length === 0) lines.push(`No provider of ${group.name} is available.`)
  return {
    state: { ...state, phase: "failed", next: undefined, attempt: undefined },
    actions: [{ type: "surface", message: lines.join("\n"), failures: state.turn.failures, cause }],
  }
}

function describeSkip(entry: SkippedMember, state: FailoverState, at: number): string {
  switch (entry.why) {
    case "not_allowed":
      return "not connected, or disabled in opencode.json"
    case "excluded":
      return "excluded by combined_models.exclude"
    case "failed_this_turn":
      return "failed earlier in this turn"
    case "too_small":
      return `context window too small for this conversation (${Math.max(state.contextTokens ?? 0, state.turn.minWindow ?? 0)} tokens needed)`
    case "near_limit": {
      const left = entry.until === undefined ? "" : `, resets in ${formatDuration(entry.until - at)}`
      return `near its rate limit${left}`
    }
    case "cooling": {
      if (entry.entry) return cooldownLine(entry.member, entry.entry, at)
      const left = entry.until === undefined ? "" : `, ${formatDuration(entry.until - at)} left`
      return `cooling down (${entry.reason?.replace("_", " ") ?? "failed"}${left})`
    }
  }
}
