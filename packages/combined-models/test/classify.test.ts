import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { createAnthropic } from "@ai-sdk/anthropic"
import { createOpenAICompatible } from "@ai-sdk/openai-compatible"
import { APICallError, LoadAPIKeyError } from "@ai-sdk/provider"
import { RetryError, streamText } from "ai"
import fc from "fast-check"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { classify, QUOTA_MIN_WAIT_MS, type ClassifyContext } from "../src/classify.ts"
import { CombinedModelsTimeoutError, StreamTruncatedError } from "../src/errors.ts"
import { BedrockStreamException } from "../src/wires/bedrock.ts"
import { FAILURE_REASONS, FAILURE_SCOPES, type ClassifiedError } from "../src/types.ts"

const NOW = Date.parse("2026-03-01T12:00:00Z")
const at = (ms: number) => new Date(NOW + ms).toISOString()
const httpDate = (ms: number) => new Date(NOW + ms).toUTCString()

/** An `APICallError` as the AI SDK's failed-response handlers build it. */
function apiCallError(input: {
  status?: number
  body?: unknown
  headers?: Record<string, string>
  message?: string
  url?: string
  cause?: unknown
}): APICallError {
  const responseBody =
    input.body === undefined ? undefined : typeof input.body === "string" ? input.body : JSON.stringify(input.body)
  return new APICallError({
    message: input.message ?? bodyMessage(input.body) ?? "Error",
    url: input.url ?? "https://api.example.com/v1/chat/completions",
    requestBodyValues: { messages: [{ role: "user", content: "conversation text that must never leak" }] },
    statusCode: input.status,
    responseHeaders: input.headers,
    responseBody,
    cause: input.cause,
  })
}

function bodyMessage(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined
  const error = (body as { error?: { message?: unknown } }).error
  return typeof error?.message === "string" ? error.message : undefined
}

interface Case {
  name: string
  error: () => unknown
  context?: ClassifyContext
  /** Every row says how far the failure reaches, next to why. */
  expect: Partial<ClassifiedError> & Required<Pick<ClassifiedError, "reason" | "scope">>
  /** Fields that must be absent from the result. */
  absent?: Array<keyof ClassifiedError>
}

function runCases(cases: Case[]) {
  for (const c of cases) {
    test(c.name, () => {
      const result = classify(c.error(), { now: NOW, ...c.context })
      expect(result).toMatchObject(c.expect)
      for (const key of c.absent ?? []) expect(result[key]).toBeUndefined()
      assertSafe(result)
    })
  }
}

/** Invariants of every reading: a known reason, one short line, no secrets or conversation text. */
function assertSafe(result: ClassifiedError) {
  expect(FAILURE_REASONS).toContain(result.reason)
  expect(typeof result.message).toBe("string")
  expect(result.message.length).toBeGreaterThan(0)
  expect(result.message.length).toBeLessThanOrEqual(200)
  expect(result.message).not.toMatch(/\n/)
  expect(result.message).not.toMatch(/sk-[A-Za-z0-9]{10}|Bearer [A-Za-z0-9]|conversation text/)
  const allowed = ["reason", "scope", "statusCode", "retryAfterMs", "resetAt", "message", "code"]
  for (const key of Object.keys(result)) expect(allowed).toContain(key)
  expect(FAILURE_SCOPES).toContain(result.scope!)
  if (result.retryAfterMs !== undefined)
    expect(Number.isFinite(result.retryAfterMs) && result.retryAfterMs >= 0).toBe(true)
}

describe("OpenAI", () => {
  runCases([
    {
      name: "Responses stream: a response.failed event (passed on whole by @ai-sdk/openai) reads its response.error",
      error: () => ({
        type: "response.failed",
        sequence_number: 12,
        response: {
          id: "resp_1",
          status: "failed",
          error: { code: "server_error", message: "The server had an error processing your request. Sorry about that! You can retry your request." },
          incomplete_details: null,
          usage: null,
        },
      }),
      expect: { reason: "server_error", scope: "model" },
    },
    {
      name: "Responses stream: response.failed with a rate-limit code",
      error: () => ({
        type: "response.failed",
        sequence_number: 3,
        response: { status: "failed", error: { code: "rate_limit_exceeded", message: "Rate limit reached for gpt-5. Please try again in 20s." } },
      }),
      expect: { reason: "rate_limit", scope: "model" },
    },
    {
      name: "429 insufficient_quota is quota, not a rate limit, and short reset headers do not shorten it",
      error: () =>
        apiCallError({
          status: 429,
          headers: { "x-ratelimit-reset-requests": "1s", "x-ratelimit-remaining-requests": "0" },
          body: {
            error: {
              message:
                "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
              type: "insufficient_quota",
              param: null,
              code: "insufficient_quota",
            },
          },
        }),
      expect: { reason: "quota", scope: "credential", statusCode: 429, code: "insufficient_quota" },
      absent: ["retryAfterMs", "resetAt"],
    },
    {
      name: "429 rate_limit_exceeded with 'try again in 2.5s'",
      error: () =>
        apiCallError({
          status: 429,
          headers: { "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s" },
          body: {
            error: {
              message:
                "Rate limit reached for gpt-4o in organization org-Abc123 on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 2.5s. Visit https://platform.openai.com/account/rate-limits to learn more.",
              type: "tokens",
              param: null,
              code: "rate_limit_exceeded",
            },
          },
        }),
      expect: { reason: "rate_limit", scope: "model", statusCode: 429, code: "rate_limit_exceeded", retryAfterMs: 2500 },
    },
    {
      name: "429 without a stated wait falls back to the exhausted window's reset (OpenAI duration)",
      error: () =>
        apiCallError({
          status: 429,
          headers: {
            "x-ratelimit-remaining-requests": "12",
            "x-ratelimit-reset-requests": "1s",
            "x-ratelimit-remaining-tokens": "0",
            "x-ratelimit-reset-tokens": "1m30.5s",
          },
          body: { error: { message: "Rate limit reached", type: "tokens", code: "rate_limit_exceeded" } },
        }),
      expect: { reason: "rate_limit", scope: "model", retryAfterMs: 90_500 },
    },
    {
      name: "retry-after-ms wins over retry-after",
      error: () =>
        apiCallError({
          status: 429,
          headers: { "retry-after-ms": "1500", "retry-after": "2" },
          body: { error: { message: "slow" } },
        }),
      expect: { reason: "rate_limit", scope: "model", retryAfterMs: 1500 },
    },
    {
      name: "a per-day limit (RPD) is quota with a reset time",
      error: () =>
        apiCallError({
          status: 429,
          body: {
            error: {
              message:
                "Rate limit reached for gpt-4o-mini in organization org-x on requests per day (RPD): Limit 10000, Used 10000, Requested 1. Please try again in 8m38.4s.",
              type: "requests",
              code: "rate_limit_exceeded",
            },
          },
        }),
      expect: { reason: "quota", scope: "model", retryAfterMs: 518_400, resetAt: NOW + 518_400 },
    },
    {
      name: "400 context_length_exceeded",
      error: () =>
        apiCallError({
          status: 400,
          body: {
            error: {
              message:
                "This model's maximum context length is 128000 tokens. However, your messages resulted in 130412 tokens. Please reduce the length of the messages.",
              type: "invalid_request_error",
              param: "messages",
              code: "context_length_exceeded",
            },
          },
        }),
      expect: { reason: "context_overflow", scope: "request", statusCode: 400, code: "context_length_exceeded" },
      absent: ["retryAfterMs"],
    },
    {
      name: "401 invalid_api_key; the key echoed in the message is redacted",
      error: () =>
        apiCallError({
          status: 401,
          body: {
            error: {
              message:
                "Incorrect API key provided: sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789. You can find your API key at https://platform.openai.com/account/api-keys.",
              type: "invalid_request_error",
              code: "invalid_api_key",
            },
          },
        }),
      expect: { reason: "auth", scope: "credential", statusCode: 401, code: "invalid_api_key" },
    },
    {
      name: "500 server_error",
      error: () =>
        apiCallError({
          status: 500,
          body: {
            error: {
              message: "The server had an error while processing your request. Sorry about that!",
              type: "server_error",
            },
          },
        }),
      expect: { reason: "server_error", scope: "model", statusCode: 500, code: "server_error" },
    },
    {
      name: "503 slow_down is overloaded",
      error: () =>
        apiCallError({
          status: 503,
          body: { error: { message: "Please reduce your request rate.", type: "slow_down", code: "slow_down" } },
        }),
      expect: { reason: "overloaded", scope: "model", statusCode: 503 },
    },
    {
      name: "Codex usage_limit_reached with resets_in_seconds",
      error: () =>
        apiCallError({
          status: 429,
          body: {
            error: {
              type: "usage_limit_reached",
              message: "The usage limit has been reached",
              plan_type: "plus",
              resets_in_seconds: 7200,
            },
          },
        }),
      expect: { reason: "quota", scope: "credential", code: "usage_limit_reached", retryAfterMs: 7_200_000, resetAt: NOW + 7_200_000 },
    },
  ])
})

