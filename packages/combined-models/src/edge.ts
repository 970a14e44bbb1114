/**
 * The one failover edge: what a step's stream says, turned into machine events, and how the step ended. The AI SDK
 * driver (fault matrix, concurrency tests, `demo`, `rehearse`) and the OpenCode adapter both feed their streams
 * through a `StepEdge`, so the code the tests prove is the code OpenCode runs. Each caller keeps only its own glue:
 * the driver its `streamText` loop, the adapter OpenCode's messages, parts and Effect plumbing.
 *
 * It reads both vocabularies a step's stream comes in: AI SDK `fullStream` parts (`finish-step` with `finishReason`
 * and `rawFinishReason`, `toolCallId`) and OpenCode's normalised `LLMEvent`s (`step-finish` with `reason`, `id`).
 */
import { classify } from "./classify.ts"
import { StreamTruncatedError } from "./errors.ts"
import type { FailoverAction, FailoverEvent } from "./machine.ts"
import type { ClassifiedError, MemberRef } from "./types.ts"

/** One part of a step's stream, in either vocabulary. Only the fields the edge reads. */
export interface StreamPart {
  type: string
  text?: string
  /** OpenCode's tool call id. */
  id?: string
  /** The AI SDK's tool call id. */
  toolCallId?: string
  /** The AI SDK's unified finish reason. */
  finishReason?: unknown
  /** The provider's own finish reason, as the AI SDK passes it on (undefined when the provider sent none). */
  rawFinishReason?: unknown
  /** OpenCode's finish reason (the AI SDK's `other` arrives here as `unknown`). */
  reason?: unknown
  /** OpenCode's step metadata, where the session patch keeps the provider's own finish reason. */
  providerMetadata?: unknown
}

/** Where the provider's own finish reason travels on OpenCode's step-finish event, which has no field for it. */
const RAW_FINISH_KEY = "combined-models"

/**
 * OpenCode's step metadata with the provider's own finish reason added when the SDK could not map it (`other`):
 * OpenCode records that as `unknown`, the same word it uses for a stream that never finished, and only this tells
 * the two apart. Anything else comes back unchanged.
 */
export function withProviderFinishReason<M extends Record<string, unknown> | undefined>(
  metadata: M,
  event: { finishReason?: unknown; rawFinishReason?: unknown },
): M | (M & Record<typeof RAW_FINISH_KEY, { rawFinishReason: string }>) {
  if (event.finishReason !== "other" || typeof event.rawFinishReason !== "string" || event.rawFinishReason === "") return metadata
  return { ...metadata, [RAW_FINISH_KEY]: { rawFinishReason: event.rawFinishReason } } as M & Record<typeof RAW_FINISH_KEY, { rawFinishReason: string }>
}

function rawFinishReasonOf(part: StreamPart): unknown {
  if (part.rawFinishReason !== undefined) return part.rawFinishReason
  const metadata = part.providerMetadata
  if (typeof metadata !== "object" || metadata === null) return undefined
  const ours = (metadata as Record<string, unknown>)[RAW_FINISH_KEY]
  return typeof ours === "object" && ours !== null ? (ours as Record<string, unknown>).rawFinishReason : undefined
}

/**
 * Finish reasons that mean the provider finished the answer; so does `other`/`unknown` with the provider's own reason
 * behind it. Everything else is a stream that did not end as the provider ends a message: `error` (an error event
 * the SDK turned into a finish), and `other` (OpenCode: `unknown`) with no provider reason behind it (the SDK's
 * initial value, left when the terminal event never came: a cut or dropped stream).
 */
const FINISHED = new Set(["stop", "length", "content-filter", "tool-calls"])

/** The failure a finish reason stands for, or undefined when the step finished. */
export function finishFailure(reason: unknown, raw?: unknown): StreamTruncatedError | undefined {
  if (typeof reason === "string" && FINISHED.has(reason)) return undefined
  // The provider ended the message with a reason the SDK does not map: `other` in the AI SDK, `unknown` in OpenCode.
  if ((reason === "other" || reason === "unknown") && typeof raw === "string" && raw.length > 0) return undefined
  return new StreamTruncatedError({ finishReason: typeof reason === "string" ? reason : undefined })
}

export interface StepEdgeOptions {
  member: MemberRef
  /** Feeds the state machine and returns its actions (the caller records cooldowns and recoveries). */
  feed: (event: FailoverEvent) => FailoverAction[]
  /**
   * Whether the machine has this member's attempt open. A stream retried on the same member (OpenCode's stock
   * retry, after a failure the engine passed on) is a new attempt: it opens on its first part, so its tool calls
   * count and a later failure continues rather than replays.
   */
  attemptOpen: () => boolean
  clock?: () => number
}

export type StepOutcome = "streaming" | "finished" | "failed"

