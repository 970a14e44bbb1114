/** Evidence: what one layer of an error says, in one shape whatever it came from, and how bodies are read. */
import { NETWORK_CODES } from "./vocabulary.ts"
import { BODY_SCAN_LIMIT, isObject, lowerCaseHeaders, read, socketCode, validStatus } from "./read.ts"
import { APICallError, LoadAPIKeyError } from "@ai-sdk/provider"
import { BedrockStreamException } from "../wires/bedrock.ts"
import { GoogleStreamError } from "../wires/google.ts"
import { openrouterUpstream } from "../wires/openrouter.ts"
import type { FailureReason, FailureScope } from "../types.ts"

// Evidence: what one layer says, in one shape whatever it came from

export interface Evidence {
  status?: number
  headers: Record<string, string>
  body?: unknown
  bodyText?: string
  message?: string
  codes: string[]
  /** Gemini `QuotaFailure` ids such as `GenerateRequestsPerDayPerProjectPerModel-FreeTier`. */
  quotaIds: string[]
  /** Socket-level code from Bun / Node (`ECONNRESET`, `ConnectionRefused`). */
  networkCode?: string
  /** What a typed source already knows; `strong` hints are final. */
  hint?: { reason: FailureReason; strong: boolean }
  /** What a typed source knows of the reach (a key that never loaded: the request only). */
  scope?: FailureScope
  retryAfterMs?: number
  resetAt?: number
  url?: string
}

export function evidenceOf(layer: unknown): Evidence | undefined {
  if (typeof layer === "string") return evidenceFromText(layer)
  if (!isObject(layer)) return undefined
  if (APICallError.isInstance(layer)) return evidenceFromApiCallError(layer)
  // No key in this environment: nothing was sent, so nothing is cooled or shared, and the key set later is used at once.
  if (LoadAPIKeyError.isInstance(layer)) return { ...withHint(emptyEvidence(layer.message), "auth", true), scope: "request" }
  if (BedrockStreamException.isInstance(layer)) return evidenceFromBedrockStream(layer)
  if (GoogleStreamError.isInstance(layer)) {
    // Gemini's in-stream error is its HTTP error body: status, QuotaFailure and RetryInfo read as from a response.
    const evidence = emptyEvidence(layer.body.error.message)
    addBody(evidence, layer.body)
    return evidence
  }
  if (isLLMError(layer)) return evidenceFromLLMReason(read(layer, "reason"))
  if (isLLMReason(layer)) return evidenceFromLLMReason(layer)
  const named = evidenceFromOpenCodeError(layer)
  if (named) return named

  const networkCode = socketCode(layer)
  if (networkCode) return { ...emptyEvidence(messageOf(layer)), networkCode }

  return evidenceFromObject(layer)
}

export function emptyEvidence(message?: string): Evidence {
  return { headers: {}, codes: [], quotaIds: [], message }
}

export function withHint(evidence: Evidence, reason: FailureReason, strong: boolean): Evidence {
  evidence.hint = { reason, strong }
  return evidence
}

export function evidenceFromApiCallError(error: APICallError): Evidence {
  const evidence = emptyEvidence(error.message)
  evidence.status = validStatus(error.statusCode)
  evidence.headers = lowerCaseHeaders(error.responseHeaders)
  evidence.url = typeof error.url === "string" ? error.url : undefined
  addBody(evidence, error.responseBody)
  if (evidence.body === undefined && isObject(error.data)) addBody(evidence, error.data)
  // "Cannot connect to API: …" carries the socket error as its cause and no status.
  if (evidence.status === undefined) evidence.networkCode = socketCode(error.cause)
  return evidence
}

/** A modeled exception inside a Bedrock stream: its type is the code; a model error carries the model's status. */
export function evidenceFromBedrockStream(error: BedrockStreamException): Evidence {
  const evidence = emptyEvidence(error.message)
  evidence.codes.push(error.exceptionType)
  evidence.status = validStatus(error.originalStatusCode)
  return evidence
}

/** Plain objects: in-stream error parts, provider SDK errors (`status`, `headers`, `error`), parsed JSON bodies. */
export function evidenceFromObject(value: object): Evidence | undefined {
  const evidence = emptyEvidence(
    typeof read(value, "message") === "string" ? (read(value, "message") as string) : undefined,
  )
  // Bedrock's event-typed stream errors reach the caller as the bare inner object: the model's status is
  // `originalStatusCode`.
  evidence.status =
    validStatus(read(value, "statusCode")) ?? validStatus(read(value, "status")) ?? validStatus(read(value, "originalStatusCode"))
  const headers = read(value, "responseHeaders") ?? read(value, "headers")
  evidence.headers = lowerCaseHeaders(headers)
  const responseBody = read(value, "responseBody") ?? read(value, "body")
  if (typeof responseBody === "string" || isObject(responseBody)) addBody(evidence, responseBody)
  // The object itself is the body for stream parts and parsed JSON.
  if (evidence.body === undefined) addBody(evidence, value)
  // Messages that are serialized bodies: `Error('{"type":"error","error":{…}}')`, or state a status: "HTTP 503".
  if (evidence.message && evidence.codes.length === 0) mergeEmbeddedJson(evidence, evidence.message)
  if (evidence.message && evidence.status === undefined) {
    evidence.status = labelledStatus(evidence.message)
  }
  const informative =
    evidence.status !== undefined ||
    evidence.codes.length > 0 ||
    evidence.message !== undefined ||
    bodyMessage(evidence.body) !== undefined
  return informative ? evidence : undefined
}