describe("Anthropic", () => {
  runCases([
    {
      name: "529 overloaded_error",
      error: () =>
        apiCallError({
          status: 529,
          body: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } },
        }),
      expect: { reason: "overloaded", scope: "model", statusCode: 529, code: "overloaded_error", message: "Overloaded" },
    },
    {
      name: "429 rate_limit_error with retry-after seconds",
      error: () =>
        apiCallError({
          status: 429,
          headers: {
            "retry-after": "20",
            "anthropic-ratelimit-input-tokens-remaining": "0",
            "anthropic-ratelimit-input-tokens-reset": at(45_000),
          },
          body: {
            type: "error",
            error: {
              type: "rate_limit_error",
              message:
                "This request would exceed the rate limit for your organization (5c1f…) of 30,000 input tokens per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.",
            },
          },
        }),
      expect: { reason: "rate_limit", scope: "model", statusCode: 429, code: "rate_limit_error", retryAfterMs: 20_000 },
    },
    {
      name: "429 without retry-after: the exhausted window's ISO reset, not the window with room left",
      error: () =>
        apiCallError({
          status: 429,
          headers: {
            "anthropic-ratelimit-requests-remaining": "40",
            "anthropic-ratelimit-requests-reset": at(1_000),
            "anthropic-ratelimit-tokens-remaining": "0",
            "anthropic-ratelimit-tokens-reset": at(45_000),
          },
          body: { type: "error", error: { type: "rate_limit_error", message: "Rate limited" } },
        }),
      expect: { reason: "rate_limit", scope: "model", retryAfterMs: 45_000 },
    },
    {
      name: "subscription (unified) window rejected for hours: a rate limit of the whole sign-in, with its long wait",
      error: () =>
        apiCallError({
          status: 429,
          headers: {
            "anthropic-ratelimit-unified-status": "rejected",
            "anthropic-ratelimit-unified-reset": String(Math.floor((NOW + 3 * 3_600_000) / 1000)),
          },
          body: {
            type: "error",
            error: {
              type: "rate_limit_error",
              message: "This request would exceed your account's rate limit. Please try again later.",
            },
          },
        }),
      expect: { reason: "rate_limit", scope: "credential", statusCode: 429, retryAfterMs: 3 * 3_600_000 },
    },
    {
      name: "400 prompt is too long",
      error: () =>
        apiCallError({
          status: 400,
          body: {
            type: "error",
            error: { type: "invalid_request_error", message: "prompt is too long: 215734 tokens > 200000 maximum" },
          },
        }),
      expect: { reason: "context_overflow", scope: "request", statusCode: 400, code: "invalid_request_error" },
    },
    {
      name: "400 credit balance too low is quota",
      error: () =>
        apiCallError({
          status: 400,
          body: {
            type: "error",
            error: {
              type: "invalid_request_error",
              message:
                "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.",
            },
          },
        }),
      expect: { reason: "quota", scope: "credential", statusCode: 400 },
    },
    {
      name: "400 other invalid_request_error",
      error: () =>
        apiCallError({
          status: 400,
          body: {
            type: "error",
            error: { type: "invalid_request_error", message: "messages.1.content.0.type: Field required" },
          },
        }),
      expect: { reason: "invalid_request", scope: "request", statusCode: 400, code: "invalid_request_error" },
    },
    {
      name: "401 authentication_error",
      error: () =>
        apiCallError({
          status: 401,
          body: { type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } },
        }),
      expect: { reason: "auth", scope: "credential", statusCode: 401, code: "authentication_error" },
    },
    {
      name: "403 permission_error",
      error: () =>
        apiCallError({
          status: 403,
          body: {
            type: "error",
            error: {
              type: "permission_error",
              message: "Your API key does not have permission to use the specified resource.",
            },
          },
        }),
      expect: { reason: "auth", scope: "credential", statusCode: 403 },
    },
    {
      name: "413 request_too_large",
      error: () =>
        apiCallError({
          status: 413,
          body: {
            type: "error",
            error: { type: "request_too_large", message: "Request exceeds the maximum allowed number of bytes." },
          },
        }),
      expect: { reason: "context_overflow", scope: "request", statusCode: 413 },
    },
    {
      name: "500 api_error",
      error: () =>
        apiCallError({
          status: 500,
          body: { type: "error", error: { type: "api_error", message: "Internal server error" } },
        }),
      expect: { reason: "server_error", scope: "model", statusCode: 500, code: "api_error" },
    },
    {
      name: "504 timeout_error is a timeout",
      error: () =>
        apiCallError({
          status: 504,
          body: { type: "error", error: { type: "timeout_error", message: "Request timed out" } },
        }),
      expect: { reason: "timeout", scope: "endpoint", statusCode: 504 },
    },
    {
      name: "first SSE event rate_limit_error: the SDK's synthetic 500 does not hide the rate limit",
      error: () =>
        apiCallError({
          status: 500,
          body: { type: "rate_limit_error", message: "Rate limited" },
          message: "Rate limited",
        }),
      expect: { reason: "rate_limit", scope: "model", statusCode: 500, code: "rate_limit_error" },
    },
    {
      name: "in-stream part {type: overloaded_error}",
      error: () => ({ type: "overloaded_error", message: "Overloaded" }),
      expect: { reason: "overloaded", scope: "model", code: "overloaded_error", message: "Overloaded" },
      absent: ["statusCode"],
    },
    {
      name: "in-stream event {type: error, error: {type: rate_limit_error}}",
      error: () => ({ type: "error", error: { type: "rate_limit_error", message: "Rate limit exceeded" } }),
      expect: { reason: "rate_limit", scope: "model", code: "rate_limit_error" },
      absent: ["statusCode"],
    },
    {
      name: "in-stream api_error",
      error: () => ({ type: "api_error", message: "Internal server error" }),
      expect: { reason: "server_error", scope: "model", code: "api_error" },
    },
    {
      name: "fullStream error part wrapping the in-stream object",
      error: () => ({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }),
      expect: { reason: "overloaded", scope: "model" },
    },
  ])
})

describe("Amazon Bedrock", () => {
  runCases([
    {
      name: "a modeled throttlingException frame, surfaced by the stream watcher",
      error: () => new BedrockStreamException({ exceptionType: "throttlingException", message: "Too many tokens, please wait before trying again." }),
      expect: { reason: "rate_limit", scope: "model" },
    },
    {
      name: "a modelStreamErrorException frame carries the model's status",
      error: () => new BedrockStreamException({ exceptionType: "modelStreamErrorException", message: "Received error from the model provider.", originalStatusCode: 429 }),
      expect: { reason: "rate_limit", scope: "model", statusCode: 429 },
    },
    {
      name: "the SDK's bare inner object of an event-typed modelStreamErrorException: originalStatusCode is the status",
      error: () => ({ message: "Received error from the model provider.", originalStatusCode: 503, originalMessage: "Service Unavailable" }),
      expect: { reason: "server_error", scope: "endpoint", statusCode: 503 },
    },
    {
      name: "429 ThrottlingException (x-amzn-errortype)",
      error: () =>
        apiCallError({
          status: 429,
          headers: { "x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/" },
          body: { message: "Too many requests, please wait before trying again." },
        }),
      expect: { reason: "rate_limit", scope: "model", statusCode: 429, code: "ThrottlingException" },
    },
    {
      name: "'Too many tokens' throttling is a rate limit, not a context overflow",
      error: () =>
        apiCallError({ status: 429, body: { message: "Too many tokens, please wait before trying again." } }),
      expect: { reason: "rate_limit", scope: "model" },
    },
    {
      name: "'Too many tokens per day' is quota",
      error: () =>
        apiCallError({
          status: 429,
          headers: { "x-amzn-errortype": "ThrottlingException" },
          body: { message: "Too many tokens per day, please wait before trying again." },
        }),
      expect: { reason: "quota", scope: "model" },
    },
    {
      name: "in-stream throttlingException event",
      error: () => ({ throttlingException: { message: "Too many tokens, please wait before trying again." } }),
      expect: { reason: "rate_limit", scope: "model", code: "throttlingException" },
    },
    {
      name: "400 ValidationException input too long",
      error: () =>
        apiCallError({
          status: 400,
          headers: { "x-amzn-errortype": "ValidationException" },
          body: { message: "Input is too long for requested model." },
        }),
      expect: { reason: "context_overflow", scope: "request", statusCode: 400 },
    },
    {
      name: "__type ServiceQuotaExceededException is quota",
      error: () =>
        apiCallError({
          status: 400,
          body: {
            __type: "com.amazon.coral.service#ServiceQuotaExceededException",
            message: "Your request exceeds the service quota for your account.",
          },
        }),
      expect: { reason: "quota", scope: "credential", code: "ServiceQuotaExceededException" },
    },
    {
      name: "503 ServiceUnavailableException",
      error: () =>
        apiCallError({
          status: 503,
          headers: { "x-amzn-errortype": "ServiceUnavailableException" },
          body: { message: "Bedrock is unable to process your request." },
        }),
      expect: { reason: "server_error", scope: "endpoint", statusCode: 503 },
    },
  ])
})

