/**
 * Anthropic's Messages API error body, `{type: "error", error: {type, message}}`, as api.anthropic.com (and
 * Copilot's `/v1/messages`) send it over HTTP and as an SSE `error` event.
 */
import { z } from "zod"

export const anthropicErrorBodySchema = z.object({
  type: z.literal("error"),
  error: z.object({ type: z.string(), message: z.string() }).loose(),
}).loose()

/**
 * Anthropic refuses an account out of credit with a 400 `invalid_request_error` whose message says so: the one 400
 * that is a provider-wide quota, told apart by the wire's own body rather than by a phrase on any 400.
 */
export function isAnthropicBillingFailure(body: unknown): boolean {
  const parsed = anthropicErrorBodySchema.safeParse(body)
  return parsed.success && parsed.data.error.type === "invalid_request_error" && /credit balance is too low/i.test(parsed.data.error.message)
}
