/**
 * Anthropic's Messages API error body, `{type: "error", error: {type, message}}`, as api.anthropic.com (and
 * Copilot's `/v1/messages`) send it over HTTP and as an SSE `error` event.
 */
import { z } from "zod"
import type { WireReader } from "./failure.ts"

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

/**
 * Anthropic's own bodies (api.anthropic.com, and Copilot's `/v1/messages` for Claude models):
 * - the credit-balance 400 is the account's quota;
 * - a 404 `not_found_error` whose message is `model: <id>` is a model this key cannot use (retired, or never offered);
 * - a 429 whose `anthropic-ratelimit-unified-status` is `rejected` is a subscription's window (Claude Pro/Max), which
 *   covers every model of that sign-in; the per-model-class token windows stay the model's (the default).
 */
export const readAnthropicFailure: WireReader = (facts) => {
  if (facts.status === 400 && isAnthropicBillingFailure(facts.body)) return { reason: "quota", scope: "credential" }
  const parsed = anthropicErrorBodySchema.safeParse(facts.body)
  if (facts.status === 404 && parsed.success && parsed.data.error.type === "not_found_error" && /^model:/i.test(parsed.data.error.message))
    return { reason: "model_unavailable", scope: "model" }
  if (facts.status === 429 && facts.headers["anthropic-ratelimit-unified-status"] === "rejected") return { scope: "credential" }
  return undefined
}
