/**
 * OpenAI's Responses API (OpenAI, and Copilot for its GPT-5 models): how a failure inside a 200 stream looks. A
 * `response.failed` event carries the error on the response (`response.error: {code, message}`), and
 * `@ai-sdk/openai` 3.0.84 passes the whole event on as the error part; the stream's own `error` event is
 * `{type: "error", code, message, param}`.
 */
import { z } from "zod"
import { hasMarker } from "../errors.ts"
import { jsonEventFailure, sseFrames, watchingFetch, type Fetch } from "./stream-watch.ts"

export const responseFailedSchema = z.object({
  type: z.literal("response.failed"),
  response: z.object({
    error: z.object({ code: z.string().nullish(), message: z.string() }).loose(),
  }).loose(),
}).loose()

/** The error a `response.failed` event carries, for the classifier to read like any error body. */
export function responseFailure(value: unknown): { code?: string | null; message: string } | undefined {
  const parsed = responseFailedSchema.safeParse(value)
  return parsed.success ? parsed.data.response.error : undefined
}

const marker = Symbol.for("combined-models.response-failed")

/** A `response.failed` event inside a Responses stream, as an error; the event is its `cause`, for the classifier. */
export class ResponseFailedError extends Error {
  readonly [marker] = true
  override readonly name = "ResponseFailedError"

  constructor(event: z.infer<typeof responseFailedSchema>) {
    super(`response.failed: ${event.response.error.message}`, { cause: event })
  }

  static isInstance(error: unknown): error is ResponseFailedError {
    return hasMarker(error, marker)
  }
}

/**
 * A `fetch` for OpenCode's `@ai-sdk/github-copilot`, whose Responses model does not surface `response.failed`: the
 * stream would end without `response.completed`, its partial text closed as if it were whole.
 */
export function watchResponsesStream(inner?: Fetch): Fetch {
  const failureOf = jsonEventFailure("response.failed", responseFailedSchema, (event) => new ResponseFailedError(event))
  return watchingFetch(inner, "text/event-stream", sseFrames(failureOf))
}
