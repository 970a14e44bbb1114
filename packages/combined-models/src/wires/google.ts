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
import { hasMarker } from "../errors.ts"
import { jsonEventFailure, sseFrames, watchingFetch, type Fetch } from "./stream-watch.ts"

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
    return hasMarker(error, marker)
  }
}

/** A `fetch` for `@ai-sdk/google` whose streamed answers fail on Gemini's `{error}` chunks. */
export function watchGoogleStream(inner?: Fetch): Fetch {
  return watchingFetch(inner, "text/event-stream", sseFrames(jsonEventFailure('"error"', googleErrorBodySchema, (body) => new GoogleStreamError(body))))
}