export function evidenceFromText(text: string): Evidence {
  const evidence = emptyEvidence(text)
  mergeEmbeddedJson(evidence, text)
  if (evidence.status === undefined) {
    evidence.status = labelledStatus(text)
  }
  return evidence
}

export function mergeEmbeddedJson(evidence: Evidence, text: string): void {
  const json = parseEmbeddedJson(text)
  if (json === undefined) return
  addBody(evidence, json)
}

export function addBody(evidence: Evidence, body: unknown): void {
  if (typeof body === "string") {
    evidence.bodyText = body.length > BODY_SCAN_LIMIT ? body.slice(0, BODY_SCAN_LIMIT) : body
    body = body.length <= BODY_SCAN_LIMIT ? parseJson(body) : undefined
  }
  if (!isObject(body)) return
  evidence.body = body
  const found = collectCodes(body)
  evidence.codes.push(...found.codes)
  evidence.quotaIds.push(...found.quotaIds)
  // OpenRouter and Gemini repeat the status as `error.code`; in a stream it is the only status there is.
  if (evidence.status === undefined && found.status !== undefined) evidence.status = found.status
}

/** OpenCode's `NamedError` objects (`{name, data}`), plain or as class instances. */
export function evidenceFromOpenCodeError(value: object): Evidence | undefined {
  const name = read(value, "name")
  const data = read(value, "data")
  if (typeof name !== "string" || !isObject(data)) return undefined
  const message = typeof read(data, "message") === "string" ? (read(data, "message") as string) : undefined
  switch (name) {
    case "APIError": {
      const evidence = emptyEvidence(message)
      evidence.status = validStatus(read(data, "statusCode"))
      evidence.headers = lowerCaseHeaders(read(data, "responseHeaders"))
      const responseBody = read(data, "responseBody")
      if (typeof responseBody === "string") addBody(evidence, responseBody)
      if (evidence.codes.length === 0 && message) mergeEmbeddedJson(evidence, message)
      const metadata = read(data, "metadata")
      const metaCode = isObject(metadata) ? read(metadata, "code") : undefined
      if (typeof metaCode === "string") {
        if (metaCode === "ProviderHeaderTimeoutError") return withHint(evidence, "timeout", true)
        if (metaCode === "ProviderResponseStreamError") {
          return withHint(evidence, /timed out/i.test(message ?? "") ? "timeout" : "network", true)
        }
        if (NETWORK_CODES.has(metaCode.toUpperCase()) || metaCode === "ZlibError") evidence.networkCode = metaCode
      }
      const url = isObject(metadata) ? read(metadata, "url") : undefined
      if (typeof url === "string") evidence.url = url
      return evidence
    }
    case "ContextOverflowError": {
      const evidence = emptyEvidence(message)
      const responseBody = read(data, "responseBody")
      if (typeof responseBody === "string") addBody(evidence, responseBody)
      return withHint(evidence, "context_overflow", true)
    }
    case "ProviderAuthError":
      return withHint(emptyEvidence(message), "auth", true)
    case "MessageOutputLengthError":
      return withHint(emptyEvidence(message ?? "Output length exceeded"), "invalid_request", true)
    case "StructuredOutputError":
    case "ContentFilterError":
      return withHint(emptyEvidence(message), "invalid_request", true)
    case "UnknownError":
      // OpenCode stores unrecognised stream errors as `JSON.stringify(error)` here; read them again.
      return message === undefined ? undefined : evidenceFromText(message)
  }
  return undefined
}

// The native runtime (`@opencode-ai/llm`): `LLMError { reason: { _tag, message, http?, retryAfterMs?, … } }`.

export const LLM_REASON_TAGS = new Set([
  "InvalidRequest",
  "NoRoute",
  "Authentication",
  "RateLimit",
  "QuotaExceeded",
  "ContentPolicy",
  "ProviderInternal",
  "Transport",
  "InvalidProviderOutput",
  "UnknownProvider",
])

