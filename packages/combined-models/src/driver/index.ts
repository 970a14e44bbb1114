/**
 * The engine at the edge: one turn of a conversation through real AI SDK providers, one LLM call per step, as
 * OpenCode's session loop does it. It feeds the state machine what each stream does and carries out its actions.
 * The rehearsal, the demo, the fault-matrix tests and the benchmarks run on it; the OpenCode patches do the same
 * work inside OpenCode's processor.
 */
import type { LanguageModelV3 } from "@ai-sdk/provider"
import { asSchema, streamText, type ModelMessage, type ToolSet } from "ai"
import type { ResolvedConfig } from "../config.ts"
import { StepEdge } from "../edge.ts"
import { INTERRUPTED_TOOL_RESULT, ToolRuns } from "../tool-runs.ts"
import { recordOutcomes, type HealthRegistry } from "../health.ts"
import type { LimitsView } from "../limits.ts"
import { initialState, transition, type FailoverAction, type FailoverEvent, type FailoverState, type StepMode } from "../machine.ts"
import type { Access } from "../route.ts"
import type { ClassifiedError, Group, MemberRef } from "../types.ts"

export interface CombinedSessionOptions {
  group: Group
  config: ResolvedConfig
  health: HealthRegistry
  /** The AI SDK model for a member; called once per step. */
  model: (member: MemberRef) => LanguageModelV3
  access?: Access
  clock?: () => number
  /** Waits between retries; tests pass one that records instead of sleeping. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** What the members' rate-limit headers said they have left (read-ahead, `least_limited`). */
  limits?: LimitsView
  /** `round_robin`: where each turn starts, a counter shared by the sessions of a stage; the turn index without it. */
  nextRotation?: () => number
}

export type DriverEvent =
  | { type: "step"; member: MemberRef; mode: StepMode }
  | { type: "text"; member: MemberRef; delta: string }
  | { type: "tool"; member: MemberRef; toolName: string; toolCallId: string; status: "called" | "completed" }
  /** `detectedAt`: `performance.now()` when the failure came off the stream, before the engine saw it. */
  | { type: "failure"; member: MemberRef; error: ClassifiedError; detectedAt: number }
  | { type: "decision"; action: FailoverAction }

export interface TurnOptions {
  messages: ModelMessage[]
  tools?: ToolSet
  abortSignal?: AbortSignal
  /** Steps after which the turn stops even if the model keeps calling tools. */
  maxSteps?: number
  onEvent?: (event: DriverEvent) => void
}

export interface StepRecord {
  member: MemberRef
  mode: StepMode
  outcome: "finished" | "failed" | "aborted"
  text: string
  error?: ClassifiedError
}

export interface TurnResult {
  status: "answered" | "failed" | "aborted"
  /** The text the user sees: only from steps that were kept, never two providers' attempts at one step. */
  text: string
  /** The member that answered the last step. */
  servedBy?: MemberRef
  /** Conversation after the turn, ready for the next. */
  messages: ModelMessage[]
  steps: StepRecord[]
  decisions: FailoverAction[]
  /** The error shown to the user when the turn failed. */
  error?: string
}

const realSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve()
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true })
  })

/**
 * A rough token count of the request a step sends, for routing (a member too small for it, or near its rate limit, is
 * passed over before it is asked): the messages (system prompt included) and the tool definitions, a token every four
 * characters as OpenCode's own estimate counts them. It is the request itself, so read-ahead adds no margin to it.
 */
export function estimateTokens(messages: readonly ModelMessage[], tools?: ToolSet): number {
  const definitions = Object.entries(tools ?? {}).map(([name, tool]) => {
    const schema = tool.inputSchema === undefined ? undefined : asSchema(tool.inputSchema).jsonSchema
    return { name, description: tool.description, schema: schema && "then" in schema ? undefined : schema }
  })
  return Math.ceil((JSON.stringify(messages).length + (definitions.length ? JSON.stringify(definitions).length : 0)) / 4)
}

export class CombinedSession {
  private state: FailoverState
  private readonly clock: () => number
  private readonly sleep: NonNullable<CombinedSessionOptions["sleep"]>

  constructor(private readonly options: CombinedSessionOptions) {
    this.state = initialState(options.group.id)
    this.clock = options.clock ?? Date.now
    this.sleep = options.sleep ?? realSleep
  }

  get failoverState(): FailoverState {
    return this.state
  }

  private feed(event: FailoverEvent, onEvent?: TurnOptions["onEvent"]): FailoverAction[] {
    const { state, actions } = transition(this.state, event, {
      group: this.options.group,
      health: this.options.health,
      config: this.options.config,
      access: this.options.access,
      limits: this.options.limits,
    })
    this.state = state
    recordOutcomes(this.options.health, actions)
    for (const action of actions) onEvent?.({ type: "decision", action })
    return actions
  }

