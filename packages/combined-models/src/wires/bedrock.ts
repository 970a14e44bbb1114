/**
 * Amazon Bedrock's ConverseStream wire, as `@ai-sdk/amazon-bedrock` 4.0.112 (OpenCode's at v1.18.18) reads it, and
 * what that SDK drops.
 *
 * - HTTP errors: the error type in `x-amzn-errortype` (`ThrottlingException:http://internal.amazon.com/…`), the body
 *   `{message}` (`{Message}` from some front ends).
 * - Inside a 200 stream, two shapes of failure: modeled exceptions as frames with `:message-type` `exception` and
 *   `:exception-type` (`throttlingException`, `serviceUnavailableException`, …), which this SDK version drops without
 *   a word (vercel/ai#19034: the stream just ends with finish reason `other` after the partial text); and
 *   event-typed `internalServerException` / `modelStreamErrorException` frames, which it enqueues as the bare inner
 *   object (`{message, originalStatusCode}`), without their name.
 *
 * `watchBedrockStream` wraps the provider's `fetch` so that both reach the caller as a `BedrockStreamException`
 * naming the exception: the stream fails with the provider's own error instead of ending as if it had finished.
 */
import { z } from "zod"
import { hasMarker } from "../errors.ts"
import { decodeFrames, type DecodedFrame } from "./aws-event-stream.ts"
import { sentTo, type WireReader } from "./failure.ts"
import { watchingFetch, type Fetch } from "./stream-watch.ts"

const marker = Symbol.for("combined-models.bedrock-stream-exception")

/** Event types Bedrock uses for errors inside a ConverseStream (lower camel case on the wire). */
export const BEDROCK_STREAM_EXCEPTIONS = [
  "internalServerException",
  "modelStreamErrorException",
  "serviceUnavailableException",
  "throttlingException",
  "validationException",
] as const

/** A modeled exception Bedrock sent inside a 200 ConverseStream. */
export class BedrockStreamException extends Error {
  readonly [marker] = true
  override readonly name = "BedrockStreamException"
  /** As on the wire: `throttlingException`, `modelStreamErrorException`, … */
  readonly exceptionType: string
  /** For `modelStreamErrorException`: the status the model behind Bedrock failed with. */
  readonly originalStatusCode: number | undefined

  constructor({ exceptionType, message, originalStatusCode }: { exceptionType: string; message: string; originalStatusCode?: number }) {
    super(`Bedrock ${exceptionType}: ${message}`)
    this.exceptionType = exceptionType
    this.originalStatusCode = originalStatusCode
  }

  static isInstance(error: unknown): error is BedrockStreamException {
    return hasMarker(error, marker)
  }
}

/** The payload of an exception frame and of Bedrock's HTTP error bodies. */
export const bedrockErrorPayloadSchema = z
  .object({
    message: z.string().optional(),
    Message: z.string().optional(),
    originalStatusCode: z.number().int().optional(),
    originalMessage: z.string().optional(),
  })
  .loose()

/** The modeled exception one ConverseStream frame carries, if it is one. */
export function bedrockFrameException(frame: DecodedFrame): BedrockStreamException | undefined {
  const messageType = frame.headers[":message-type"]
  const exceptionType =
    messageType === "exception"
      ? frame.headers[":exception-type"]
      : messageType === "error"
        ? frame.headers[":error-code"]
        : messageType === "event" && (BEDROCK_STREAM_EXCEPTIONS as readonly string[]).includes(frame.headers[":event-type"] ?? "")
          ? frame.headers[":event-type"]
          : undefined
  if (exceptionType === undefined) return undefined
  let payload: z.infer<typeof bedrockErrorPayloadSchema> = {}
  try {
    const parsed = bedrockErrorPayloadSchema.safeParse(JSON.parse(new TextDecoder().decode(frame.payload)))
    if (parsed.success) payload = parsed.data
  } catch {
    // A payload that is not JSON still names the exception in its headers.
  }
  const message = payload.message ?? payload.Message ?? frame.headers[":error-message"] ?? "no message"
  return new BedrockStreamException({ exceptionType, message, originalStatusCode: payload.originalStatusCode })
}

/** A `fetch` for `@ai-sdk/amazon-bedrock` whose ConverseStream answers fail on Bedrock's exception frames. */
export function watchBedrockStream(inner?: Fetch): Fetch {
  return watchingFetch(inner, "application/vnd.amazon.eventstream", (buffer) => ({
    frames: decodeFrames(buffer).frames.map((frame) => ({ size: frame.size, failure: bedrockFrameException(frame) })),
  }))
}

/**
 * Bedrock's refusals that name one model, for an account that may use others: the model is not enabled for the
 * account (403 `AccessDeniedException` "You don't have access to the model with the specified model ID."), needs an
 * inference profile (400 `ValidationException` "Invocation of model ID … with on-demand throughput isn't supported"),
 * or is unknown or past its end of life (404 `ResourceNotFoundException`). Each is this member's, for a long while;
 * a 403 that does not name the model (a bad signature, an expired token) stays the credential's.
 */
export const readBedrockFailure: WireReader = (facts) => {
  if (!sentTo(facts, "bedrock", BEDROCK_HOST) && facts.headers["x-amzn-errortype"] === undefined) return undefined
  const { status, text } = facts
  // The error type travels in `x-amzn-errortype` over HTTP, and as the code of a stream's exception frame.
  const type = [...facts.codes, (facts.headers["x-amzn-errortype"] ?? "").split(":")[0]!.toLowerCase()]
  const modelRefusal =
    (status === 403 && /access to the model/i.test(text)) ||
    (status === 400 && type.includes("validationexception") && /on-demand throughput isn.t supported|inference profile/i.test(text)) ||
    (status === 404 && (type.includes("resourcenotfoundexception") || /\bmodel\b/i.test(text)))
  return modelRefusal ? { reason: "model_unavailable", scope: "model" } : undefined
}

const BEDROCK_HOST = /^bedrock-runtime[.-]/