describe("OpenRouter", () => {
  runCases([
    {
      name: "402 insufficient credits",
      error: () =>
        apiCallError({
          status: 402,
          body: {
            error: {
              code: 402,
              message: "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
            },
          },
        }),
      expect: { reason: "quota", scope: "credential", statusCode: 402 },
    },
    {
      name: "402 'requires more credits, or fewer max_tokens'",
      error: () =>
        apiCallError({
          status: 402,
          body: {
            error: {
              code: 402,
              message:
                "This request requires more credits, or fewer max_tokens. You requested up to 64000 tokens, but can only afford 1337.",
            },
          },
        }),
      expect: { reason: "quota", scope: "credential" },
    },
    {
      name: "429 free-models-per-day with the reset forwarded in metadata.headers (epoch ms)",
      error: () =>
        apiCallError({
          status: 429,
          body: {
            error: {
              code: 429,
              message:
                "Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model requests per day",
              metadata: {
                headers: {
                  "X-RateLimit-Limit": "50",
                  "X-RateLimit-Remaining": "0",
                  "X-RateLimit-Reset": String(NOW + 5 * 3_600_000),
                },
              },
            },
          },
        }),
      expect: { reason: "quota", scope: "model", statusCode: 429, retryAfterMs: 5 * 3_600_000, resetAt: NOW + 5 * 3_600_000 },
    },
    {
      name: "502 'Provider returned error' reads the upstream body in metadata.raw",
      error: () =>
        apiCallError({
          status: 502,
          body: {
            error: {
              code: 502,
              message: "Provider returned error",
              metadata: {
                raw: JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }),
                provider_name: "Anthropic",
              },
            },
          },
        }),
      expect: { reason: "overloaded", scope: "model", statusCode: 502, code: "overloaded_error" },
    },
    {
      name: "403 moderation is an invalid request, not auth",
      error: () =>
        apiCallError({
          status: 403,
          body: {
            error: {
              code: 403,
              message: "Input was flagged by moderation",
              metadata: { reasons: ["violence"], flagged_input: "conversation text" },
            },
          },
        }),
      expect: { reason: "invalid_request", scope: "request", statusCode: 403 },
    },
    {
      name: "408 request timeout",
      error: () => apiCallError({ status: 408, body: { error: { code: 408, message: "Timed out" } } }),
      expect: { reason: "timeout", scope: "model", statusCode: 408 },
    },
    {
      name: "in-stream error chunk as openai-compatible passes it on: a bare message string",
      error: () =>
        "Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model requests per day",
      expect: { reason: "quota", scope: "model" },
      absent: ["statusCode"],
    },
    {
      name: "in-stream JSON with a numeric error.code stands in for the status",
      error: () =>
        JSON.stringify({ error: { code: 429, message: "Rate limit exceeded: limit_rpm/anthropic/claude-sonnet-4.5" } }),
      expect: { reason: "rate_limit", scope: "model", statusCode: 429 },
    },
  ])
})

describe("GitHub Copilot", () => {
  const copilotURL = "https://api.githubcopilot.com/chat/completions"
  runCases([
    {
      name: "402 quota_exceeded",
      error: () =>
        apiCallError({
          status: 402,
          url: copilotURL,
          body: { error: { message: "You have no quota", code: "quota_exceeded" } },
        }),
      expect: { reason: "quota", scope: "credential", statusCode: 402, code: "quota_exceeded" },
    },
    {
      name: "premium request allowance message",
      error: () =>
        "You have exceeded your premium request allowance. We have automatically switched you to GPT-4.1 which is included with your plan.",
      expect: { reason: "quota", scope: "credential" },
    },
    {
      name: "429 rate_limited",
      error: () =>
        apiCallError({
          status: 429,
          url: copilotURL,
          headers: { "retry-after": "30" },
          body: {
            error: {
              message: "Sorry, you have been rate-limited. Please wait a moment before trying again.",
              code: "rate_limited",
            },
          },
        }),
      expect: { reason: "rate_limit", scope: "model", retryAfterMs: 30_000, code: "rate_limited" },
    },
    {
      name: "bare 403 Forbidden from Copilot is transient (rate_limit), recognised by URL",
      error: () => apiCallError({ status: 403, url: copilotURL, body: "Forbidden", message: "Forbidden" }),
      expect: { reason: "rate_limit", scope: "model", statusCode: 403 },
    },
    {
      name: "403 'Access to this endpoint is forbidden' from Copilot, recognised by providerID",
      error: () =>
        apiCallError({
          status: 403,
          url: "http://127.0.0.1:4000/chat/completions",
          body: "Access to this endpoint is forbidden. Please review our Terms of Service.",
          message: "Forbidden",
        }),
      context: { providerID: "github-copilot" },
      expect: { reason: "rate_limit", scope: "model", statusCode: 403 },
    },
    {
      name: "403 naming a licence/policy problem stays auth even for Copilot",
      error: () =>
        apiCallError({
          status: 403,
          url: copilotURL,
          body: {
            error: {
              message:
                "You are not authorized to use this Copilot feature, it requires an enterprise or organization policy to be enabled.",
              code: "forbidden",
            },
          },
        }),
      expect: { reason: "auth", scope: "credential", statusCode: 403 },
    },
    {
      name: "bare 403 from any other provider is auth",
      error: () => apiCallError({ status: 403, body: "Forbidden", message: "Forbidden" }),
      expect: { reason: "auth", scope: "credential", statusCode: 403 },
    },
    {
      name: "400 model_not_supported",
      error: () =>
        apiCallError({
          status: 400,
          url: copilotURL,
          body: { error: { message: "The requested model is not supported.", code: "model_not_supported" } },
        }),
      expect: { reason: "model_unavailable", scope: "model", code: "model_not_supported" },
    },
    {
      name: "400 'prompt token count exceeds the limit' is context overflow",
      error: () =>
        apiCallError({
          status: 400,
          url: copilotURL,
          body: {
            error: {
              message: "prompt token count of 172340 exceeds the limit of 168000",
              code: "model_max_prompt_tokens_exceeded",
            },
          },
        }),
      expect: { reason: "context_overflow", scope: "request" },
    },
  ])
})

describe("Google Gemini", () => {
  runCases([
    {
      name: "429 RESOURCE_EXHAUSTED per minute with RetryInfo is a rate limit",
      error: () =>
        apiCallError({
          status: 429,
          body: {
            error: {
              code: 429,
              message:
                "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
              status: "RESOURCE_EXHAUSTED",
              details: [
                {
                  "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                  violations: [
                    {
                      quotaMetric: "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                      quotaId: "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                    },
                  ],
                },
                { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "31s" },
              ],
            },
          },
        }),
      expect: { reason: "rate_limit", scope: "model", statusCode: 429, code: "RESOURCE_EXHAUSTED", retryAfterMs: 31_000 },
    },
    {
      name: "429 RESOURCE_EXHAUSTED per day is quota",
      error: () =>
        apiCallError({
          status: 429,
          body: {
            error: {
              code: 429,
              message: "You exceeded your current quota, please check your plan and billing details.",
              status: "RESOURCE_EXHAUSTED",
              details: [
                {
                  "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                  violations: [{ quotaId: "GenerateRequestsPerDayPerProjectPerModel-FreeTier" }],
                },
                { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "7200s" },
              ],
            },
          },
        }),
      expect: { reason: "quota", scope: "model", retryAfterMs: 7_200_000, resetAt: NOW + 7_200_000 },
    },
    {
      name: "503 UNAVAILABLE 'The model is overloaded'",
      error: () =>
        apiCallError({
          status: 503,
          body: {
            error: { code: 503, message: "The model is overloaded. Please try again later.", status: "UNAVAILABLE" },
          },
        }),
      expect: { reason: "overloaded", scope: "model", statusCode: 503 },
    },
    {
      name: "400 INVALID_ARGUMENT input token count exceeds",
      error: () =>
        apiCallError({
          status: 400,
          body: {
            error: {
              code: 400,
              message: "The input token count (1210000) exceeds the maximum number of tokens allowed (1048576).",
              status: "INVALID_ARGUMENT",
            },
          },
        }),
      expect: { reason: "context_overflow", scope: "request" },
    },
    {
      name: "400 API_KEY_INVALID is auth",
      error: () =>
        apiCallError({
          status: 400,
          url: "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key=AIzaSyA1234567890abcdefghijklmnopqrstuv",
          body: {
            error: {
              code: 400,
              message: "API key not valid. Please pass a valid API key.",
              status: "INVALID_ARGUMENT",
              details: [
                {
                  "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                  reason: "API_KEY_INVALID",
                  domain: "googleapis.com",
                },
              ],
            },
          },
        }),
      expect: { reason: "auth", scope: "credential", statusCode: 400 },
    },
  ])
})