  async runTurn(options: TurnOptions): Promise<TurnResult> {
    const messages = [...options.messages]
    const steps: StepRecord[] = []
    const decisions: FailoverAction[] = []
    const kept: string[] = []
    const emit = options.onEvent
    const feed = (event: FailoverEvent) => {
      const actions = this.feed(event, emit)
      decisions.push(...actions)
      return actions
    }
    const finish = (status: TurnResult["status"], error?: string): TurnResult => {
      feed({ type: "turn_finished", at: this.clock() })
      return { status, text: kept.join(""), servedBy: this.state.turn.servedBy, messages, steps, decisions, error }
    }

    feed({ type: "turn_started", at: this.clock(), ...(this.options.nextRotation ? { rotation: this.options.nextRotation() } : {}) })
    const maxSteps = options.maxSteps ?? 20
    let completedSteps = 0
    while (completedSteps < maxSteps) {
      if (options.abortSignal?.aborted) {
        feed({ type: "user_abort", at: this.clock() })
        return finish("aborted")
      }
      const decided = feed({ type: "step_requested", at: this.clock(), contextTokens: estimateTokens(messages, options.tools), margin: 1 })
      const routing = decided.find((action) => action.type === "use" || action.type === "wait" || action.type === "surface")
      if (!routing || routing.type === "surface") return finish("failed", routing?.message ?? "no provider available")
      if (routing.type === "wait") {
        await this.sleep(routing.delayMs, options.abortSignal)
        continue
      }
      const member = { providerID: routing.member.providerID, modelID: routing.member.modelID }
      emit?.({ type: "step", member, mode: routing.mode })
      const step = await this.runStep(member, messages, options, feed)
      steps.push({ member, mode: routing.mode, outcome: step.outcome, text: step.text, error: step.error })

      if (step.outcome === "aborted") return finish("aborted")
      if (step.outcome === "finished") {
        kept.push(step.text)
        messages.push(...step.responseMessages)
        completedSteps++
        if (!step.toolCalls) return finish("answered")
        continue
      }
      // Failed: the machine already decided; settle the attempt as it said.
      const settle = step.actions.find(isSettlement)
      if (!settle || settle.type === "surface") return finish("failed", settle?.message ?? step.error?.message)
      if (settle.type === "pass_through") return finish(settle.error.reason === "aborted" ? "aborted" : "failed", settle.error.message)
      const mode = settle.type === "replay" ? "replay" : settle.type === "continue" ? "continue" : settle.mode
      if (mode === "continue") {
        // Completed tool results stay; the next member goes on from them. Their text stays with them.
        kept.push(step.text)
        messages.push(...step.partialMessages)
      }
      if (settle.type === "retry" || settle.type === "wait") await this.sleep(settle.delayMs, options.abortSignal)
    }
    return finish("answered")
  }

  private async runStep(
    member: MemberRef,
    messages: ModelMessage[],
    options: TurnOptions,
    feed: (event: FailoverEvent) => FailoverAction[],
  ) {
    // Timeouts are the member fetch's (`memberFetch`), as in OpenCode: the driver only passes the user's abort on.
    const controller = new AbortController()
    const onUserAbort = () => controller.abort(options.abortSignal?.reason)
    options.abortSignal?.addEventListener("abort", onUserAbort, { once: true })

    let text = ""
    let toolCalls = 0
    let failure: unknown
    let failed = false
    let detectedAt = 0
    const toolCallParts: Extract<ModelMessage, { role: "assistant" }>["content"] = []
    const toolResultParts: Extract<ModelMessage, { role: "tool" }>["content"] = []
    let responseMessages: ModelMessage[] = []

    // The cause before what was decided about it: the failure is told when the edge feeds it to the machine, before
    // the decisions (a switch, a retry) that feeding emits.
    let failureTold = false
    const tellFailure = (error: ClassifiedError) => {
      if (failureTold) return
      failureTold = true
      options.onEvent?.({ type: "failure", member, error, detectedAt })
    }
    const edgeFeed = (event: FailoverEvent) => {
      if (event.type === "step_failed") tellFailure(event.error)
      return feed(event)
    }
    const edge = new StepEdge({ member, feed: edgeFeed, attemptOpen: () => this.state.attempt !== undefined, clock: this.clock })
    // Tools count where they start: the SDK runs a call before this loop may have read it, and a failure drops it.
    const runs = new ToolRuns({ onStart: (toolCallId) => edge.toolStarted(toolCallId), clock: this.clock })
    edge.start({ fresh: true })
    try {
      const result = streamText({
        model: this.options.model(member),
        messages,
        tools: runs.watch(options.tools),
        maxRetries: 0,
        abortSignal: controller.signal,
        // Failures are read from the stream and classified; the SDK's default would print them to the console.
        onError: () => {},
      })
      for await (const part of result.fullStream) {
        if (part.type === "error") {
          failed = true
          failure = part.error
          break
        }
        if (part.type === "abort") {
          failed = true
          failure = controller.signal.reason ?? new DOMException("aborted", "AbortError")
          break
        }
        if (part.type === "start" || part.type === "start-step") continue
        const ended = edge.observe(part)
        if (ended) {
          failed = true
          failure = ended
          break
        }
        if (part.type === "text-delta" && part.text) {
          text += part.text
          options.onEvent?.({ type: "text", member, delta: part.text })
        } else if (part.type === "tool-call") {
          toolCalls++
          toolCallParts.push({ type: "tool-call", toolCallId: part.toolCallId, toolName: part.toolName, input: part.input })
          options.onEvent?.({ type: "tool", member, toolName: part.toolName, toolCallId: part.toolCallId, status: "called" })
        } else if (part.type === "tool-result" || part.type === "tool-error") {
          const output =
            part.type === "tool-result"
              ? { type: "json" as const, value: part.output as never }
              : { type: "error-text" as const, value: String(part.error) }
          toolResultParts.push({ type: "tool-result", toolCallId: part.toolCallId, toolName: part.toolName, output })
          options.onEvent?.({ type: "tool", member, toolName: part.toolName, toolCallId: part.toolCallId, status: "completed" })
        }
      }
      if (!failed) {
        const ended = edge.closed()
        if (ended) {
          failed = true
          failure = ended
        }
      }
      if (!failed) responseMessages = (await result.response).messages
    } catch (error) {
      failed = true
      failure = error
    } finally {
      options.abortSignal?.removeEventListener("abort", onUserAbort)
    }

    if (failed) detectedAt = performance.now()
    if (!failed) {
      return { outcome: "finished" as const, text, toolCalls, responseMessages, partialMessages: [], actions: [] }
    }
    if (options.abortSignal?.aborted) {
      const actions = feed({ type: "user_abort", at: this.clock() })
      return { outcome: "aborted" as const, text, toolCalls, responseMessages, partialMessages: [], actions }
    }
    const { error, actions } = edge.fail(failure, { abortSignal: controller.signal })
    tellFailure(error)
    return {
      outcome: "failed" as const,
      text,
      toolCalls,
      error,
      actions,
      responseMessages,
      partialMessages: continuationMessages(text, ...withRuns(toolCallParts, toolResultParts, runs)),
    }
  }
}

