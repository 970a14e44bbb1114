/** Unwrapping: the error and what it wraps (RetryError, causes, stream parts, SDK validation errors). */
import { CHAIN_LIMIT, hasAiSdkMarker, isObject, read } from "./read.ts"
import { TypeValidationError } from "@ai-sdk/provider"
import { responseFailure } from "../wires/openai-responses.ts"

// Unwrapping

/** The error and what it wraps, outermost first, without revisiting (cause chains can be circular). */
export function unwrap(error: unknown): unknown[] {
  const layers: unknown[] = []
  const seen = new Set<unknown>()
  const visit = (value: unknown, depth: number): void => {
    if (value === undefined || value === null || depth > CHAIN_LIMIT || layers.length >= CHAIN_LIMIT) return
    if (typeof value === "object") {
      if (seen.has(value)) return
      seen.add(value)
    }
    if (hasAiSdkMarker(value, "AI_RetryError")) {
      // The last attempt is the one that decides; earlier ones are older news about the same provider.
      visit(read(value, "lastError"), depth + 1)
      layers.push(value)
      return
    }
    layers.push(value)
    if (!isObject(value)) return
    if (read(value, "type") === "error" && "error" in value) visit(read(value, "error"), depth + 1)
    if (read(value, "type") === "response.failed") visit(responseFailure(value), depth + 1)
    if (TypeValidationError.isInstance(value)) visit(value.value, depth + 1)
    visit(read(value, "cause"), depth + 1)
  }
  visit(error, 0)
  return layers
}

