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
import type { WireReader } from "./failure.ts"
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

/** Gemini quota ids spell the window in CamelCase: `GenerateRequestsPerDayPerProjectPerModel-FreeTier`. */
const LONG_WINDOW_QUOTA_ID = /per_?day|per_?month|daily|monthly/i
/** A quota counted per model (or per day, which Gemini counts per model) leaves the project's other models alone. */
const PER_MODEL_QUOTA_ID = /per_?model|per_?day/i

/**
 * Gemini's 429 `RESOURCE_EXHAUSTED` says "You exceeded your current quota" for per-minute limits too: its
 * `QuotaFailure` ids tell the window (per day or month: quota; else a rate limit) and the reach (per model).
 */
export const readGoogleFailure: WireReader = (facts) => {
  if (!facts.codes.has("resource_exhausted")) return undefined
  const reason = facts.quotaIds.some((id) => LONG_WINDOW_QUOTA_ID.test(id)) ? "quota" : "rate_limit"
  const perModel = facts.quotaIds.some((id) => PER_MODEL_QUOTA_ID.test(id))
  return { reason, scope: perModel || reason === "rate_limit" ? "model" : "credential" }
}
