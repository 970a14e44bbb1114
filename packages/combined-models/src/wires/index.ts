/**
 * What each provider SDK needs at the edge to report its failures faithfully. The OpenCode adapter installs these on
 * member providers and the driver's rehearsal on its clients, so both read the same streams.
 */
import { readAnthropicFailure } from "./anthropic.ts"
import { readBedrockFailure, watchBedrockStream } from "./bedrock.ts"
import { readCopilotFailure } from "./copilot.ts"
import type { WireReader } from "./failure.ts"
import { readGoogleFailure, watchGoogleStream } from "./google.ts"
import { readOpenRouterFailure } from "./openrouter.ts"
import { watchResponsesStream } from "./openai-responses.ts"
import { requestedModel } from "./request-model.ts"
import { isWatchedFetch, type Fetch } from "./stream-watch.ts"
import { requestOf, timeoutFetch, type TimeoutsFor } from "./timeouts.ts"

export { BedrockStreamException, watchBedrockStream } from "./bedrock.ts"
export { GoogleStreamError, watchGoogleStream } from "./google.ts"
export { ResponseFailedError, watchResponsesStream } from "./openai-responses.ts"
export { timeoutFetch, type RequestTimeouts, type TimeoutsFor } from "./timeouts.ts"
export { requestedModel } from "./request-model.ts"
export type { FailureFacts, WireReading, WireReader } from "./failure.ts"

/**
 * Each wire's reader of its own failure bodies (see `failure.ts`), asked in turn after the generic reading; the first
 * that answers narrows it. Copilot first: its Claude models speak Anthropic's wire, and its rules are its own.
 */
export const WIRE_READERS: readonly WireReader[] = [
  readCopilotFailure,
  readBedrockFailure,
  readOpenRouterFailure,
  readGoogleFailure,
  readAnthropicFailure,
]

/** The SDK packages whose streams hide failures at the pin, and the wrapper that brings them out. */
const STREAM_WATCHERS: Record<string, (inner?: Fetch) => Fetch> = {
  "@ai-sdk/amazon-bedrock": watchBedrockStream,
  "@ai-sdk/google": watchGoogleStream,
  // OpenCode's own Copilot SDK (packages/core/src/github-copilot): its Responses model drops response.failed.
  "@ai-sdk/github-copilot": watchResponsesStream,
}

/**
 * The `fetch` to give a provider whose models use these SDK packages (`npm` names): the caller's own (or the global
 * one), wrapped by the watcher of each SDK that drops errors from the stream. A provider's `fetch` serves all its
 * SDKs (Copilot: `@ai-sdk/anthropic` for Claude, `@ai-sdk/github-copilot` for the rest); each watcher only reads its
 * own wire. Undefined when nothing needs wrapping and the caller had none; a watched fetch is not wrapped again.
 */
export function fetchForSdk(npm: string | readonly (string | undefined)[] | undefined, inner?: Fetch): Fetch | undefined {
  if (isWatchedFetch(inner)) return inner
  const names = typeof npm === "string" ? [npm] : (npm ?? [])
  const watchers = [...new Set(names.flatMap((name) => (name && STREAM_WATCHERS[name]) || []))]
  return watchers.reduce<Fetch | undefined>((fetch, watch) => watch(fetch), inner)
}

const memberMarker = Symbol.for("combined-models.member-fetch")

/**
 * The `fetch` a member provider gets, in OpenCode (the adapter) and in the rehearsal alike: the caller's own, with
 * the timeouts failover needs (`timeoutsFor` decides per request) and the stream watchers of its SDKs on top. A
 * provider reload hands back what it already wrapped.
 */
export function memberFetch(options: {
  npm: string | readonly (string | undefined)[] | undefined
  inner?: Fetch
  timeoutsFor: TimeoutsFor
  /**
   * Every response as its headers arrive (a success's rate-limit headers say what the provider has left), with the
   * model its request named (`requestedModel`): the allowance the headers speak of.
   */
  onResponse?: (response: Response, request: { model: string | undefined }) => void
  /** An error to fail the request with before it leaves (every member is known to be out), or undefined to send it. */
  refuse?: (request: { url: string; headers: Headers }) => Error | undefined
}): Fetch {
  const { inner, onResponse } = options
  if (typeof inner === "function" && (inner as unknown as Record<symbol, unknown>)[memberMarker] === true) return inner
  const read: Fetch | undefined = onResponse
    ? (async (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) => {
        const response = await (inner ?? globalThis.fetch)(input, init)
        try {
          onResponse(response, { model: requestedModel(input, init) })
        } catch {
          // Reading limits is advisory: it never fails a request.
        }
        return response
      }) as Fetch
    : inner
  const timed = timeoutFetch(read, options.timeoutsFor)
  const watched = fetchForSdk(options.npm, timed) ?? timed
  const { refuse } = options
  const guarded = refuse
    ? (Object.assign(async (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) => {
        const refusal = refuse(requestOf(input, init))
        if (refusal) throw refusal
        return watched(input, init)
      }, { preconnect: watched.preconnect }) as Fetch)
    : watched
  return Object.assign(guarded, { [memberMarker]: true }) as Fetch
}
