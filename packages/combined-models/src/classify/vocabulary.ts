/** The providers' error codes and phrases, by reason. */

// Provider codes and phrases

export const QUOTA_CODES = new Set([
  "insufficient_quota",
  "quota_exceeded",
  "billing_error",
  "billing_hard_limit_reached",
  "billing_not_active",
  "usage_limit_reached",
  "usage_not_included",
  "insufficient_credits",
  "insufficient_balance",
  "payment_required",
  "servicequotaexceededexception",
  "freeusagelimiterror",
  "gousagelimiterror",
])
export const QUOTA_PHRASES = [
  /insufficient[_ ]quota/i,
  /exceeded your current quota/i,
  /you have no quota/i,
  /\bquota (?:has been |was )?exceeded\b/i,
  /insufficient (?:credits?|balance|funds)/i,
  /requires more credits/i,
  /out of credits/i,
  /(?:reached|hit|exceeded|used up) (?:your|the) (?:\w+ )?(?:usage|spending|monthly|weekly|daily) (?:limit|cap|allowance)/i,
  /usage limit (?:has been |was )?reached/i,
  /premium request (?:allowance|limit)/i,
  /monthly (?:chat messages )?(?:quota|limit)/i,
  /budget (?:has been )?exceeded/i,
  /\b(?:FreeUsageLimitError|GoUsageLimitError)\b/,
]
/** A rate limit stated per day or month does not clear in seconds. */
export const LONG_WINDOW_PHRASES = /\bper[ _-]?(?:day|month)\b|\bdaily\b|\bmonthly\b|\((?:RPD|TPD)\)/i

