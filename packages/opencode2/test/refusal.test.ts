import { describe, expect, test } from "bun:test"
import { RefusalServer, refusalResponse, refusalStatus } from "../src/refusal.ts"

const MESSAGE = "Every provider of Claude Sonnet 4.5 is out for longer than combined_models.max_wait (10 s); no request was sent:\n- anthropic/claude-sonnet-4-5: rate-limited for 9 min"

describe("the engine's refusal, in each wire's error shape", () => {
  test("a rate limit or quota everywhere answers 429, anything else 503", () => {
    expect(refusalStatus(["rate_limit", "quota"])).toBe(429)
    expect(refusalStatus(["rate_limit", "server_error"])).toBe(503)
    expect(refusalStatus([])).toBe(503)
  })

  test("each wire's body carries the message where its parser reads it", async () => {
    const read = async (path: string, status: 429 | 503) => {
      const response = refusalResponse(path, MESSAGE, status)
      return { status: response.status, type: response.headers.get("x-amzn-errortype"), body: await response.json() }
    }
    expect(await read("/v1/messages", 429)).toEqual({ status: 429, type: null, body: { type: "error", error: { type: "rate_limit_error", message: MESSAGE } } })
    expect(await read("/api/v1/chat/completions", 503)).toEqual({ status: 503, type: null, body: { error: { message: MESSAGE, type: "server_error", code: "unavailable" } } })
    expect(await read("/v1/responses", 429)).toEqual({ status: 429, type: null, body: { error: { message: MESSAGE, type: "rate_limit_exceeded", code: "rate_limit_exceeded" } } })
    expect(await read("/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream", 429)).toEqual({ status: 429, type: "ThrottlingException", body: { message: MESSAGE } })
    expect(await read("/v1beta/models/gemini-3.5-flash:streamGenerateContent", 503)).toEqual({ status: 503, type: null, body: { error: { code: 503, message: MESSAGE, status: "UNAVAILABLE" } } })
  })

  test("the loopback answers a refused request once, on the request's own path, and nothing else", async () => {
    const server = new RefusalServer()
    try {
      const refused = server.refuse(new Request("https://api.anthropic.com/v1/messages?beta=true", { method: "POST", body: "{\"model\":\"x\"}" }), MESSAGE, 429)
      expect(new URL(refused.url).hostname).toBe("127.0.0.1")
      const answer = await fetch(refused.clone())
      expect(answer.status).toBe(429)
      expect(((await answer.json()) as { error: { message: string } }).error.message).toBe(MESSAGE)
      expect((await fetch(refused)).status).toBe(404)
    } finally {
      server.close()
    }
  })
})
