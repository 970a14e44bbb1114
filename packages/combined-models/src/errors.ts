/**
 * Errors the engine raises itself. They follow the AI SDK convention: a `Symbol.for` marker instead of `instanceof`,
 * because OpenCode, its plugins and this package can each load their own copy of a module, and an error thrown by one
 * copy must still be recognised by another.
 */

import { formatDuration } from "./duration.ts"

const timeoutMarker = Symbol.for("combined-models.timeout")

export type TimeoutPhase = "first_byte" | "stall"

/**
 * A provider hung: nothing arrived within `afterMs` of the request (`first_byte`), or the stream went silent for
 * `afterMs` after it had started (`stall`). The driver aborts the request with this error as the signal's reason, so
 * fetch and the AI SDK reject with this very object and `classify` can tell a timeout from a user abort. The message
 * says "timed out" on purpose: `streamText` reports an abort as `{type: "abort", reason: <the reason's message>}`,
 * and that string is all a consumer of the part gets.
 */
export class CombinedModelsTimeoutError extends Error {
  readonly [timeoutMarker] = true
  override readonly name = "CombinedModelsTimeoutError"
  readonly phase: TimeoutPhase
  readonly afterMs: number

  constructor({ phase, afterMs, cause }: { phase: TimeoutPhase; afterMs: number; cause?: unknown }) {
    super(
      phase === "first_byte"
        ? `Provider timed out: nothing received within ${formatDuration(afterMs)} of the request`
        : `Provider timed out: stream stalled for ${formatDuration(afterMs)}`,
      cause === undefined ? undefined : { cause },
    )
    this.phase = phase
    this.afterMs = afterMs
  }

  static isInstance(error: unknown): error is CombinedModelsTimeoutError {
    return hasMarker(error, timeoutMarker)
  }
}

const truncatedMarker = Symbol.for("combined-models.stream-truncated")

/**
 * The stream ended without the provider saying it was done (no `message_stop`, no `finish_reason`, no `[DONE]`): the
 * AI SDK reports that as an ordinary finish with reason `other`, so an answer cut short would pass for a whole one.
 */
export class StreamTruncatedError extends Error {
  readonly [truncatedMarker] = true
  override readonly name = "StreamTruncatedError"

  /** How the stream ended: the finish reason it reported (`error`, `unknown`, `other`), or none at all. */
  readonly finishReason: string | undefined

  constructor({ finishReason }: { finishReason?: string } = {}) {
    super(
      finishReason === undefined
        ? "The provider's stream ended before the provider finished the answer"
        : `The provider's stream ended with finish reason "${finishReason}" instead of the provider's own end of message`,
    )
    this.finishReason = finishReason
  }

  static isInstance(error: unknown): error is StreamTruncatedError {
    return hasMarker(error, truncatedMarker)
  }
}

const allOutMarker = Symbol.for("combined-models.all-members-out")

/**
 * Every member of the selected model (and of its fallback chain) is cooling down for longer than `max_wait`: the step
 * is refused before any request leaves, and the message names each member, why it is out, and for how long.
 */
export class AllMembersOutError extends Error {
  readonly [allOutMarker] = true
  override readonly name = "AllMembersOutError"

  static isInstance(error: unknown): error is AllMembersOutError {
    return hasMarker(error, allOutMarker)
  }
}

/** Whether `error` carries `marker` (the AI SDK's `isInstance` convention: one check across package copies). */
export function hasMarker(error: unknown, marker: symbol): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    marker in error &&
    (error as Record<symbol, unknown>)[marker] === true
  )
}