describe("HTTP statuses and headers", () => {
  runCases([
    {
      name: "404",
      error: () => apiCallError({ status: 404, body: "Not Found", message: "Not Found" }),
      expect: { reason: "invalid_request", scope: "request", statusCode: 404 },
    },
    {
      name: "422",
      error: () => apiCallError({ status: 422, body: { detail: "bad field" } }),
      expect: { reason: "invalid_request", scope: "request", statusCode: 422 },
    },
    {
      name: "409 (retryable conflict)",
      error: () => apiCallError({ status: 409 }),
      expect: { reason: "server_error", scope: "model", statusCode: 409 },
    },
    {
      name: "502 HTML page from a gateway: message is the status text, not markup",
      error: () =>
        apiCallError({
          status: 502,
          body: "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>",
          message: "Bad Gateway",
        }),
      expect: { reason: "server_error", scope: "endpoint", statusCode: 502, message: "Bad Gateway" },
    },
    {
      name: "504 gateway timeout is a timeout",
      error: () => apiCallError({ status: 504, message: "Gateway Timeout" }),
      expect: { reason: "timeout", scope: "endpoint", statusCode: 504 },
    },
    {
      name: "524 (Cloudflare) is a timeout",
      error: () => apiCallError({ status: 524, message: "" }),
      expect: { reason: "timeout", scope: "model", statusCode: 524 },
    },
    {
      name: "503 with retry-after keeps the wait",
      error: () => apiCallError({ status: 503, headers: { "retry-after": "5" } }),
      expect: { reason: "server_error", scope: "endpoint", retryAfterMs: 5000 },
    },
    {
      name: "retry-after as an HTTP date, relative to context.now",
      error: () => apiCallError({ status: 429, headers: { "Retry-After": httpDate(90_000) } }),
      expect: { reason: "rate_limit", scope: "model", retryAfterMs: 90_000 },
    },
    {
      name: "a 429 whose Retry-After is hours away is a rate limit with a long wait, not quota",
      error: () => apiCallError({ status: 429, headers: { "retry-after": String((QUOTA_MIN_WAIT_MS / 1000) * 4) } }),
      expect: { reason: "rate_limit", scope: "model", retryAfterMs: QUOTA_MIN_WAIT_MS * 4 },
      absent: ["resetAt"],
    },
    {
      name: "x-ratelimit-reset as epoch seconds",
      error: () =>
        apiCallError({
          status: 429,
          headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.floor((NOW + 40_000) / 1000)) },
        }),
      expect: { reason: "rate_limit", scope: "model", retryAfterMs: 40_000 },
    },
    {
      name: "Headers instance as responseHeaders",
      error: () => ({ status: 429, headers: new Headers({ "Retry-After": "3" }), message: "Too Many Requests" }),
      expect: { reason: "rate_limit", scope: "model", retryAfterMs: 3000, statusCode: 429 },
    },
    {
      name: "a rate limit's wait is not carried onto a context overflow",
      error: () =>
        apiCallError({
          status: 400,
          headers: { "retry-after": "3" },
          body: { error: { message: "prompt is too long", code: "context_length_exceeded" } },
        }),
      expect: { reason: "context_overflow", scope: "request" },
      absent: ["retryAfterMs"],
    },
    {
      name: "data is used when the body was not text",
      error: () =>
        new APICallError({
          message: "Overloaded",
          url: "https://x",
          requestBodyValues: {},
          statusCode: 529,
          data: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } },
        }),
      expect: { reason: "overloaded", scope: "model", code: "overloaded_error" },
    },
  ])
})

describe("wrapping: RetryError, cause chains, stream parts", () => {
  runCases([
    {
      name: "RetryError: the last attempt decides",
      error: () =>
        new RetryError({
          message: "Failed after 3 attempts. Last error: Overloaded",
          reason: "maxRetriesExceeded",
          errors: [
            apiCallError({ status: 500, body: { error: { message: "boom" } } }),
            apiCallError({
              status: 429,
              headers: { "retry-after": "4" },
              body: { error: { message: "Rate limited", code: "rate_limit_exceeded" } },
            }),
          ],
        }),
      expect: { reason: "rate_limit", scope: "model", statusCode: 429, retryAfterMs: 4000 },
    },
    {
      name: "Error with an APICallError cause",
      error: () =>
        new Error("step failed", { cause: apiCallError({ status: 401, body: { error: { message: "bad key" } } }) }),
      expect: { reason: "auth", scope: "credential", statusCode: 401 },
    },
    {
      name: "AI SDK 'Cannot connect to API' with a ConnectionRefused cause",
      error: () =>
        apiCallError({
          message: "Cannot connect to API: Unable to connect. Is the computer able to access the url?",
          cause: Object.assign(new Error("Unable to connect. Is the computer able to access the url?"), {
            code: "ConnectionRefused",
          }),
        }),
      expect: { reason: "network", scope: "endpoint", code: "ConnectionRefused" },
      absent: ["statusCode"],
    },
    {
      name: "NoOutputGeneratedError-style wrapper around a stream error part",
      error: () => new Error("No output generated", { cause: { type: "overloaded_error", message: "Overloaded" } }),
      expect: { reason: "overloaded", scope: "model" },
    },
    {
      name: "LoadAPIKeyError is auth",
      error: () =>
        new LoadAPIKeyError({ message: "Anthropic API key is missing. Pass it using the 'apiKey' parameter." }),
      expect: { reason: "auth", scope: "request" },
    },
  ])
})

describe("network", () => {
  const withCode = (message: string, code: string, Ctor: ErrorConstructor = Error) =>
    Object.assign(new Ctor(message), { code })
  runCases([
    {
      name: "Bun ECONNRESET mid-stream",
      error: () =>
        withCode(
          "The socket connection was closed unexpectedly. For more information, pass `verbose: true` in the second argument to fetch()",
          "ECONNRESET",
        ),
      expect: { reason: "network", scope: "endpoint", code: "ECONNRESET" },
    },
    {
      name: "Bun ConnectionRefused",
      error: () => withCode("Unable to connect. Is the computer able to access the url?", "ConnectionRefused"),
      expect: { reason: "network", scope: "endpoint" },
    },
    {
      name: "ECONNREFUSED TypeError",
      error: () => withCode("fetch failed", "ECONNREFUSED", TypeError),
      expect: { reason: "network", scope: "endpoint" },
    },
    {
      name: "ENOTFOUND",
      error: () => withCode("getaddrinfo ENOTFOUND api.anthropic.com", "ENOTFOUND"),
      expect: { reason: "network", scope: "endpoint", code: "ENOTFOUND" },
    },
    {
      name: "EAI_AGAIN",
      error: () => withCode("getaddrinfo EAI_AGAIN api.openai.com", "EAI_AGAIN"),
      expect: { reason: "network", scope: "endpoint" },
    },
    {
      name: "Node 'fetch failed' TypeError with the socket error as cause",
      error: () =>
        new TypeError("fetch failed", { cause: withCode("connect ECONNREFUSED 127.0.0.1:443", "ECONNREFUSED") }),
      expect: { reason: "network", scope: "endpoint", code: "ECONNREFUSED" },
    },
    {
      name: "undici headers timeout is a timeout",
      error: () => withCode("Headers Timeout Error", "UND_ERR_HEADERS_TIMEOUT"),
      expect: { reason: "timeout", scope: "model" },
    },
    {
      name: "plain string 'socket connection was closed unexpectedly'",
      error: () => "The socket connection was closed unexpectedly",
      expect: { reason: "network", scope: "endpoint" },
    },
    {
      name: "plain Error 'fetch failed' without a code",
      error: () => new TypeError("fetch failed"),
      expect: { reason: "network", scope: "endpoint" },
    },
  ])
})

