/** Small readers of untrusted values that never throw, and the bounds every reader keeps. */
import { NETWORK_CODES, SOCKET_TIMEOUT_CODES } from "./vocabulary.ts"

export const MESSAGE_LENGTH = 200
/** Enough of a body to find its error code and phrases; error bodies larger than this are pages, not JSON. */
export const BODY_SCAN_LIMIT = 64 * 1024
export const CHAIN_LIMIT = 12
// Small readers that never throw

export function isObject(value: unknown): value is object {
  return typeof value === "object" && value !== null
}

export function read(value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key]
  } catch {
    return undefined
  }
}

/** `RetryError` lives in `ai`, not `@ai-sdk/provider`; its marker is enough to recognise it from any copy. */
export function hasAiSdkMarker(value: unknown, name: string): boolean {
  const marker = Symbol.for(`vercel.ai.error.${name}`)
  return isObject(value) && marker in value && (value as Record<symbol, unknown>)[marker] === true
}

export function validStatus(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 100 && value <= 599 ? value : undefined
}

export function socketCode(value: unknown): string | undefined {
  const seen = new Set<unknown>()
  let current = value
  for (let depth = 0; depth < 5 && isObject(current) && !seen.has(current); depth++) {
    seen.add(current)
    const code = read(current, "code")
    if (typeof code === "string" && NETWORK_CODES.has(code.toUpperCase())) return code
    if (typeof code === "string" && SOCKET_TIMEOUT_CODES.has(code.toUpperCase())) return code
    current = read(current, "cause")
  }
  return undefined
}

export function lowerCaseHeaders(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (!isObject(headers)) return out
  try {
    const entries: Array<[string, unknown]> = []
    if (typeof Headers !== "undefined" && headers instanceof Headers)
      headers.forEach((value, name) => entries.push([name, value]))
    else entries.push(...Object.entries(headers))
    for (const [name, value] of entries) {
      if (typeof value === "string") out[name.toLowerCase()] = value
      else if (typeof value === "number") out[name.toLowerCase()] = String(value)
    }
  } catch {
    // Headers we cannot read are headers we do without.
  }
  return out
}
