/**
 * A hung or stalled provider must fail for failover to move on, and only requests that failover serves may be cut
 * short: the same provider serving a concrete selection keeps stock OpenCode's behaviour. So the timeouts live in
 * the member's `fetch`, and `timeoutsFor` decides per request (the OpenCode adapter: whether the request's session is
 * routed through a combined model to this provider right now; the rehearsal: always).
 *
 * Measured on the HTTP body, not on the SDK's parts: `first_byte` until the first byte of the body (a server that
 * sends headers and then hangs counts), `stall` between body chunks. Time a tool spends running is between requests,
 * so a long tool never looks like a stalled provider.
 */
import { CombinedModelsTimeoutError } from "../errors.ts"
import type { Fetch } from "./stream-watch.ts"

export interface RequestTimeouts {
  firstByteMs: number
  stallMs: number
}

/** The timeouts for one request, or undefined to leave it alone. */
export type TimeoutsFor = (request: { url: string; headers: Headers }) => RequestTimeouts | undefined

/** The URL and headers of a fetch call, however it was made. */
export function requestOf(input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url
  const headers = new Headers(input instanceof Request ? input.headers : undefined)
  if (init?.headers) new Headers(init.headers).forEach((value, name) => headers.set(name, value))
  return { url, headers }
}

/** `inner` with the timeouts `timeoutsFor` gives each request; the abort reason is a CombinedModelsTimeoutError. */
export function timeoutFetch(inner: Fetch | undefined, timeoutsFor: TimeoutsFor): Fetch {
  const fetcher = inner ?? globalThis.fetch
  const timed = async (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) => {
    const timeouts = timeoutsFor(requestOf(input, init))
    if (!timeouts) return fetcher(input, init)
    const controller = new AbortController()
    const caller = init?.signal ?? (input instanceof Request ? input.signal : undefined)
    const onAbort = () => controller.abort(caller?.reason)
    if (caller?.aborted) onAbort()
    else caller?.addEventListener("abort", onAbort, { once: true })
    let timer: ReturnType<typeof setTimeout> | undefined
    const arm = (phase: "first_byte" | "stall", afterMs: number) => {
      clearTimeout(timer)
      timer = setTimeout(() => controller.abort(new CombinedModelsTimeoutError({ phase, afterMs })), afterMs)
    }
    const done = () => {
      clearTimeout(timer)
      caller?.removeEventListener("abort", onAbort)
    }
    arm("first_byte", timeouts.firstByteMs)
    let response: Response
    try {
      response = await fetcher(input, { ...init, signal: controller.signal })
    } catch (error) {
      done()
      throw controller.signal.aborted && CombinedModelsTimeoutError.isInstance(controller.signal.reason) ? controller.signal.reason : error
    }
    if (!response.body) {
      done()
      return response
    }
    const reader = response.body.getReader()
    let first = true
    const body = new ReadableStream<Uint8Array>({
      start(stream) {
        controller.signal.addEventListener(
          "abort",
          () => {
            done()
            stream.error(controller.signal.reason)
            reader.cancel(controller.signal.reason).catch(() => {})
          },
          { once: true },
        )
      },
      async pull(stream) {
        try {
          // The clock runs only while we wait on the provider, never while the reader is busy with what it has.
          if (!first) arm("stall", timeouts.stallMs)
          const { done: ended, value } = await reader.read()
          clearTimeout(timer)
          first = false
          if (controller.signal.aborted) return
          if (ended) {
            done()
            stream.close()
            return
          }
          stream.enqueue(value)
        } catch (error) {
          done()
          if (!controller.signal.aborted) stream.error(error)
        }
      },
      cancel(reason) {
        done()
        return reader.cancel(reason)
      },
    })
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
  }
  return Object.assign(timed, { preconnect: fetcher.preconnect }) as Fetch
}