export class StepEdge {
  readonly member: MemberRef
  #outcome: StepOutcome = "streaming"
  #sawContent = false
  /**
   * Tool calls that started running in this step, across every attempt of it (OpenCode's stock retry streams the step
   * again into the same message, and the calls of an earlier attempt stay there), by tool call id.
   */
  readonly #toolsStarted = new Set<string>()
  /** The tool calls the machine has counted in the attempt open now. */
  #toolsFed = new Set<string>()
  readonly #options: StepEdgeOptions
  readonly #clock: () => number

  constructor(options: StepEdgeOptions) {
    this.#options = options
    this.member = options.member
    this.#clock = options.clock ?? Date.now
  }

  get outcome(): StepOutcome {
    return this.#outcome
  }

  /**
   * Opens an attempt: `fresh` when the caller starts a new step on this member; otherwise only when none is open
   * (the first part of every stream, retried or not).
   */
  start({ fresh = false }: { fresh?: boolean } = {}): void {
    if (!fresh && this.#options.attemptOpen()) return
    this.#outcome = "streaming"
    this.#sawContent = false
    this.#toolsFed = new Set()
    this.#options.feed({ type: "step_started", at: this.#clock(), member: this.member })
  }

  /**
   * One stream part. Returns the error that ends the step when the part says it failed (a finish that is not the
   * provider's end of message); the caller fails the stream with it, so it takes the same path as any other failure.
   */
  observe(part: StreamPart): Error | undefined {
    // After the provider's finish only the stream's closing `finish` part comes: nothing to feed.
    if (this.#outcome === "finished") return undefined
    this.start()
    const at = this.#clock()
    const first = (kind: "text" | "reasoning" | "tool") => {
      if (this.#sawContent) return
      this.#sawContent = true
      this.#options.feed({ type: "first_content", at, kind })
    }
    switch (part.type) {
      case "text-delta":
        if (part.text) first("text")
        return undefined
      case "reasoning-delta":
        if (part.text) first("reasoning")
        return undefined
      case "tool-call":
        first("tool")
        this.#toolCall(toolCallIdOf(part), at)
        return undefined
      case "tool-result":
      case "tool-error":
        this.#options.feed({ type: "tool_completed", at, toolCallId: toolCallIdOf(part) })
        return undefined
      case "finish-step":
      case "step-finish": {
        const failure = finishFailure(part.finishReason ?? part.reason, rawFinishReasonOf(part))
        if (failure) return failure
        this.#outcome = "finished"
        this.#options.feed({ type: "step_finished", at })
        return undefined
      }
      default:
        return undefined
    }
  }

  /**
   * A tool call of this step started running: called where tools are executed (the AI SDK runs a tool as soon as it
   * has parsed the call, before the caller may have read the call off the stream, and a failure right after drops
   * what the caller had not read yet). A failure of the step then continues from the tool's result, even when the
   * stream part never arrived or the call was made by an earlier attempt of the step.
   */
  toolStarted(toolCallId: string): void {
    this.#toolsStarted.add(toolCallId)
    if (this.#outcome === "streaming" && this.#options.attemptOpen()) this.#toolCall(toolCallId, this.#clock())
  }

  /** Tool calls that started running in this step, across its attempts. */
  get toolsStarted(): ReadonlySet<string> {
    return this.#toolsStarted
  }

  #toolCall(toolCallId: string, at: number) {
    this.#toolsStarted.add(toolCallId)
    if (this.#toolsFed.has(toolCallId)) return
    this.#toolsFed.add(toolCallId)
    this.#options.feed({ type: "tool_call", at, toolCallId })
  }

  /** The stream closed without an error. A stream that never said it finished was cut short. */
  closed(): Error | undefined {
    if (this.#outcome === "finished") return undefined
    return new StreamTruncatedError()
  }

  /** A failure of this step (an error part, a thrown error, or what `observe`/`closed` returned): the machine's word. */
  fail(error: unknown, context: { abortSignal?: AbortSignal } = {}): { error: ClassifiedError; actions: FailoverAction[] } {
    const now = this.#clock()
    const classified = classify(error, { now, abortSignal: context.abortSignal, providerID: this.member.providerID })
    // A failure after the provider's finish (the caller's own bookkeeping failing) is not the member's: nothing is
    // fed to the machine, no attempt, no cooldown; it stays the caller's error.
    if (this.#outcome === "finished") return { error: classified, actions: [{ type: "pass_through", error: classified }] }
    this.start()
    // Replay or continue is decided from what the step's message holds: every tool call that ran in any attempt of
    // this step counts in the attempt that failed, so its result is kept and the tool is not run again.
    for (const toolCallId of this.#toolsStarted) this.#toolCall(toolCallId, now)
    this.#outcome = "failed"
    return { error: classified, actions: this.#options.feed({ type: "step_failed", at: now, error: classified }) }
  }
}

function toolCallIdOf(part: StreamPart): string {
  return part.toolCallId ?? part.id ?? ""
}