describe("abort and timeout", () => {
  runCases([
    {
      name: "DOMException AbortError is a user abort",
      error: () => new DOMException("The operation was aborted.", "AbortError"),
      expect: { reason: "aborted", scope: "request" },
    },
    {
      name: "DOMException TimeoutError",
      error: () => new DOMException("The operation timed out.", "TimeoutError"),
      expect: { reason: "timeout", scope: "model" },
    },
    {
      name: "CombinedModelsTimeoutError (first byte)",
      error: () => new CombinedModelsTimeoutError({ phase: "first_byte", afterMs: 30_000 }),
      expect: { reason: "timeout", scope: "model", message: "Provider timed out: nothing received within 30 s of the request" },
    },
    {
      name: "AbortError whose signal reason is AbortSignal.timeout's TimeoutError",
      error: () => new DOMException("The operation was aborted.", "AbortError"),
      context: { abortSignal: AbortSignal.abort(new DOMException("The operation timed out.", "TimeoutError")) },
      expect: { reason: "timeout", scope: "model" },
    },
    {
      name: "AbortError whose signal reason is a CombinedModelsTimeoutError (stall)",
      error: () => new DOMException("The operation was aborted.", "AbortError"),
      context: { abortSignal: AbortSignal.abort(new CombinedModelsTimeoutError({ phase: "stall", afterMs: 45_000 })) },
      expect: { reason: "timeout", scope: "model", message: "Provider timed out: stream stalled for 45 s" },
    },
    {
      name: "AbortError with a user-aborted signal",
      error: () => new DOMException("The operation was aborted.", "AbortError"),
      context: { abortSignal: AbortSignal.abort() },
      expect: { reason: "aborted", scope: "request" },
    },
    {
      name: "any error after the user aborted is an abort (no failover)",
      error: () => apiCallError({ status: 429, body: { error: { message: "Rate limited" } } }),
      context: { abortSignal: AbortSignal.abort() },
      expect: { reason: "aborted", scope: "request" },
    },
    { name: "fullStream abort part", error: () => ({ type: "abort" }), expect: { reason: "aborted", scope: "request" } },
    {
      name: "fullStream abort part from AbortSignal.timeout",
      error: () => ({ type: "abort", reason: "The operation timed out." }),
      expect: { reason: "timeout", scope: "model" },
    },
    {
      name: "fullStream abort part from CombinedModelsTimeoutError",
      error: () => ({
        type: "abort",
        reason: new CombinedModelsTimeoutError({ phase: "stall", afterMs: 1500 }).message,
      }),
      expect: { reason: "timeout", scope: "model" },
    },
    {
      name: "fullStream abort part from a user abort",
      error: () => ({ type: "abort", reason: "This operation was aborted" }),
      expect: { reason: "aborted", scope: "request" },
    },
    {
      name: "an unaborted signal changes nothing",
      error: () =>
        apiCallError({
          status: 529,
          body: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } },
        }),
      context: { abortSignal: new AbortController().signal },
      expect: { reason: "overloaded", scope: "model" },
    },
  ])
})

describe("OpenCode's normalised errors (MessageV2.fromError)", () => {
  /** The shape of OpenCode's NamedError classes: `name` plus `data`, with `toObject()`. */
  class NamedErrorLike extends Error {
    constructor(
      override readonly name: string,
      readonly data: Record<string, unknown>,
    ) {
      super(name)
    }
    toObject() {
      return { name: this.name, data: this.data }
    }
  }
  runCases([
    {
      name: "APIError object with headers and body",
      error: () => ({
        name: "APIError",
        data: {
          message: "Rate limit reached",
          statusCode: 429,
          isRetryable: true,
          responseHeaders: { "retry-after": "3" },
          responseBody: JSON.stringify({
            type: "error",
            error: { type: "rate_limit_error", message: "Rate limit reached" },
          }),
          metadata: { url: "https://api.anthropic.com/v1/messages" },
        },
      }),
      expect: { reason: "rate_limit", scope: "model", statusCode: 429, retryAfterMs: 3000, code: "rate_limit_error" },
    },
    {
      name: "APIError class instance",
      error: () => new NamedErrorLike("APIError", { message: "Overloaded", statusCode: 529, isRetryable: true }),
      expect: { reason: "overloaded", scope: "model", statusCode: 529 },
    },
    {
      name: "APIError 'Connection reset by server' (ECONNRESET metadata)",
      error: () => ({
        name: "APIError",
        data: {
          message: "Connection reset by server",
          isRetryable: true,
          metadata: { code: "ECONNRESET", syscall: "", message: "socket closed" },
        },
      }),
      expect: { reason: "network", scope: "endpoint" },
    },
    {
      name: "APIError from a header timeout",
      error: () => ({
        name: "APIError",
        data: {
          message: "Provider response headers timed out after 30000ms",
          isRetryable: true,
          metadata: { code: "ProviderHeaderTimeoutError", timeoutMs: "30000" },
        },
      }),
      expect: { reason: "timeout", scope: "model" },
    },
    {
      name: "APIError from an SSE read timeout",
      error: () => ({
        name: "APIError",
        data: { message: "SSE read timed out", isRetryable: true, metadata: { code: "ProviderResponseStreamError" } },
      }),
      expect: { reason: "timeout", scope: "model" },
    },
    {
      name: "APIError from parseStreamError: insufficient_quota",
      error: () => ({
        name: "APIError",
        data: {
          message: "Quota exceeded. Check your plan and billing details.",
          isRetryable: false,
          responseBody: JSON.stringify({
            type: "error",
            error: { code: "insufficient_quota", message: "You exceeded your current quota" },
          }),
        },
      }),
      expect: { reason: "quota", scope: "credential", code: "insufficient_quota" },
    },
    {
      name: "APIError with OpenCode Zen's GoUsageLimitError",
      error: () => ({
        name: "APIError",
        data: {
          message: "Usage limit reached",
          statusCode: 429,
          isRetryable: true,
          responseHeaders: { "retry-after": "18000" },
          responseBody: JSON.stringify({
            type: "error",
            error: { type: "GoUsageLimitError", message: "Usage limit reached" },
            metadata: { workspace: "w" },
          }),
        },
      }),
      expect: { reason: "quota", scope: "credential", retryAfterMs: 18_000_000, resetAt: NOW + 18_000_000 },
    },
    {
      name: "ContextOverflowError",
      error: () => ({ name: "ContextOverflowError", data: { message: "Input exceeds context window of this model" } }),
      expect: { reason: "context_overflow", scope: "request" },
    },
    {
      name: "ProviderAuthError",
      error: () => new NamedErrorLike("ProviderAuthError", { providerID: "anthropic", message: "API key missing" }),
      expect: { reason: "auth", scope: "credential" },
    },
    {
      name: "MessageAbortedError",
      error: () => ({ name: "MessageAbortedError", data: { message: "The operation was aborted." } }),
      expect: { reason: "aborted", scope: "request" },
    },
    {
      name: "UnknownError holding a stringified stream error",
      error: () => ({
        name: "UnknownError",
        data: { message: JSON.stringify({ type: "overloaded_error", message: "Overloaded" }) },
      }),
      expect: { reason: "overloaded", scope: "model", message: "Overloaded" },
    },
    {
      name: "UnknownError with nothing to go on",
      error: () => ({ name: "UnknownError", data: { message: "Something odd happened" } }),
      expect: { reason: "unknown", scope: "model", message: "Something odd happened" },
    },
  ])
})

describe("native runtime LLMError", () => {
  /** Mirrors `@opencode-ai/llm` `LLMError`: `_tag`, a tagged `reason`, `cause = reason`, getters. */
  class LLMErrorLike extends Error {
    readonly _tag = "LLM.Error"
    override readonly cause: Record<string, unknown>
    constructor(readonly reason: Record<string, unknown>) {
      super()
      this.cause = reason
    }
    get retryAfterMs() {
      return this.reason.retryAfterMs
    }
    override get message() {
      return `RequestExecutor.execute: ${String(this.reason.message)}`
    }
  }
  const http = (status: number, body: string, headers: Record<string, string> = {}) => ({
    request: { method: "POST", url: "https://api.anthropic.com/v1/messages", headers: { "x-api-key": "<redacted>" } },
    response: { status, headers },
    body,
  })
  runCases([
    {
      name: "RateLimit with retryAfterMs",
      error: () =>
        new LLMErrorLike({
          _tag: "RateLimit",
          message: "Provider request failed with HTTP 429",
          retryAfterMs: 5000,
          http: http(
            429,
            JSON.stringify({ type: "error", error: { type: "rate_limit_error", message: "slow down" } }),
            { "retry-after": "5" },
          ),
        }),
      expect: { reason: "rate_limit", scope: "model", statusCode: 429, retryAfterMs: 5000 },
    },
    {
      name: "RateLimit without http details still gives its wait",
      error: () => new LLMErrorLike({ _tag: "RateLimit", message: "rate limited", retryAfterMs: 1200 }),
      expect: { reason: "rate_limit", scope: "model", retryAfterMs: 1200 },
    },
    {
      name: "QuotaExceeded",
      error: () => new LLMErrorLike({ _tag: "QuotaExceeded", message: "insufficient_quota" }),
      expect: { reason: "quota", scope: "credential" },
    },
    {
      name: "Authentication",
      error: () =>
        new LLMErrorLike({ _tag: "Authentication", message: "bad key", kind: "invalid", http: http(401, "") }),
      expect: { reason: "auth", scope: "credential", statusCode: 401 },
    },
    {
      name: "InvalidRequest classified as context-overflow",
      error: () =>
        new LLMErrorLike({
          _tag: "InvalidRequest",
          message: "too long",
          classification: "context-overflow",
          http: http(400, "prompt is too long"),
        }),
      expect: { reason: "context_overflow", scope: "request" },
    },
    {
      name: "InvalidRequest with Anthropic's credit body is quota",
      error: () =>
        new LLMErrorLike({
          _tag: "InvalidRequest",
          message: "Provider request failed with HTTP 400",
          http: http(
            400,
            JSON.stringify({
              type: "error",
              error: {
                type: "invalid_request_error",
                message: "Your credit balance is too low to access the Anthropic API.",
              },
            }),
          ),
        }),
      expect: { reason: "quota", scope: "credential", statusCode: 400 },
    },
    {
      name: "ProviderInternal 529",
      error: () => new LLMErrorLike({ _tag: "ProviderInternal", message: "HTTP 529", status: 529 }),
      expect: { reason: "overloaded", scope: "model", statusCode: 529 },
    },
    {
      name: "ProviderInternal 503",
      error: () => new LLMErrorLike({ _tag: "ProviderInternal", message: "HTTP 503", status: 503 }),
      expect: { reason: "server_error", scope: "endpoint", statusCode: 503 },
    },
    {
      name: "Transport timeout",
      error: () => new LLMErrorLike({ _tag: "Transport", message: "timed out", kind: "Timeout" }),
      expect: { reason: "timeout", scope: "model" },
    },
    {
      name: "Transport",
      error: () => new LLMErrorLike({ _tag: "Transport", message: "Connection refused", kind: "TransportError" }),
      expect: { reason: "network", scope: "endpoint" },
    },
    {
      name: "ContentPolicy",
      error: () => new LLMErrorLike({ _tag: "ContentPolicy", message: "blocked by content policy" }),
      expect: { reason: "invalid_request", scope: "request" },
    },
    {
      name: "plain-object LLMError (serialised across a boundary)",
      error: () => ({
        _tag: "LLM.Error",
        module: "RequestExecutor",
        method: "execute",
        reason: { _tag: "QuotaExceeded", message: "no quota" },
      }),
      expect: { reason: "quota", scope: "credential" },
    },
  ])
})

