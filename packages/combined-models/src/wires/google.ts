/**
 * Google's Gemini API as `@ai-sdk/google` 3.0.73 (OpenCode's at v1.18.18) reads it, and what that SDK drops.
 *
 * - HTTP errors: `{error: {code, message, status, details}}`; a 429 `RESOURCE_EXHAUSTED` names its quota in a
 *   `QuotaFailure` (per minute or per day) and the wait in `RetryInfo.retryDelay`.
 * - After the stream has started, Gemini reports a failure as an SSE `data:` chunk holding that same `{error}`
 *   object. The SDK's chunk schema accepts it as an empty chunk and ignores it: the stream just ends, with finish
 *   reason `other` after the partial text. `watchGoogleStream` fails the stream there with a `GoogleStreamError`.
 */
import { z } from "zod"
import { watchingFetch, type Fetch } from "./stream-watch.ts"

const marker = Symbol.for("combined-models.google-stream-error")

/** Gemini's error body, as every Google API sends it. */
export const googleErrorBodySchema = z.object({
  error: z
    .object({
      code: z.number().int().nullish(),
      message: z.string(),
      status: z.string().nullish(),
      details: z.array(z.unknown()).nullish(),
    })
    .loose(),
})
export type GoogleErrorBody = z.infer<typeof googleErrorBodySchema>

/** An `{error}` chunk inside a 200 Gemini stream. */
export class GoogleStreamError extends Error {
  readonly [marker] = true
  override readonly name = "GoogleStreamError"
  /** The chunk as Gemini sent it, for the classifier to read like any Gemini error body. */
  readonly body: GoogleErrorBody

  constructor(body: GoogleErrorBody) {
    super(`Gemini ${body.error.status ?? body.error.code ?? "error"}: ${body.error.message}`)
    this.body = body
  }

  static isInstance(error: unknown): error is GoogleStreamError {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[marker] === true
  }
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

function failureOf(event: string): GoogleStreamError | undefined {
  const data = event
    .split(/\r?\n/)
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).trimStart())
    .join("\n")
  if (!data.includes('"error"')) return undefined
  try {
    const parsed = googleErrorBodySchema.safeParse(JSON.parse(data))
    return parsed.success ? new GoogleStreamError(parsed.data) : undefined
  } catch {
    return undefined
  }
}

/** A `fetch` for `@ai-sdk/google` whose streamed answers fail on Gemini's `{error}` chunks. */
export function watchGoogleStream(inner?: Fetch): Fetch {
  const text = new TextDecoder()
  return watchingFetch(inner, "text/event-stream", (buffer) => {
    const frames: { size: number; failure?: Error }[] = []
    let start = 0
    for (let end = eventEnd(buffer, start); end !== undefined; end = eventEnd(buffer, start)) {
      frames.push({ size: end - start, failure: failureOf(text.decode(buffer.subarray(start, end))) })
      start = end
    }
    return { frames }
  })
}
