/**
 * OpenAI's Responses API (OpenAI, and Copilot for its GPT-5 models): how a failure inside a 200 stream looks. A
 * `response.failed` event carries the error on the response (`response.error: {code, message}`), and
 * `@ai-sdk/openai` 3.0.84 passes the whole event on as the error part; the stream's own `error` event is
 * `{type: "error", code, message, param}`.
 */
import { z } from "zod"

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
