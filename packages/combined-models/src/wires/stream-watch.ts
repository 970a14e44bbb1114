/**
 * The shared part of the stream watchers: a response body passed through frame by frame, failed with the provider's
 * own error at the first frame that carries one. Each wire says how to cut its frames and what a failing frame is.
 */

/** A fetch as the AI SDK providers take it. */
export type Fetch = typeof globalThis.fetch

export interface ReadFrames {
  /**
   * The complete frames at the start of `buffer` (their sizes, and the error a frame carries) and how many bytes
   * they take; the rest waits for more bytes. Throws when the bytes are not this wire's frames.
   */
  (buffer: Uint8Array): { frames: { size: number; failure?: Error }[] }
}

/**
 * `body`, unchanged, failing with the first frame's failure. Bytes it cannot read are passed on as they came, for
 * the SDK to judge.
 */
export function watchBody(body: ReadableStream<Uint8Array>, readFrames: ReadFrames): ReadableStream<Uint8Array> {
  let buffer: Uint8Array = new Uint8Array(0)
  let opaque = false
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      async transform(chunk, controller) {
        if (opaque) return controller.enqueue(chunk)
        const joined = new Uint8Array(buffer.length + chunk.length)
        joined.set(buffer)
        joined.set(chunk, buffer.length)
        let frames: ReturnType<ReadFrames>["frames"]
        try {
          frames = readFrames(joined).frames
        } catch {
          // Not frames we can read: step aside and let the SDK see the bytes as they are.
          opaque = true
          buffer = new Uint8Array(0)
          return controller.enqueue(joined)
        }
        let passed = 0
        for (const frame of frames) {
          if (frame.failure) {
            if (passed > 0) {
              controller.enqueue(joined.slice(0, passed))
              // Erroring a stream drops what its reader has not taken yet: let the frames before the failure reach
              // the SDK first, as they would have in a read of their own.
              await new Promise((resolve) => setTimeout(resolve, 0))
            }
            return controller.error(frame.failure)
          }
          passed += frame.size
        }
        if (passed > 0) controller.enqueue(joined.slice(0, passed))
        buffer = joined.slice(passed)
      },
      flush(controller) {
        if (buffer.length > 0) controller.enqueue(buffer)
      },
    }),
  )
}

const watchedMarker = Symbol.for("combined-models.watched-fetch")

/** A fetch whose successful answers of `contentType` are watched with `readFrames`. */
export function watchingFetch(inner: Fetch | undefined, contentType: string, readFrames: ReadFrames): Fetch {
  const fetcher = inner ?? globalThis.fetch
  const watched = async (input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]) => {
    const response = await fetcher(input, init)
    const type = response.headers.get("content-type") ?? ""
    if (!response.ok || !response.body || !type.includes(contentType)) return response
    return new Response(watchBody(response.body, readFrames), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    })
  }
  return Object.assign(watched, { [watchedMarker]: true, preconnect: fetcher.preconnect }) as Fetch
}

/** Whether a fetch is already watched (a provider reload must not wrap it twice). */
export function isWatchedFetch(value: unknown): boolean {
  return typeof value === "function" && (value as unknown as Record<symbol, unknown>)[watchedMarker] === true
}

const LF = 10
const CR = 13

/** The length of the next SSE event in `bytes` from `start`, its blank line included; undefined while incomplete. */
function eventEnd(bytes: Uint8Array, start: number): number | undefined {
  for (let i = start; i < bytes.length - 1; i++) {
    if (bytes[i] !== LF) continue
    if (bytes[i + 1] === LF) return i + 2
    if (bytes[i + 1] === CR && bytes[i + 2] === LF) return i + 3
  }
  return undefined
}

/**
 * Server-sent events as frames: each event, up to and including its blank line; `failureOf` gets the event's data
 * (its `data:` lines joined) and says whether it carries an error.
 */
export function sseFrames(failureOf: (data: string) => Error | undefined): ReadFrames {
  const text = new TextDecoder()
  return (buffer) => {
    const frames: { size: number; failure?: Error }[] = []
    let start = 0
    for (let end = eventEnd(buffer, start); end !== undefined; end = eventEnd(buffer, start)) {
      const data = text
        .decode(buffer.subarray(start, end))
        .split(/\r?\n/)
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n")
      frames.push({ size: end - start, failure: failureOf(data) })
      start = end
    }
    return { frames }
  }
}

/**
 * An SSE failure reader for `sseFrames`: an event whose data mentions `needle` and parses as `schema` becomes the
 * error `toError` makes of it; anything else (other events, data that is not JSON) is no failure.
 */
export function jsonEventFailure<T>(
  needle: string,
  schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } },
  toError: (event: T) => Error,
): (data: string) => Error | undefined {
  return (data) => {
    if (!data.includes(needle)) return undefined
    try {
      const parsed = schema.safeParse(JSON.parse(data))
      return parsed.success ? toError(parsed.data) : undefined
    } catch {
      return undefined
    }
  }
}
