/**
 * OpenRouter's error body, over HTTP and inside a 200 stream alike: `{error: {code, message, metadata}}`. When the
 * provider behind OpenRouter failed, `message` is just "Provider returned error" and that provider's own answer is in
 * `metadata.raw` (a string, usually its JSON body), named by `metadata.provider_name`.
 */
import { z } from "zod"
import { sentTo, type WireReader } from "./failure.ts"

const metadataSchema = z.object({ raw: z.string().optional(), provider_name: z.string().optional() }).loose()

export const openrouterErrorSchema = z.object({
  code: z.union([z.number(), z.string()]).nullish(),
  message: z.string().optional(),
  metadata: metadataSchema.nullish(),
}).loose()

/** The body as it comes: the `{error}` envelope, or the error object itself (a stream's error part). */
const bodySchema = z.union([z.object({ error: openrouterErrorSchema }).loose(), openrouterErrorSchema])

/** The upstream provider's answer that OpenRouter forwarded, when there is one. */
export function openrouterUpstream(body: unknown): { raw: string; provider?: string } | undefined {
  const parsed = bodySchema.safeParse(body)
  if (!parsed.success) return undefined
  const error = "error" in parsed.data && typeof parsed.data.error === "object" && parsed.data.error !== null ? parsed.data.error : parsed.data
  const metadata = (error as z.infer<typeof openrouterErrorSchema>).metadata
  return typeof metadata?.raw === "string" ? { raw: metadata.raw, provider: metadata.provider_name } : undefined
}

/**
 * OpenRouter's 404 "No endpoints found for <model>" (no provider behind it serves the model with this request's
 * settings or this account's data policy) is this member's for a long while: another provider of the model may serve.
 */
export const readOpenRouterFailure: WireReader = (facts) => {
  if (!sentTo(facts, "openrouter", OPENROUTER_HOST)) return undefined
  if (facts.status === 404 && /no endpoints found/i.test(facts.text)) return { reason: "model_unavailable", scope: "model" }
  return undefined
}

const OPENROUTER_HOST = /(?:^|\.)openrouter\.ai$/