describe("no guessing from unrelated words and numbers", () => {
  runCases([
    {
      name: "an error body whose `error` is null is read, not unreadable",
      error: () => ({ statusCode: 429, error: null, metadata: { raw: '{"error":{"message":"slow down"}}' } }),
      expect: { reason: "rate_limit", scope: "model", statusCode: 429 },
    },
    {
      name: "a retry-after of -5 is malformed, not an HTTP date in 2001 meaning retry now",
      error: () => apiCallError({ status: 429, headers: { "retry-after": "-5" }, body: { error: { message: "slow down" } } }),
      expect: { reason: "rate_limit", scope: "model", statusCode: 429 },
      absent: ["retryAfterMs"],
    },
    {
      name: "an HTTP-date retry-after still counts",
      error: () => apiCallError({ status: 429, headers: { "retry-after": new Date(NOW + 90_000).toUTCString() }, body: { error: { message: "slow down" } } }),
      expect: { reason: "rate_limit", scope: "model", retryAfterMs: 90_000 },
    },
    {
      name: "a phrase never overrides a status it contradicts: a 400 saying the budget is exceeded is a refused request",
      error: () =>
        apiCallError({ status: 400, body: { error: { message: "Budget has been exceeded! Current cost: 10.2, Max budget: 10.0", type: "budget_exceeded" } } }),
      expect: { reason: "invalid_request", scope: "request", statusCode: 400 },
    },
    {
      name: "the same phrase on a 429 is a quota",
      error: () => apiCallError({ status: 429, body: { error: { message: "Budget has been exceeded! Current cost: 10.2, Max budget: 10.0" } } }),
      expect: { reason: "quota", scope: "credential", statusCode: 429 },
    },
    {
      name: "and inside a stream, with no status to contradict it, a quota too",
      error: () => ({ message: "Budget has been exceeded for this key" }),
      expect: { reason: "quota", scope: "credential" },
    },
    {
      name: "'500' inside a sentence is not a 500",
      error: () => new Error("Expected at most 500 items in tools, got 512"),
      expect: { reason: "unknown", scope: "model" },
      absent: ["statusCode"],
    },
    {
      name: "a sentence mentioning 'rate' is not a rate limit",
      error: () => "Please rate the accuracy of this generation",
      expect: { reason: "unknown", scope: "model" },
    },
    {
      name: "a 400 mentioning a 'rate' parameter stays invalid_request",
      error: () =>
        apiCallError({
          status: 400,
          body: {
            error: { message: "Invalid value for 'sample_rate': must be an integer", type: "invalid_request_error" },
          },
        }),
      expect: { reason: "invalid_request", scope: "request" },
    },
    {
      name: "a 400 that mentions a rate limit in passing is still a bad request",
      error: () =>
        apiCallError({
          status: 400,
          body: { error: { message: "Unknown parameter 'rate_limit_tier'", type: "invalid_request_error" } },
        }),
      expect: { reason: "invalid_request", scope: "request" },
    },
    {
      name: "'HTTP 503' in a message is a labelled status",
      error: () => new Error("Provider request failed with HTTP 503"),
      expect: { reason: "server_error", scope: "endpoint", statusCode: 503 },
    },
    {
      name: "'429 Too Many Requests' status line",
      error: () => "429 Too Many Requests",
      expect: { reason: "rate_limit", scope: "model", statusCode: 429 },
    },
    {
      name: "'429 apples' is not a status line",
      error: () => "I ate 429 apples",
      expect: { reason: "unknown", scope: "model" },
      absent: ["statusCode"],
    },
    {
      name: "DOMException numeric code is not a status",
      error: () => new DOMException("Failed to parse", "SyntaxError"),
      expect: { reason: "unknown", scope: "model" },
      absent: ["statusCode"],
    },
    {
      name: "openai-compatible 'Internal server error' string",
      error: () => "Internal server error",
      expect: { reason: "server_error", scope: "model" },
      absent: ["statusCode"],
    },
  ])
})

describe("odd input never throws", () => {
  const circular: Record<string, unknown> = { message: "loop" }
  circular.cause = circular
  const deep = Array.from({ length: 100 }).reduce<unknown>(
    (cause) => new Error("wrapper", { cause }),
    new Error("bottom"),
  )
  const throwing = new Proxy(
    {},
    {
      get() {
        throw new Error("getter exploded")
      },
      has() {
        throw new Error("has exploded")
      },
    },
  )
  const huge = `{"error":{"message":"${"x".repeat(5_000_000)}"}}`
  const inputs: Array<[string, unknown]> = [
    ["null", null],
    ["undefined", undefined],
    ["number", 42],
    ["bigint", 10n],
    ["symbol", Symbol("s")],
    ["empty string", ""],
    ["empty object", {}],
    ["array", [1, 2, 3]],
    ["function", () => 1],
    ["circular cause", circular],
    ["100-deep cause chain", deep],
    ["throwing proxy", throwing],
    ["huge JSON body", huge],
    ["APICallError with a huge body", apiCallError({ status: 500, body: huge })],
    ["error part with null error", { type: "error", error: null }],
    ["object with a non-string message", { message: { nested: true }, statusCode: "429" }],
  ]
  for (const [name, input] of inputs) {
    test(name, () => {
      assertSafe(classify(input, { now: NOW }))
    })
  }

  test("string statusCode is not trusted", () => {
    expect(classify({ message: "x", statusCode: "429" }).statusCode).toBeUndefined()
  })

  test("property: any value gives a valid, safe reading", () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withMap: true, withSet: true, withNullPrototype: true }), (value) => {
        assertSafe(classify(value))
        assertSafe(classify({ type: "error", error: value }))
        assertSafe(classify(new Error("wrapped", { cause: value })))
      }),
      { numRuns: 300 },
    )
  })

  test("property: random bodies under an HTTP status keep the status's family", () => {
    fc.assert(
      fc.property(fc.constantFrom(401, 500, 502, 529), fc.string(), (status, body) => {
        const result = classify(apiCallError({ status, body }))
        assertSafe(result)
        expect(result.statusCode).toBe(status)
        if (status === 401) expect(result.reason).toBe("auth")
      }),
      { numRuns: 200 },
    )
  })
})

describe("message", () => {
  test("is redacted, one line and capped", () => {
    const result = classify(
      apiCallError({
        status: 401,
        body: {
          error: {
            message: `Invalid key sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAAAAAA for user someone@example.com\n${"detail ".repeat(100)}`,
          },
        },
      }),
    )
    expect(result.message).not.toContain("sk-ant-api03")
    expect(result.message).not.toContain("someone@example.com")
    expect(result.message).toContain("Invalid key")
    expect(result.message.length).toBeLessThanOrEqual(200)
    expect(result.message.endsWith("…")).toBe(true)
  })

  test("never carries request bodies or auth headers from the error", () => {
    const error = apiCallError({
      status: 500,
      headers: { authorization: "Bearer sk-secretsecretsecretsecret", "retry-after": "1" },
      body: "",
      message: "",
    })
    const serialized = JSON.stringify(classify(error))
    expect(serialized).not.toContain("sk-secret")
    expect(serialized).not.toContain("conversation text")
  })

  test("falls back to a reason-specific text", () => {
    expect(classify(apiCallError({ status: 503, message: "" })).message).toBe("Provider server error")
  })
})

// ---------------------------------------------------------------------------------------------------------------
// Errors produced by the real AI SDK against a loopback server

