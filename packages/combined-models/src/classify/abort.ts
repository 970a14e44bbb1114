/** Abort and timeout: a user abort never fails over; our own and the platform's timeouts are `timeout`. */
import { messageOf } from "./evidence.ts"
import { MESSAGE_LENGTH, isObject, read } from "./read.ts"
import { CombinedModelsTimeoutError } from "../errors.ts"
import { redact } from "../redact.ts"
import type { ClassifiedError } from "../types.ts"

// Abort and timeout

export function classifyAbortSignal(signal: AbortSignal | undefined): ClassifiedError | undefined {
  if (!signal?.aborted) return undefined
  const reason: unknown = signal.reason
  const timeout = asTimeout(reason)
  if (timeout) return timeout
  return { reason: "aborted", message: redact(messageOf(reason) ?? "Aborted by the caller", MESSAGE_LENGTH) }
}

export function asTimeout(value: unknown): ClassifiedError | undefined {
  if (CombinedModelsTimeoutError.isInstance(value)) return { reason: "timeout", message: value.message }
  if (!isObject(value)) return undefined
  // `streamText`'s abort part carries only the message of the signal's reason: "The operation timed out." for
  // AbortSignal.timeout(), "Provider timed out: …" for CombinedModelsTimeoutError.
  const abortReason = read(value, "reason")
  if (read(value, "type") === "abort" && typeof abortReason === "string" && /\btimed out\b/i.test(abortReason)) {
    return { reason: "timeout", message: redact(abortReason, MESSAGE_LENGTH) }
  }
  const name = read(value, "name")
  // DOMException from AbortSignal.timeout(), and OpenCode's own header / SSE read timeouts.
  if (name === "TimeoutError" || name === "ProviderHeaderTimeoutError") {
    return { reason: "timeout", message: redact(messageOf(value) ?? "Timed out", MESSAGE_LENGTH) }
  }
  if (name === "ProviderResponseStreamError" && /timed out/i.test(messageOf(value) ?? "")) {
    return { reason: "timeout", message: redact(messageOf(value) ?? "Stream timed out", MESSAGE_LENGTH) }
  }
  return undefined
}

export function isAbort(value: unknown): boolean {
  if (!isObject(value)) return false
  const name = read(value, "name")
  if (name === "AbortError" || name === "MessageAbortedError") return true
  // The AI SDK's `{type: "abort", reason?}` fullStream part.
  return read(value, "type") === "abort" && !("error" in value)
}

export function abortMessage(value: unknown): string {
  const partReason = isObject(value) ? read(value, "reason") : undefined
  if (typeof partReason === "string" && partReason !== "") return partReason
  return messageOf(value) ?? "Aborted"
}