type Settlement = Extract<FailoverAction, { type: "retry" | "replay" | "continue" | "wait" | "surface" | "pass_through" }>

/** The action that says what becomes of a failed attempt (the others only record things). */
function isSettlement(action: FailoverAction): action is Settlement {
  return action.type !== "use" && action.type !== "cool_down" && action.type !== "recovered"
}

type CallParts = Extract<ModelMessage, { role: "assistant" }>["content"]
type ResultParts = Extract<ModelMessage, { role: "tool" }>["content"]

/** The calls and results read off the stream, with the tool runs whose parts the failure dropped before they were read. */
function withRuns(calls: CallParts, results: ResultParts, runs: ToolRuns): [CallParts, ResultParts] {
  if (typeof calls === "string") return [calls, results]
  const called = new Set(calls.flatMap((part) => (part.type === "tool-call" ? [part.toolCallId] : [])))
  const answered = new Set(results.flatMap((part) => (part.type === "tool-result" ? [part.toolCallId] : [])))
  const moreCalls: CallParts = []
  const moreResults: ResultParts = []
  for (const run of runs.runs) {
    if (!called.has(run.toolCallId)) moreCalls.push({ type: "tool-call", toolCallId: run.toolCallId, toolName: run.toolName, input: run.input })
    if (answered.has(run.toolCallId) || run.status === "running") continue
    const output =
      run.status === "completed" && !run.interrupted
        ? { type: "json" as const, value: run.output as never }
        : run.status === "failed" && run.error instanceof Error && run.error.name !== "AbortError"
          ? { type: "error-text" as const, value: run.error.message }
          : { type: "error-text" as const, value: INTERRUPTED_TOOL_RESULT }
    moreResults.push({ type: "tool-result", toolCallId: run.toolCallId, toolName: run.toolName, output })
  }
  return [[...calls, ...moreCalls], [...results, ...moreResults]]
}

/**
 * What a failed step leaves for the next member when tools ran: the assistant's text and tool calls, and a result
 * for every call. A call whose result never came gets an error result: it may have run, so it is not run again.
 */
function continuationMessages(
  text: string,
  calls: Extract<ModelMessage, { role: "assistant" }>["content"],
  results: Extract<ModelMessage, { role: "tool" }>["content"],
): ModelMessage[] {
  if (typeof calls === "string" || calls.length === 0) return []
  const answered = new Set(results.flatMap((part) => (part.type === "tool-result" ? [part.toolCallId] : [])))
  const interrupted = calls.flatMap((part) =>
    part.type === "tool-call" && !answered.has(part.toolCallId)
      ? [
          {
            type: "tool-result" as const,
            toolCallId: part.toolCallId,
            toolName: part.toolName,
            output: {
              type: "error-text" as const,
              value: INTERRUPTED_TOOL_RESULT,
            },
          },
        ]
      : [],
  )
  return [
    { role: "assistant", content: [...(text ? [{ type: "text" as const, text }] : []), ...calls] },
    { role: "tool", content: [...results, ...interrupted] },
  ]
}