describe("real AI SDK errors (streamText fullStream, loopback server)", () => {
  type Reply = (request: Request) => Response | Promise<Response>
  let reply: Reply = () => new Response("unset", { status: 500 })
  let server: ReturnType<typeof Bun.serve>
  let baseURL = ""

  beforeAll(() => {
    server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => reply(request) })
    baseURL = `http://127.0.0.1:${server.port}/v1`
  })
  afterAll(() => server.stop(true))

  const sse = (events: Array<[string, unknown]>) =>
    events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join("")
  const messageStart = {
    type: "message_start",
    message: {
      id: "msg_1",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5",
      content: [],
      stop_reason: null,
      usage: { input_tokens: 1, output_tokens: 0 },
    },
  }
  const textStart = { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }
  const textDelta = { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hello" } }
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })

  interface Outcome {
    errors: unknown[]
    aborts: unknown[]
    thrown?: unknown
  }

  async function run(
    provider: "anthropic" | "openai-compatible",
    options: { abortSignal?: AbortSignal; url?: string } = {},
  ): Promise<Outcome> {
    const url = options.url ?? baseURL
    const model =
      provider === "anthropic"
        ? createAnthropic({ baseURL: url, apiKey: "test" })("claude-sonnet-4-5")
        : createOpenAICompatible({ name: "loopback", baseURL: url, apiKey: "test" })("some-model")
    const outcome: Outcome = { errors: [], aborts: [] }
    try {
      const result = streamText({
        model,
        prompt: "hi",
        maxRetries: 0,
        abortSignal: options.abortSignal,
        onError: () => {},
      })
      for await (const part of result.fullStream) {
        if (part.type === "error") outcome.errors.push(part.error)
        if (part.type === "abort") outcome.aborts.push(part)
      }
    } catch (error) {
      outcome.thrown = error
    }
    return outcome
  }

  test("anthropic 429 with retry-after → rate_limit, 7 s, status and code", async () => {
    reply = () =>
      json(
        429,
        {
          type: "error",
          error: {
            type: "rate_limit_error",
            message: "Number of request tokens has exceeded your per-minute rate limit",
          },
        },
        { "retry-after": "7" },
      )
    const { errors } = await run("anthropic")
    expect(errors).toHaveLength(1)
    expect(APICallError.isInstance(errors[0])).toBe(true)
    expect(classify(errors[0])).toMatchObject({
      reason: "rate_limit",
      statusCode: 429,
      retryAfterMs: 7000,
      code: "rate_limit_error",
    })
  })

  test("anthropic 529 overloaded → overloaded", async () => {
    reply = () => json(529, { type: "error", error: { type: "overloaded_error", message: "Overloaded" } })
    const { errors } = await run("anthropic")
    expect(classify(errors[0])).toMatchObject({ reason: "overloaded", statusCode: 529 })
  })

  test("anthropic 400 prompt is too long → context_overflow", async () => {
    reply = () =>
      json(400, {
        type: "error",
        error: { type: "invalid_request_error", message: "prompt is too long: 215734 tokens > 200000 maximum" },
      })
    const { errors } = await run("anthropic")
    expect(classify(errors[0])).toMatchObject({ reason: "context_overflow", statusCode: 400 })
  })

  test("anthropic 400 credit balance → quota", async () => {
    reply = () =>
      json(400, {
        type: "error",
        error: {
          type: "invalid_request_error",
          message: "Your credit balance is too low to access the Anthropic API.",
        },
      })
    const { errors } = await run("anthropic")
    expect(classify(errors[0])).toMatchObject({ reason: "quota", statusCode: 400 })
  })

  test("anthropic error as the first SSE event → APICallError 500 with rate_limit body → rate_limit", async () => {
    reply = () =>
      new Response(sse([["error", { type: "error", error: { type: "rate_limit_error", message: "Rate limited" } }]]), {
        headers: { "content-type": "text/event-stream" },
      })
    const { errors } = await run("anthropic")
    expect(APICallError.isInstance(errors[0])).toBe(true)
    expect((errors[0] as APICallError).statusCode).toBe(500)
    expect(classify(errors[0])).toMatchObject({ reason: "rate_limit", code: "rate_limit_error" })
  })

  test("anthropic overloaded_error after text started → plain object part → overloaded, no status", async () => {
    reply = () =>
      new Response(
        sse([
          ["message_start", messageStart],
          ["content_block_start", textStart],
          ["content_block_delta", textDelta],
          ["error", { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }],
        ]),
        {
          headers: { "content-type": "text/event-stream" },
        },
      )
    const { errors } = await run("anthropic")
    expect(APICallError.isInstance(errors[0])).toBe(false)
    const result = classify(errors[0])
    expect(result).toMatchObject({ reason: "overloaded", code: "overloaded_error" })
    expect(result.statusCode).toBeUndefined()
  })

  test("openai-compatible 429 insufficient_quota → quota", async () => {
    reply = () =>
      json(429, {
        error: {
          message: "You exceeded your current quota, please check your plan and billing details.",
          type: "insufficient_quota",
          param: null,
          code: "insufficient_quota",
        },
      })
    const { errors } = await run("openai-compatible")
    expect(classify(errors[0])).toMatchObject({ reason: "quota", statusCode: 429, code: "insufficient_quota" })
  })

  test("openai-compatible in-stream error chunk → string part → classified by its message", async () => {
    const chunk = {
      id: "c",
      object: "chat.completion.chunk",
      created: 1,
      model: "m",
      choices: [{ index: 0, delta: { content: "Hi" } }],
    }
    reply = () =>
      new Response(
        `data: ${JSON.stringify(chunk)}\n\ndata: ${JSON.stringify({ error: { message: "Rate limit exceeded: limit_rpm/google/gemini-2.5-pro", code: 429 } })}\n\n`,
        {
          headers: { "content-type": "text/event-stream" },
        },
      )
    const { errors } = await run("openai-compatible")
    expect(typeof errors[0]).toBe("string")
    expect(classify(errors[0])).toMatchObject({ reason: "rate_limit" })
  })

  test("openai-compatible 403 from Copilot → transient rate_limit with providerID", async () => {
    reply = () => new Response("Forbidden", { status: 403 })
    const { errors } = await run("openai-compatible")
    expect(classify(errors[0], { providerID: "github-copilot" })).toMatchObject({
      reason: "rate_limit",
      statusCode: 403,
    })
    expect(classify(errors[0], { providerID: "openrouter" })).toMatchObject({ reason: "auth", statusCode: 403 })
  })

  test("connection refused → error part → network", async () => {
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") })
    const url = `http://127.0.0.1:${closed.port}/v1`
    closed.stop(true)
    const { errors } = await run("anthropic", { url })
    expect(classify(errors[0])).toMatchObject({ reason: "network" })
  })

  test("connection cut mid-stream → the iterator throws → network", async () => {
    const body = sse([
      ["message_start", messageStart],
      ["content_block_start", textStart],
      ["content_block_delta", textDelta],
    ])
    const raw = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(socket) {
          socket.write(
            `HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n`,
          )
          setTimeout(() => socket.end(), 30)
        },
      },
    })
    try {
      const { thrown, errors } = await run("anthropic", { url: `http://127.0.0.1:${raw.port}/v1` })
      const failure = thrown ?? errors[0]
      expect(failure).toBeDefined()
      expect(classify(failure)).toMatchObject({ reason: "network" })
    } finally {
      raw.stop(true)
    }
  })

  test("AbortSignal.timeout → abort part → timeout; with the signal too", async () => {
    reply = async () => {
      await Bun.sleep(1_000)
      return new Response("late")
    }
    const signal = AbortSignal.timeout(50)
    const { aborts, errors } = await run("anthropic", { abortSignal: signal })
    const part = aborts[0] ?? errors[0]
    expect(classify(part)).toMatchObject({ reason: "timeout" })
    expect(classify(part, { abortSignal: signal })).toMatchObject({ reason: "timeout" })
  })

  test("driver abort with CombinedModelsTimeoutError → timeout; user abort → aborted", async () => {
    reply = async () => {
      await Bun.sleep(1_000)
      return new Response("late")
    }
    const driver = new AbortController()
    setTimeout(() => driver.abort(new CombinedModelsTimeoutError({ phase: "first_byte", afterMs: 50 })), 50)
    const timedOut = await run("anthropic", { abortSignal: driver.signal })
    expect(classify(timedOut.aborts[0] ?? timedOut.errors[0])).toMatchObject({ reason: "timeout" })
    expect(classify(timedOut.aborts[0] ?? timedOut.errors[0], { abortSignal: driver.signal })).toMatchObject({
      reason: "timeout",
    })

    const user = new AbortController()
    setTimeout(() => user.abort(), 50)
    const aborted = await run("anthropic", { abortSignal: user.signal })
    expect(classify(aborted.aborts[0] ?? aborted.errors[0])).toMatchObject({ reason: "aborted" })
    expect(classify(aborted.aborts[0] ?? aborted.errors[0], { abortSignal: user.signal })).toMatchObject({
      reason: "aborted",
    })
  })
})

