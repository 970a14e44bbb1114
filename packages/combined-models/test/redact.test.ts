import { describe, expect, test } from "bun:test"
import fc from "fast-check"
import { redact, safeHeaders } from "../src/redact.ts"

describe("redact: secrets are gone", () => {
  const cases: Array<[string, string, string]> = [
    // [name, input, secret that must not survive]
    ["Anthropic key", "invalid x-api-key sk-ant-api03-AbC123dEf456GhI789jKl012MnO345pQr678", "sk-ant-api03"],
    ["OpenAI project key", "Incorrect API key provided: sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234.", "sk-proj-AbCd"],
    ["OpenRouter key", "key sk-or-v1-0123456789abcdef0123456789abcdef0123456789abcdef rejected", "sk-or-v1-0123"],
    ["Bearer token", "Authorization failed for Bearer eyJhbGciOiJIUzI1NiJ9.payload12345.sig", "eyJhbGciOiJIUzI1NiJ9"],
    [
      "authorization header dump",
      '{"authorization":"Bearer abc.def.ghi-secret-value","content-type":"application/json"}',
      "abc.def.ghi-secret-value",
    ],
    ["x-api-key header line", "x-api-key: my-custom-key-value-123", "my-custom-key-value-123"],
    ["x-api-key in JSON", '{"x-api-key": "plainsecretvalue"}', "plainsecretvalue"],
    ["GitHub OAuth token", "token gho_16C7e42F292c6912E7710c838347Ae178B4a rejected", "gho_16C7e42F"],
    ["GitHub PAT", "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", "ghp_wWPw5k4a"],
    ["GitHub fine-grained PAT", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github_pat_11ABC"],
    [
      "AWS access key id",
      "The security token included in the request is invalid: AKIAIOSFODNN7EXAMPLE",
      "AKIAIOSFODNN7EXAMPLE",
    ],
    [
      "Google API key in URL",
      "https://generativelanguage.googleapis.com/v1beta/models/x?alt=sse&key=AIzaSyA1234567890abcdefghijklmnopqrstuv",
      "AIzaSyA1234",
    ],
    ["key= query param", "GET https://example.com/v1?key=hunter2&alt=sse failed", "hunter2"],
    ["access_token query param", "https://example.com/cb?access_token=abc123xyz", "abc123xyz"],
    ["api_key field", 'api_key="s3cr3t-value"', "s3cr3t-value"],
    ["email", "Organization owner someone.name+tag@example.co.uk must verify", "someone.name+tag@example.co.uk"],
    ["credentials in URL", "connect to https://user:p4ssw0rd@proxy.internal:8080 failed", "p4ssw0rd"],
    [
      "long hex secret",
      "secret 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 leaked",
      "9f86d081884c7d659a2f",
    ],
    ["opaque base64 token", "session Zm9vYmFyQmF6UXV4MTIzNDU2Nzg5MEFCQ0RFRkdISUpLTE1O expired", "Zm9vYmFyQmF6UXV4MTIz"],
    [
      "JWT",
      "id_token eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
      "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
    ],
  ]
  for (const [name, input, secret] of cases) {
    test(name, () => {
      const out = redact(input)
      expect(out).not.toContain(secret)
      expect(out).toContain("[redacted]")
    })
  }
})

describe("redact: the message stays useful", () => {
  test("keeps the explanation and the docs URL around a redacted key", () => {
    const out = redact(
      "Incorrect API key provided: sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234. You can find your API key at https://platform.openai.com/account/api-keys.",
    )
    expect(out).toBe(
      "Incorrect API key provided: [redacted]. You can find your API key at https://platform.openai.com/account/api-keys.",
    )
  })

  test("keeps header names so the reader knows what was there", () => {
    expect(redact("x-api-key: abcdefgh12345678")).toBe("x-api-key: [redacted]")
    expect(redact("Authorization: Bearer abcdefgh12345678")).toBe("Authorization: [redacted]")
  })

  const untouched = [
    "prompt is too long: 215734 tokens > 200000 maximum",
    "Rate limit reached for gpt-4o in organization on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 2.5s.",
    "model claude-sonnet-4-5-20250929 is not available",
    "anthropic.claude-3-5-sonnet-20241022-v2:0 not found",
    "https://docs.claude.com/en/api/rate-limits",
    "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
    "The socket connection was closed unexpectedly",
    "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.",
    "Too many tokens, please wait before trying again.",
  ]
  for (const text of untouched) {
    test(`leaves ordinary text alone: ${text.slice(0, 40)}`, () => {
      expect(redact(text)).toBe(text)
    })
  }
})

describe("redact: shape", () => {
  test("one line, trimmed, whitespace collapsed", () => {
    expect(redact("  first line\n\tsecond   line\r\n  ")).toBe("first line second line")
  })

  test("caps length with an ellipsis", () => {
    const out = redact("word ".repeat(200), 50)
    expect(out.length).toBeLessThanOrEqual(50)
    expect(out.endsWith("…")).toBe(true)
  })

  test("default cap is 300", () => {
    expect(redact("lorem ipsum ".repeat(100)).length).toBe(300)
  })

  test("a secret straddling the cap is redacted, never half-shown", () => {
    const text = `${"x ".repeat(140)}sk-ant-api03-AbC123dEf456GhI789jKl012MnO345pQr678`
    const out = redact(text, 300)
    expect(out).not.toContain("sk-ant")
    expect(out).not.toContain("AbC123")
  })

  // How fast is `bun run bench`'s business; this checks the result on a body of megabytes.
  test("a multi-megabyte body is cut and cleaned", () => {
    const out = redact(`${"sk-ant-api03-AbC123dEf456GhI789 ".repeat(100_000)}`)
    expect(out.length).toBeLessThanOrEqual(300)
    expect(out).not.toContain("sk-ant")
  })

  test("empty and non-string input", () => {
    expect(redact("")).toBe("")
    expect(redact(undefined as unknown as string)).toBe("")
    expect(redact(42 as unknown as string)).toBe("")
  })

  test("property: never throws, never longer than the cap, never multi-line", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 2000 }), fc.integer({ min: 1, max: 500 }), (text, max) => {
        const out = redact(text, max)
        expect(out.length).toBeLessThanOrEqual(max)
        expect(out).not.toMatch(/[\n\r]/)
      }),
      { numRuns: 300 },
    )
  })

  test("property: an embedded sk- key never survives", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 100 }),
        fc.stringMatching(/^[A-Za-z0-9]{24,40}$/),
        fc.string({ maxLength: 100 }),
        (before, key, after) => {
          const out = redact(`${before} sk-${key} ${after}`, 1000)
          expect(out).not.toContain(`sk-${key}`)
          expect(out).not.toContain(key.slice(0, 20))
        },
      ),
      { numRuns: 200 },
    )
  })
})

