/**
 * What the engine logs, stores or shows about a failure passes through here first. Provider error bodies echo API
 * keys (`Incorrect API key provided: sk-…`), request URLs carry `?key=` (Gemini), proxies paste auth headers into HTML
 * error pages; none of that may reach a log line, a status view or another process.
 */

const REDACTED = "[redacted]"

/** Each rule replaces one kind of secret; a group named `keep` survives so the text still says what was there. */
const SECRET_RULES: ReadonlyArray<readonly [RegExp, string]> = [
  // Header-shaped secrets, quoted (JSON-dumped headers) or not: keep the name so the message stays readable.
  [
    /(?<keep>["']?\b(?:authorization|proxy-authorization|x-api-key|api-key|x-goog-api-key|cookie|set-cookie)["']?\s*[:=]\s*["']?)(?:Bearer\s+|Basic\s+)?[^"'\s,;}]+/gi,
    `$<keep>${REDACTED}`,
  ],
  [/(?<keep>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=-]{8,}/g, `$<keep>${REDACTED}`],
  // Query parameters and JSON fields that name a credential.
  [
    /(?<keep>[?&;](?:key|api[_-]?key|access[_-]?token|token|secret|signature|sig|x-amz-signature|x-amz-credential)=)[^&\s"'#]+/gi,
    `$<keep>${REDACTED}`,
  ],
  [
    /(?<keep>["']?\b(?:api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|secret|client[_-]?secret|password)["']?\s*[:=]\s*["']?)[^"'\s,;}&]+/gi,
    `$<keep>${REDACTED}`,
  ],
  // Credentials in URLs: scheme://user:password@host
  [/(?<keep>\b[a-z][a-z0-9+.-]*:\/\/)[^\s/:@]+:[^\s/@]+@/gi, `$<keep>${REDACTED}@`],
  // Well-known key formats.
  [/\bsk-ant-[A-Za-z0-9_-]{8,}/g, REDACTED],
  [/\bsk-[A-Za-z0-9_-]{16,}/g, REDACTED],
  [/\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,})/g, REDACTED],
  [/\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, REDACTED],
  [/\bAIza[0-9A-Za-z_-]{30,}/g, REDACTED],
  [/\b(?:xox[abprs]|glpat|hf|gsk|pplx|xai|r8)[-_][A-Za-z0-9_-]{16,}/g, REDACTED],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/g, REDACTED],
  // Email addresses identify the account holder.
  [/\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b/g, REDACTED],
  // Unlabelled secrets: long hex, and long base64/url-safe runs that mix cases and digits (words, paths and model
  // ids do not).
  [/\b[0-9a-f]{32,}\b/gi, REDACTED],
]

const OPAQUE_RUN = /[A-Za-z0-9+/_-]{32,}={0,2}/g

function looksLikeSecret(run: string): boolean {
  return /[0-9]/.test(run) && /[a-z]/.test(run) && /[A-Z]/.test(run)
}

/**
 * One trimmed line of at most `maxLength` characters with keys, tokens, auth header values and email addresses
 * replaced by `[redacted]`.
 */
export function redact(text: string, maxLength = 300): string {
  if (typeof text !== "string" || text.length === 0) return ""
  const limit = Math.max(1, Math.floor(maxLength))
  // Regexes over a multi-megabyte body cost time for text that will be cut anyway; the margin keeps a secret that
  // straddles the cap whole while it is matched.
  let out = text.length > limit * 4 + 1_000 ? text.slice(0, limit * 4 + 1_000) : text
  for (const [pattern, replacement] of SECRET_RULES) out = out.replace(pattern, replacement)
  out = out.replace(OPAQUE_RUN, (run) => (looksLikeSecret(run) ? REDACTED : run))
  out = out.replace(/\s+/g, " ").trim()
  if (out.length <= limit) return out
  return `${out.slice(0, limit - 1).trimEnd()}…`
}

/** Headers that inform a decision (how long to wait, which limit was hit) or identify a request for support. */
const SAFE_HEADER_NAMES = new Set([
  "retry-after",
  "retry-after-ms",
  "x-request-id",
  "request-id",
  "x-amzn-requestid",
  "x-amzn-errortype",
  "x-github-request-id",
  "cf-ray",
  "openai-processing-ms",
  "date",
])
const SAFE_HEADER_PREFIXES = ["x-ratelimit-", "anthropic-ratelimit-", "x-ms-ratelimit-"]
const NEVER_SAFE = /authorization|api-?key|cookie|secret|signature|credential|password/i

export type HeaderInput =
  | Headers
  | Record<string, string | string[] | number | undefined | null>
  | Iterable<readonly [string, string]>
  | null
  | undefined

/**
 * The subset of response headers that is safe to keep: rate-limit, retry and request-id headers, lower-cased.
 * Everything else (auth, cookies, anything unknown) is dropped, so a new provider header never leaks by default.
 */
export function safeHeaders(headers: HeaderInput): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [rawName, rawValue] of headerEntries(headers)) {
    const name = rawName.toLowerCase()
    if (NEVER_SAFE.test(name)) continue
    if (!SAFE_HEADER_NAMES.has(name) && !SAFE_HEADER_PREFIXES.some((prefix) => name.startsWith(prefix))) continue
    const value = Array.isArray(rawValue) ? rawValue.join(", ") : rawValue == null ? undefined : String(rawValue)
    if (value === undefined) continue
    out[name] = redact(value, 200)
  }
  return out
}

function headerEntries(headers: HeaderInput): Array<[string, unknown]> {
  if (headers == null || typeof headers !== "object") return []
  try {
    if (typeof Headers !== "undefined" && headers instanceof Headers) {
      const entries: Array<[string, unknown]> = []
      headers.forEach((value, name) => entries.push([name, value]))
      return entries
    }
    if (Symbol.iterator in headers && typeof (headers as Iterable<unknown>)[Symbol.iterator] === "function") {
      const entries: Array<[string, unknown]> = []
      for (const entry of headers as Iterable<unknown>) {
        if (Array.isArray(entry) && typeof entry[0] === "string") entries.push([entry[0], entry[1]])
      }
      return entries
    }
    return Object.entries(headers)
  } catch {
    return []
  }
}