describe("rate limits read as quota keep their own window's reset", () => {
  runCases([
    {
      name: "per-day rate limit with only a reset header",
      error: () =>
        apiCallError({
          status: 429,
          headers: { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "8m38s" },
          body: {
            error: {
              message: "Rate limit reached on requests per day (RPD): Limit 200, Used 200.",
              code: "rate_limit_exceeded",
            },
          },
        }),
      expect: { reason: "quota", scope: "model", retryAfterMs: 518_000, resetAt: NOW + 518_000 },
    },
  ])
})

test("a stream that ended before the provider finished reads as a broken connection", () => {
  expect(classify(new StreamTruncatedError())).toMatchObject({ reason: "network" })
  expect(StreamTruncatedError.isInstance(new Error("x"))).toBe(false)
})

describe("scope from real bodies (test/fixtures/<provider>), each paired with the same body where it reaches elsewhere", () => {
  interface Recorded {
    status: number
    headers: Record<string, string>
    body: unknown
  }
  const recorded = (path: string): Recorded => JSON.parse(readFileSync(join(import.meta.dir, "fixtures", path), "utf8"))
  /** The recorded failure as the provider's SDK throws it, optionally under another status or without some headers. */
  const thrown = (path: string, change: { status?: number; dropHeaders?: string[] } = {}) => () => {
    const { status, headers, body } = recorded(path)
    const kept = Object.fromEntries(Object.entries(headers).filter(([name]) => !change.dropHeaders?.includes(name)))
    return apiCallError({ status: change.status ?? status, headers: kept, body })
  }
  const on = (providerID: string): ClassifyContext => ({ providerID })

  runCases([
    {
      name: "Copilot 400 model_not_supported: this model at Copilot, on this plan",
      error: thrown("github-copilot/model-not-supported.json"),
      context: on("github-copilot"),
      expect: { reason: "model_unavailable", scope: "model", statusCode: 400, code: "model_not_supported" },
    },
    {
      name: "  paired: the same body under 401 is the credential's",
      error: thrown("github-copilot/model-not-supported.json", { status: 401 }),
      context: on("github-copilot"),
      expect: { reason: "auth", scope: "credential" },
    },
    {
      name: "  paired: the same body under 500 is a server error of that member, not a refusal",
      error: thrown("github-copilot/model-not-supported.json", { status: 500 }),
      context: on("github-copilot"),
      expect: { reason: "server_error", scope: "model" },
    },
    {
      name: "Copilot 429 x-ratelimit-exceeded global-chat: the user's limit across models, named as a rate limit",
      error: thrown("github-copilot/user-wide-rate-limit.json"),
      context: on("github-copilot"),
      expect: { reason: "rate_limit", scope: "credential", retryAfterMs: 7_200_000 },
      absent: ["resetAt"],
    },
    {
      name: "  paired: without the global header, a rate limit of this model",
      error: thrown("github-copilot/user-wide-rate-limit.json", { dropHeaders: ["x-ratelimit-exceeded"] }),
      context: on("github-copilot"),
      expect: { reason: "rate_limit", scope: "model" },
    },
    {
      name: "  paired: the same header from another provider says nothing",
      error: thrown("github-copilot/user-wide-rate-limit.json"),
      context: on("anthropic"),
      expect: { reason: "rate_limit", scope: "model" },
    },
    {
      name: "Copilot 402: the account's quota",
      error: thrown("github-copilot/payment-required.json"),
      context: on("github-copilot"),
      expect: { reason: "quota", scope: "credential", statusCode: 402 },
    },
    {
      name: "Bedrock 403 AccessDeniedException naming the model: this model at Bedrock, not the account",
      error: thrown("amazon-bedrock/access-denied-model.json"),
      context: on("amazon-bedrock"),
      expect: { reason: "model_unavailable", scope: "model", statusCode: 403, code: "AccessDeniedException" },
    },
    {
      name: "  paired: a Bedrock 403 that names no model (a bad token) is the credential's",
      error: thrown("amazon-bedrock/invalid-security-token.json"),
      context: on("amazon-bedrock"),
      expect: { reason: "auth", scope: "credential" },
    },
    {
      name: "  paired: the same words from another provider without Bedrock's headers stay auth",
      error: thrown("amazon-bedrock/access-denied-model.json", { dropHeaders: ["x-amzn-errortype"] }),
      context: on("anthropic"),
      expect: { reason: "auth", scope: "credential" },
    },
    {
      name: "Bedrock 400 ValidationException 'on-demand throughput isn't supported': needs an inference profile",
      error: thrown("amazon-bedrock/on-demand-not-supported.json"),
      context: on("amazon-bedrock"),
      expect: { reason: "model_unavailable", scope: "model", statusCode: 400 },
    },
    {
      name: "  paired: another 400 ValidationException is the request's",
      error: () =>
        apiCallError({
          status: 400,
          headers: { "x-amzn-errortype": "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/" },
          body: { message: "messages.1.content: Field required" },
        }),
      context: on("amazon-bedrock"),
      expect: { reason: "invalid_request", scope: "request" },
    },
    {
      name: "Bedrock 404 ResourceNotFoundException, end of life: this model",
      error: thrown("amazon-bedrock/end-of-life.json"),
      context: on("amazon-bedrock"),
      expect: { reason: "model_unavailable", scope: "model", statusCode: 404 },
    },
    {
      name: "OpenRouter 404 'No endpoints found for …': this model at OpenRouter",
      error: thrown("openrouter/no-endpoints.json"),
      context: on("openrouter"),
      expect: { reason: "model_unavailable", scope: "model", statusCode: 404 },
    },
    {
      name: "  paired: the same words from another provider are a refused request (a bare 404 names no model)",
      error: thrown("openrouter/no-endpoints.json"),
      context: on("anthropic"),
      expect: { reason: "invalid_request", scope: "request" },
    },
    {
      name: "OpenRouter 402 (openrouter_credits): the account's",
      error: thrown("openrouter/insufficient-credits.json"),
      context: on("openrouter"),
      expect: { reason: "quota", scope: "credential", statusCode: 402 },
    },
    {
      name: "Gemini 429 QuotaFailure GenerateRequestsPerDayPerProjectPerModel: quota of this model only",
      error: thrown("google/per-day-per-model-quota.json"),
      context: on("google"),
      expect: { reason: "quota", scope: "model", statusCode: 429 },
    },
    {
      name: "  paired: a Gemini quota counted per project (monthly spend) is the account's",
      error: thrown("google/monthly-spend-quota.json"),
      context: on("google"),
      expect: { reason: "quota", scope: "credential" },
    },
    {
      name: "Anthropic 529 overloaded_error: capacity of that model",
      error: thrown("anthropic/overloaded.json"),
      context: on("anthropic"),
      expect: { reason: "overloaded", scope: "model", statusCode: 529 },
    },
    {
      name: "  paired: a gateway's 503 without the body is the endpoint's",
      error: () => apiCallError({ status: 503, body: "<html><body>503 Service Unavailable</body></html>" }),
      context: on("anthropic"),
      expect: { reason: "server_error", scope: "endpoint" },
    },
    {
      name: "Anthropic 400 credit balance too low: the account's quota",
      error: thrown("anthropic/credit-balance-too-low.json"),
      context: on("anthropic"),
      expect: { reason: "quota", scope: "credential", statusCode: 400 },
    },
    {
      name: "Anthropic 404 not_found_error 'model: …': this model",
      error: thrown("anthropic/model-not-found.json"),
      context: on("anthropic"),
      expect: { reason: "model_unavailable", scope: "model", statusCode: 404 },
    },
    {
      name: "  paired: the same body under 400 is the request's",
      error: thrown("anthropic/model-not-found.json", { status: 400 }),
      context: on("anthropic"),
      expect: { reason: "invalid_request", scope: "request" },
    },
    {
      name: "Anthropic 401: the credential's",
      error: thrown("anthropic/invalid-api-key.json"),
      context: on("anthropic"),
      expect: { reason: "auth", scope: "credential" },
    },
    {
      name: "OpenAI 429 insufficient_quota: the account's",
      error: thrown("openai/insufficient-quota.json"),
      context: on("openai"),
      expect: { reason: "quota", scope: "credential" },
    },
    {
      name: "a key missing in this environment (LoadAPIKeyError): nothing was sent, the request's alone",
      error: () =>
        new LoadAPIKeyError({
          message: "Anthropic API key is missing. Pass it using the 'apiKey' parameter or the ANTHROPIC_API_KEY environment variable.",
        }),
      context: on("anthropic"),
      expect: { reason: "auth", scope: "request" },
    },
    {
      name: "connection refused: the endpoint's",
      error: () => Object.assign(new Error("Unable to connect. Is the computer able to access the url?"), { code: "ConnectionRefused" }),
      expect: { reason: "network", scope: "endpoint" },
    },
  ])
})