export function isLLMError(value: object): boolean {
  return read(value, "_tag") === "LLM.Error" && isObject(read(value, "reason"))
}

export function isLLMReason(value: object): boolean {
  const tag = read(value, "_tag")
  return typeof tag === "string" && LLM_REASON_TAGS.has(tag) && typeof read(value, "message") === "string"
}

export function evidenceFromLLMReason(reason: unknown): Evidence | undefined {
  if (!isObject(reason)) return undefined
  const tag = read(reason, "_tag")
  const message = typeof read(reason, "message") === "string" ? (read(reason, "message") as string) : undefined
  const evidence = emptyEvidence(message)
  const http = read(reason, "http")
  const response = isObject(http) ? read(http, "response") : undefined
  evidence.status =
    validStatus(isObject(response) ? read(response, "status") : undefined) ?? validStatus(read(reason, "status"))
  evidence.headers = lowerCaseHeaders(isObject(response) ? read(response, "headers") : undefined)
  const body = isObject(http) ? read(http, "body") : undefined
  if (typeof body === "string") addBody(evidence, body)
  const retryAfterMs = read(reason, "retryAfterMs")
  if (typeof retryAfterMs === "number" && Number.isFinite(retryAfterMs) && retryAfterMs >= 0)
    evidence.retryAfterMs = retryAfterMs
  switch (tag) {
    case "RateLimit":
      return withHint(evidence, "rate_limit", false)
    case "QuotaExceeded":
      return withHint(evidence, "quota", true)
    case "Authentication":
      if (read(reason, "kind") === "missing") evidence.scope = "request"
      return withHint(evidence, "auth", true)
    case "InvalidRequest":
      if (read(reason, "classification") === "context-overflow") return withHint(evidence, "context_overflow", true)
      return withHint(evidence, "invalid_request", false)
    case "ContentPolicy":
      return withHint(evidence, "invalid_request", true)
    case "ProviderInternal":
      return withHint(evidence, "server_error", false)
    case "Transport":
      return withHint(evidence, read(reason, "kind") === "Timeout" ? "timeout" : "network", true)
    case "InvalidProviderOutput":
      // The provider answered with something unreadable: its fault, and another provider may do better.
      return withHint(evidence, "server_error", true)
    case "NoRoute":
      return withHint(evidence, "unknown", true)
    default:
      return withHint(evidence, "unknown", false)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading bodies

export interface FoundCodes {
  codes: string[]
  quotaIds: string[]
  status?: number
}

export const CODE_KEYS = ["code", "type", "status", "__type", "error_type", "errorType"] as const
export const IDENTIFIER = /^[A-Za-z][\w.#:/-]{0,79}$/

/**
 * Error codes in the order a reader trusts them: the nested `error` object first (`error.code` before
 * `error.type`, since OpenAI puts "tokens" in `type` and `rate_limit_exceeded` in `code`), then the top level, then
 * Gemini `details[].reason`, Bedrock's `{throttlingException: {...}}` keys and OpenRouter's forwarded upstream body.
 */
export function collectCodes(body: object, depth = 0): FoundCodes {
  const found: FoundCodes = { codes: [], quotaIds: [] }
  if (depth > 3) return found
  const error = read(body, "error")
  if (isObject(error)) merge(found, collectCodes(error, depth + 1))
  for (const key of CODE_KEYS) {
    const value = read(body, key)
    if (typeof value === "string" && value !== "error" && IDENTIFIER.test(value)) found.codes.push(normaliseCode(value))
    if (typeof value === "number" && (key === "code" || key === "status") && found.status === undefined) {
      found.status = validStatus(value)
    }
  }
  const details = read(body, "details")
  if (Array.isArray(details)) {
    for (const detail of details.slice(0, 10)) {
      if (!isObject(detail)) continue
      const reason = read(detail, "reason")
      if (typeof reason === "string" && IDENTIFIER.test(reason)) found.codes.push(reason)
      const violations = read(detail, "violations")
      if (!Array.isArray(violations)) continue
      for (const violation of violations.slice(0, 10)) {
        if (!isObject(violation)) continue
        for (const key of ["quotaId", "quotaMetric"]) {
          const id = read(violation, key)
          if (typeof id === "string") found.quotaIds.push(id)
        }
      }
    }
  }
  for (const key of Object.keys(body).slice(0, 20)) {
    if (/^[a-z]\w*Exception$/.test(key)) found.codes.push(key)
  }
  const raw = rawUpstream(body)
  if (raw && depth < 3) {
    const upstream = parseJson(raw)
    if (isObject(upstream)) {
      const inner = collectCodes(upstream, depth + 1)
      found.codes.push(...inner.codes)
      found.quotaIds.push(...inner.quotaIds)
    }
  }
  return found
}

export function merge(into: FoundCodes, from: FoundCodes): void {
  into.codes.push(...from.codes)
  into.quotaIds.push(...from.quotaIds)
  if (into.status === undefined) into.status = from.status
}

/** `com.amazon.coral.service#ThrottlingException`, `ThrottlingException:http://…` → `ThrottlingException`. */
export function normaliseCode(value: string): string {
  const afterHash = value.includes("#") ? value.slice(value.lastIndexOf("#") + 1) : value
  return afterHash.split(":")[0] ?? afterHash
}

/** OpenRouter's "Provider returned error" keeps the upstream answer in `error.metadata.raw`. */
export function rawUpstream(body: unknown): string | undefined {
  if (!isObject(body)) return undefined
  // Most bodies carry no metadata at all: look before validating.
  const error = read(body, "error")
  if (!isObject(read(isObject(error) ? error : body, "metadata"))) return undefined
  return openrouterUpstream(body)?.raw.slice(0, BODY_SCAN_LIMIT)
}

export function bodyMessage(body: unknown): string | undefined {
  if (!isObject(body)) return undefined
  const error = read(body, "error")
  if (isObject(error)) {
    const message = read(error, "message")
    if (typeof message === "string" && message !== "") return message
  }
  if (typeof error === "string" && error !== "") return error
  for (const key of ["message", "detail", "Message"]) {
    const value = read(body, key)
    if (typeof value === "string" && value !== "") return value
  }
  for (const key of Object.keys(body).slice(0, 20)) {
    if (!/Exception$/.test(key)) continue
    const inner = read(body, key)
    const message = isObject(inner) ? read(inner, "message") : undefined
    if (typeof message === "string") return message
  }
  return undefined
}

export function reportedCode(evidence: Evidence): string | undefined {
  const fromBody = evidence.codes[0]
  if (fromBody) return fromBody
  const amazon = evidence.headers["x-amzn-errortype"]
  if (amazon) return normaliseCode(amazon)
  return evidence.networkCode
}

export function parseJson(text: string): unknown {
  const trimmed = text.trim()
  if (!trimmed.startsWith("{") && !trimmed.startsWith("[")) return undefined
  try {
    return JSON.parse(trimmed)
  } catch {
    return undefined
  }
}

/** A JSON object inside a sentence: `Server error: 402 {"error":{…}}`, `HTTP 429: {…}`. */
export function parseEmbeddedJson(text: string): object | undefined {
  if (text.length > BODY_SCAN_LIMIT) return undefined
  const direct = parseJson(text)
  if (isObject(direct)) return direct
  const start = text.indexOf("{")
  const end = text.lastIndexOf("}")
  if (start < 0 || end <= start) return undefined
  const inner = parseJson(text.slice(start, end + 1))
  return isObject(inner) ? inner : undefined
}

export const STATUS_PHRASES: Record<number, string> = {
  400: "bad request",
  401: "unauthorized",
  402: "payment required",
  403: "forbidden",
  404: "not found",
  408: "request timeout",
  413: "(?:payload|content|request entity) too large",
  422: "unprocessable (?:entity|content)",
  429: "too many requests",
  500: "internal server error",
  502: "bad gateway",
  503: "service unavailable",
  504: "gateway timeout",
  529: "overloaded",
}

/**
 * A status stated as a status: "HTTP 429", "status code 503", "status: 500", or a status line "429 Too Many
 * Requests". A number that merely appears in a sentence is not one.
 */
export function labelledStatus(text: string): number | undefined {
  const labelled = /\b(?:HTTP(?:\/\d(?:\.\d)?)?|status(?: ?code)?:?)\s+([1-5]\d\d)\b/i.exec(text)
  if (labelled?.[1]) return validStatus(Number(labelled[1]))
  const line = /\b([45]\d\d)\s+([A-Za-z][A-Za-z ]{2,40})/.exec(text)
  if (line?.[1] && line[2]) {
    const status = Number(line[1])
    const phrase = STATUS_PHRASES[status]
    if (phrase && new RegExp(`^${phrase}\\b`, "i").test(line[2])) return status
  }
  return undefined
}

/** Serialized bodies are not messages; their `message` field is. */
export function readableMessage(message: string | undefined): string | undefined {
  if (!message) return undefined
  const json = parseJson(message)
  if (isObject(json)) return bodyMessage(json)
  return message
}

export function messageOf(value: unknown): string | undefined {
  if (typeof value === "string") return value === "" ? undefined : readableMessage(value)
  if (!isObject(value)) return undefined
  const message = read(value, "message")
  if (typeof message === "string" && message !== "") return readableMessage(message)
  const data = read(value, "data")
  const dataMessage = isObject(data) ? read(data, "message") : undefined
  if (typeof dataMessage === "string" && dataMessage !== "") return readableMessage(dataMessage)
  return bodyMessage(value)
}
