/**
 * A step's tokens as its provider reports them inside the streamed answer, and what they cost at the member's catalog
 * price. Each wire reports usage its own way, read through a zod schema per wire; a body that does not match gives no
 * usage (never an exception: usage is for the status view, a step never depends on it).
 *
 * - Anthropic Messages: `message_start.message.usage` (`input_tokens`, `cache_read_input_tokens`,
 *   `cache_creation_input_tokens`), then `message_delta.usage.output_tokens`. `input_tokens` leaves out the cached
 *   parts.
 * - Chat completions: the chunk with `usage` (`prompt_tokens`, `completion_tokens`,
 *   `prompt_tokens_details.cached_tokens`), sent after the finish when the request asks with
 *   `stream_options.include_usage` (OpenCode 2 does). `prompt_tokens` includes the cached part.
 * - OpenAI Responses: `response.completed` → `response.usage` (`input_tokens`, `output_tokens`,
 *   `input_tokens_details.cached_tokens`); `input_tokens` includes the cached part.
 * - Amazon Bedrock ConverseStream: the `metadata` event's `usage` (`inputTokens`, `outputTokens`,
 *   `cacheReadInputTokens`, `cacheWriteInputTokens`), sent after `messageStop`; `inputTokens` leaves out the cached parts.
 */
import { z } from "zod"

/**
 * A step's tokens. `input` is every input token of the step, read from the provider's prompt cache or not;
 * `cacheRead` and `cacheWrite` are the parts of it read from and written to that cache.
 */
export interface StepUsage {
  input: number
  output: number
  cacheRead?: number
  cacheWrite?: number
}

/** What the guard reads: the three server-sent-event wires and Bedrock's binary event stream. */
export type UsageWire = "anthropic" | "chat" | "responses" | "bedrock"

const count = z.number().int().nonnegative()
/** A count a provider may leave out or send as null. */
const maybe = count.nullish()

const anthropicUsage = z.object({
  input_tokens: maybe,
  output_tokens: maybe,
  cache_read_input_tokens: maybe,
  cache_creation_input_tokens: maybe,
})
const anthropicStart = z.object({ message: z.object({ usage: anthropicUsage }) })
const anthropicDelta = z.object({ usage: anthropicUsage })

const chatChunk = z.object({
  usage: z.object({ prompt_tokens: count, completion_tokens: count, prompt_tokens_details: z.object({ cached_tokens: maybe }).nullish() }),
})

const responsesCompleted = z.object({
  response: z.object({
    usage: z.object({ input_tokens: count, output_tokens: count, input_tokens_details: z.object({ cached_tokens: maybe }).nullish() }),
  }),
})

const bedrockMetadata = z.object({
  usage: z.object({ inputTokens: count, outputTokens: count, cacheReadInputTokens: maybe, cacheWriteInputTokens: maybe }),
})

/** A part of a step's usage one event reports; later events override earlier ones field by field. */
export type UsagePart = Partial<StepUsage>

function defined(part: UsagePart): UsagePart {
  return Object.fromEntries(Object.entries(part).filter(([, value]) => value !== undefined && value !== null)) as UsagePart
}

/** Input counted without its cached parts (Anthropic, Bedrock): the step's whole input is their sum. */
function withCache(fresh: number, cacheRead: number | null | undefined, cacheWrite: number | null | undefined): UsagePart {
  return { input: fresh + (cacheRead ?? 0) + (cacheWrite ?? 0), cacheRead: cacheRead ?? undefined, cacheWrite: cacheWrite ?? undefined }
}

/**
 * The usage one event of a wire reports, if any. `type` is the event's name (SSE `event:`, the body's `type`, or
 * Bedrock's `:event-type`); `body` its parsed JSON.
 */
export function usageOf(wire: UsageWire, type: string | undefined, body: unknown): UsagePart | undefined {
  if (body === undefined || body === null) return undefined
  if (wire === "anthropic") {
    if (type === "message_start") {
      const parsed = anthropicStart.safeParse(body)
      if (!parsed.success) return undefined
      const usage = parsed.data.message.usage
      // message_start's output_tokens is a placeholder (1); message_delta carries the count.
      return typeof usage.input_tokens === "number" ? defined(withCache(usage.input_tokens, usage.cache_read_input_tokens, usage.cache_creation_input_tokens)) : undefined
    }
    if (type === "message_delta") {
      const parsed = anthropicDelta.safeParse(body)
      if (!parsed.success) return undefined
      const usage = parsed.data.usage
      // Newer servers repeat the input counts here (cumulative): they replace message_start's.
      const input = typeof usage.input_tokens === "number" ? withCache(usage.input_tokens, usage.cache_read_input_tokens, usage.cache_creation_input_tokens) : {}
      const part = defined({ ...input, output: usage.output_tokens ?? undefined })
      return Object.keys(part).length ? part : undefined
    }
    return undefined
  }
  if (wire === "chat") {
    if (typeof body !== "object" || !("usage" in body) || body.usage === null || body.usage === undefined) return undefined
    const parsed = chatChunk.safeParse(body)
    if (!parsed.success) return undefined
    const usage = parsed.data.usage
    return defined({ input: usage.prompt_tokens, output: usage.completion_tokens, cacheRead: usage.prompt_tokens_details?.cached_tokens ?? undefined })
  }
  if (wire === "responses") {
    if (type !== "response.completed" && type !== "response.incomplete") return undefined
    const parsed = responsesCompleted.safeParse(body)
    if (!parsed.success) return undefined
    const usage = parsed.data.response.usage
    return defined({ input: usage.input_tokens, output: usage.output_tokens, cacheRead: usage.input_tokens_details?.cached_tokens ?? undefined })
  }
  if (type !== "metadata") return undefined
  const parsed = bedrockMetadata.safeParse(body)
  if (!parsed.success) return undefined
  const usage = parsed.data.usage
  return defined({ ...withCache(usage.inputTokens, usage.cacheReadInputTokens, usage.cacheWriteInputTokens), output: usage.outputTokens })
}

/** Adds up a step's usage event by event; `usage()` is undefined until the stream reported its input or output. */
export class UsageTally {
  private part: UsagePart = {}
  add(part: UsagePart | undefined): void {
    if (part) this.part = { ...this.part, ...part }
  }
  usage(): StepUsage | undefined {
    const { input, output, cacheRead, cacheWrite } = this.part
    if (input === undefined && output === undefined) return undefined
    const usage: StepUsage = { input: input ?? 0, output: output ?? 0 }
    if (cacheRead) usage.cacheRead = cacheRead
    if (cacheWrite) usage.cacheWrite = cacheWrite
    return usage
  }
}

/** A member's catalog price in USD per million tokens (cache prices: the input price where the catalog gives none). */
export interface Price {
  input: number
  output: number
  cacheRead?: number
  cacheWrite?: number
}

/** What a step cost in USD: each kind of token at its price per million. */
export function stepCost(usage: StepUsage, price: Price): number {
  const cacheRead = usage.cacheRead ?? 0
  const cacheWrite = usage.cacheWrite ?? 0
  const fresh = Math.max(0, usage.input - cacheRead - cacheWrite)
  return (
    (fresh * price.input + cacheRead * (price.cacheRead ?? price.input) + cacheWrite * (price.cacheWrite ?? price.input) + usage.output * price.output) / 1_000_000
  )
}