export const OVERFLOW_CODES = new Set([
  "context_length_exceeded",
  "model_context_window_exceeded",
  "request_too_large",
  "string_above_max_length",
])
/** OpenCode's own list (`packages/llm/src/provider-error.ts` at the pin), so both agree on what overflow is. */
export const OVERFLOW_PHRASES = [
  /prompt is too long/i,
  /request_too_large/i,
  /input is too long for requested model/i,
  /exceeds the context window/i,
  /exceeds (?:the )?(?:model'?s )?maximum context length(?: of [\d,]+ tokens?|\s*\([\d,]+\))/i,
  /input token count.*exceeds the maximum/i,
  /tokens in request more than max tokens allowed/i,
  /maximum prompt length is \d+/i,
  /reduce the length of the messages/i,
  /maximum context length is \d+ tokens/i,
  /exceeds (?:the )?maximum allowed input length of [\d,]+ tokens?/i,
  /input \(\d+ tokens\) is longer than the model'?s context length \(\d+ tokens\)/i,
  /exceeds the limit of \d+/i,
  /exceeds the available context size/i,
  /greater than the context length/i,
  /context window exceeds limit/i,
  /exceeded model token limit/i,
  /context[_ ]length[_ ]exceeded/i,
  /request entity too large/i,
  /context length is only \d+ tokens/i,
  /input length.*exceeds.*context length/i,
  /prompt too long; exceeded (?:max )?context length/i,
  /too large for model with \d+ maximum context length/i,
  /prompt has [\d,]+ tokens?, but the configured context size is [\d,]+ tokens?/i,
  /model_context_window_exceeded/i,
  /too many tokens/i,
  /token limit exceeded/i,
]
export const OVERFLOW_EXCLUSIONS = [
  /^(?:throttling error|service unavailable):/i,
  /rate limit/i,
  /too many requests/i,
  /please wait/i,
]

export const RATE_CODES = new Set([
  "rate_limit_error",
  "rate_limit_exceeded",
  "rate_limited",
  "ratelimited",
  "ratelimitexceeded",
  "too_many_requests",
  "throttlingexception",
  "throttled",
  "model_rate_limited",
  "user_rate_limited",
])
export const RATE_PHRASES = [
  /\brate[ _-]?limit(?:ed|s|ing)?\b/i,
  /\btoo many requests\b/i,
  /\bthrottl(?:ed|ing)\b/i,
  /please wait before trying again/i,
  /rate increased too quickly/i,
]

export const OVERLOADED_CODES = new Set(["overloaded_error", "server_is_overloaded", "overloaded", "slow_down"])
export const OVERLOADED_PHRASES = [/\boverloaded\b/i, /\bover capacity\b/i, /\bat capacity\b/i]

export const AUTH_CODES = new Set([
  "authentication_error",
  "permission_error",
  "invalid_api_key",
  "api_key_invalid",
  "unauthenticated",
  "permission_denied",
  "unauthorized",
  "accessdeniedexception",
  "unrecognizedclientexception",
  "expiredtokenexception",
  "invalid_token",
  "token_expired",
])
export const AUTH_PHRASES = [
  /\binvalid (?:x-)?api[ _-]?key\b/i,
  /\bincorrect api key\b/i,
  /\bapi key (?:not valid|is invalid|expired)\b/i,
  /\bauthentication (?:failed|error|required)\b/i,
]
/**
 * A provider saying it does not serve this model (to this account): not found, not supported on the plan, retired.
 * Read as `model_unavailable` at 400, 404 and 410 only: on any other status the status speaks first.
 */
export const MODEL_UNAVAILABLE_CODES = new Set(["model_not_found", "model_not_supported", "model_not_available", "unsupported_model"])
export const MODEL_UNAVAILABLE_PHRASES = [
  /\bmodel\b[^.\n]{0,80}\b(?:not found|does not exist|doesn't exist|is not supported|no longer (?:available|supported)|(?:has been |was )?(?:deprecated|decommissioned|retired))\b/i,
  /\bend of (?:its )?life\b/i,
]

export const MODERATION_CODES = new Set(["content_filter", "content_policy_violation", "moderation", "flagged", "safety"])
export const MODERATION_PHRASES = [
  /\bflagged by (?:the )?moderation\b/i,
  /\bcontent (?:management )?polic(?:y|ies)\b/i,
  /\bcontent[_ ]filter\b/i,
]

export const TIMEOUT_CODES = new Set([
  "timeout_error",
  "deadline_exceeded",
  "request_timeout",
  "timeout",
  "und_err_headers_timeout",
  "und_err_body_timeout",
])
export const TIMEOUT_PHRASES = [
  /^timeout$/i,
  /\b(?:request|response|connection|network|stream|read|gateway|upstream)\s+(?:timeout|timed out|time out)\b/i,
  /\boperation timed out\b/i,
]

export const SERVER_CODES = new Set([
  "api_error",
  "server_error",
  "internal_error",
  "internal_server_error",
  "internal",
  "unavailable",
  "service_unavailable",
  "bad_gateway",
  "internalserverexception",
  "modelstreamerrorexception",
  "serviceunavailableexception",
  "modelnotreadyexception",
  "modelerrorexception",
])

/** Status texts that stand in for a status when an error arrives as a bare string (openai-compatible streams). */
export const SERVER_PHRASES = [
  /\binternal server error\b/i,
  // OpenAI's 500 body, which chat-completions SDKs pass on as the bare message inside a stream.
  /\bserver had an error\b/i,
  /\bprovider returned error\b/i,
  /\bservice (?:temporarily )?unavailable\b/i,
  /\bbad gateway\b/i,
]

export const INVALID_CODES = new Set([
  "invalid_request_error",
  "not_found_error",
  "invalid_argument",
  "not_found",
  "failed_precondition",
  "validationexception",
  "resourcenotfoundexception",
  "invalid_prompt",
  "unsupported_value",
  "unsupported_parameter",
])

/** Socket-level failures as Bun and Node name them. */
export const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "CONNECTIONREFUSED",
  "CONNECTIONCLOSED",
  "FAILEDTOOPENSOCKET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_NONAME",
  // A connect() that timed out means the host is unreachable, like a refusal; slow answers are `timeout`.
  "ETIMEDOUT",
  "EPIPE",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "ZLIBERROR",
])
export const SOCKET_TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"])
export const NETWORK_PHRASES = [
  /socket connection was closed unexpectedly/i,
  /\bfetch failed\b/i,
  /\bfailed to fetch\b/i,
  /\bunable to connect\b/i,
  /\bsocket hang up\b/i,
  /\bconnection (?:reset|refused|closed|lost|error)\b/i,
  /\bgetaddrinfo\b/i,
  /\bnetwork error\b/i,
  /\b(?:ECONNRESET|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)\b/,
  /\breset before headers\b/i,
  /\bcannot connect to api\b/i,
]