describe("safeHeaders", () => {
  const headers = {
    "Retry-After": "20",
    "retry-after-ms": "20000",
    "x-ratelimit-remaining-tokens": "0",
    "x-ratelimit-reset-tokens": "6m0s",
    "anthropic-ratelimit-input-tokens-reset": "2026-03-01T12:00:45Z",
    "anthropic-ratelimit-unified-status": "rejected",
    "x-request-id": "req_123",
    "request-id": "req_011CU",
    "x-amzn-errortype": "ThrottlingException",
    authorization: "Bearer sk-live-secret",
    "x-api-key": "sk-ant-secret",
    "set-cookie": "session=abc",
    cookie: "a=b",
    "x-goog-api-key": "AIza-secret",
    "openai-organization": "org-private",
    "content-type": "application/json",
    server: "cloudflare",
  }

  test("keeps decision-relevant headers, lower-cased", () => {
    expect(safeHeaders(headers)).toEqual({
      "retry-after": "20",
      "retry-after-ms": "20000",
      "x-ratelimit-remaining-tokens": "0",
      "x-ratelimit-reset-tokens": "6m0s",
      "anthropic-ratelimit-input-tokens-reset": "2026-03-01T12:00:45Z",
      "anthropic-ratelimit-unified-status": "rejected",
      "x-request-id": "req_123",
      "request-id": "req_011CU",
      "x-amzn-errortype": "ThrottlingException",
    })
  })

  test("accepts a Headers instance and entry lists", () => {
    expect(safeHeaders(new Headers({ "Retry-After": "3", Authorization: "Bearer x" }))).toEqual({ "retry-after": "3" })
    expect(
      safeHeaders([
        ["retry-after", "3"],
        ["x-api-key", "k"],
      ]),
    ).toEqual({ "retry-after": "3" })
  })

  test("a rate-limit header name never smuggles a secret value", () => {
    expect(
      safeHeaders({ "x-ratelimit-note": "key sk-ant-api03-AbC123dEf456GhI789jKl012" })["x-ratelimit-note"],
    ).not.toContain("sk-ant")
  })

  test("odd input", () => {
    expect(safeHeaders(undefined)).toEqual({})
    expect(safeHeaders(null)).toEqual({})
    expect(safeHeaders({ "retry-after": undefined, "x-ratelimit-limit": 50 })).toEqual({ "x-ratelimit-limit": "50" })
  })
})
