import { describe, expect, test } from "bun:test"
import fc from "fast-check"
import { encodeFrame } from "../src/wires/aws-event-stream.ts"
import { classify } from "../src/classify.ts"
import {
  BedrockStreamException,
  fetchForSdk,
  GoogleStreamError,
  ResponseFailedError,
  watchBedrockStream,
  watchGoogleStream,
} from "../src/wires/index.ts"

/** A fetch that answers with `bytes` cut into the given pieces. */
function answering(bytes: Uint8Array, cuts: number[], contentType: string) {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b)
  const pieces: Uint8Array[] = []
  let at = 0
  for (const point of [...points, bytes.length]) {
    if (point > at) pieces.push(bytes.slice(at, point))
    at = Math.max(at, point)
  }
  return (async () =>
    new Response(
      new ReadableStream({
        start(controller) {
          for (const piece of pieces) controller.enqueue(piece)
          controller.close()
        },
      }),
      { headers: { "content-type": contentType } },
    )) as unknown as typeof fetch
}

async function drain(response: Response): Promise<{ bytes: Uint8Array; error?: unknown }> {
  const reader = response.body!.getReader()
  const parts: number[] = []
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return { bytes: new Uint8Array(parts) }
      parts.push(...value)
    }
  } catch (error) {
    return { bytes: new Uint8Array(parts), error }
  }
}

const concat = (...chunks: Uint8Array[]) => new Uint8Array(chunks.flatMap((chunk) => [...chunk]))
const utf8 = (text: string) => new TextEncoder().encode(text)

const event = (type: string, payload: unknown) =>
  encodeFrame({ ":event-type": type, ":content-type": "application/json", ":message-type": "event" }, JSON.stringify(payload))
const bedrockText = concat(event("messageStart", { role: "assistant" }), event("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "Héllo " } }))
const throttling = encodeFrame({ ":message-type": "exception", ":exception-type": "throttlingException" }, '{"message":"Too many tokens"}')

const geminiText = utf8('data: {"candidates":[{"content":{"parts":[{"text":"Héllo "}],"role":"model"}}]}\r\n\r\n')
const geminiError = utf8('data: {"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}\r\n\r\n')

describe("stream watchers pass a healthy body through byte for byte, however it is cut", () => {
  test("Bedrock event stream", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 8 }), async (cuts) => {
        const watched = watchBedrockStream(answering(bedrockText, cuts, "application/vnd.amazon.eventstream"))
        const { bytes, error } = await drain(await watched("http://127.0.0.1/model/x/converse-stream"))
        expect(error).toBeUndefined()
        expect(bytes).toEqual(bedrockText)
      }),
      { numRuns: 60 },
    )
  })

  test("Gemini SSE", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 8 }), async (cuts) => {
        const watched = watchGoogleStream(answering(geminiText, cuts, "text/event-stream"))
        const { bytes, error } = await drain(await watched("http://127.0.0.1/x"))
        expect(error).toBeUndefined()
        expect(bytes).toEqual(geminiText)
      }),
      { numRuns: 60 },
    )
  })
})

describe("the first failing frame fails the body, after the frames before it", () => {
  test("a Bedrock exception frame, however the bytes are cut", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 8 }), async (cuts) => {
        const body = concat(bedrockText, throttling)
        const watched = watchBedrockStream(answering(body, cuts, "application/vnd.amazon.eventstream"))
        const { bytes, error } = await drain(await watched("http://127.0.0.1/model/x/converse-stream"))
        expect(BedrockStreamException.isInstance(error) && error.exceptionType).toBe("throttlingException")
        expect(bytes).toEqual(bedrockText)
      }),
      { numRuns: 60 },
    )
  })

  test("a Gemini {error} chunk", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 8 }), async (cuts) => {
        const watched = watchGoogleStream(answering(concat(geminiText, geminiError), cuts, "text/event-stream"))
        const { bytes, error } = await drain(await watched("http://127.0.0.1/x"))
        expect(GoogleStreamError.isInstance(error) && error.body.error.status).toBe("UNAVAILABLE")
        expect(bytes).toEqual(geminiText)
      }),
      { numRuns: 60 },
    )
  })
})

test("bytes that are not event-stream frames pass through as they came", async () => {
  const garbage = utf8("this is not an event stream at all, just text that is long enough")
  const watched = watchBedrockStream(answering(garbage, [3, 20], "application/vnd.amazon.eventstream"))
  const { bytes, error } = await drain(await watched("http://127.0.0.1/model/x/converse-stream"))
  expect(error).toBeUndefined()
  expect(bytes).toEqual(garbage)
})

test("errors and other content types are not touched", async () => {
  const json = utf8('{"message":"Too many requests"}')
  const inner = (async () => new Response(json, { status: 429, headers: { "content-type": "application/json" } })) as unknown as typeof fetch
  const response = await watchBedrockStream(inner)("http://127.0.0.1/model/x/converse-stream")
  expect(response.status).toBe(429)
  expect(await response.text()).toBe('{"message":"Too many requests"}')
})

test("a response.failed event fails a Copilot Responses stream; one fetch watches every SDK of the provider", async () => {
  const delta = utf8('event: response.output_text.delta\ndata: {"type":"response.output_text.delta","item_id":"m","delta":"Half"}\n\n')
  const failed = utf8(
    'event: response.failed\ndata: {"type":"response.failed","sequence_number":4,"response":{"status":"failed","error":{"code":"server_error","message":"boom"}}}\n\n',
  )
  // Copilot: Claude models on @ai-sdk/anthropic, the rest on @ai-sdk/github-copilot, one provider-level fetch.
  const watched = fetchForSdk(["@ai-sdk/anthropic", "@ai-sdk/github-copilot"], answering(concat(delta, failed), [7, 40], "text/event-stream"))!
  const { bytes, error } = await drain(await watched("http://127.0.0.1/responses"))
  expect(ResponseFailedError.isInstance(error)).toBe(true)
  expect(bytes).toEqual(delta)
  expect(classify(error)).toMatchObject({ reason: "server_error" })
  // Wrapped once, however often the provider is loaded.
  expect(fetchForSdk(["@ai-sdk/github-copilot"], watched)).toBe(watched)
  expect(fetchForSdk(["@ai-sdk/anthropic"])).toBeUndefined()
})

test("bytes that are not frames are passed on at once, not held for a frame length they happen to spell", async () => {
  const garbage = utf8('{"message":"this is JSON under the event-stream content type"}')
  // A body that stays open: held bytes would never come out.
  const inner = (async () =>
    new Response(new ReadableStream({ start: (controller) => controller.enqueue(garbage) }), {
      headers: { "content-type": "application/vnd.amazon.eventstream" },
    })) as unknown as typeof fetch
  const reader = (await watchBedrockStream(inner)("http://127.0.0.1/model/x/converse-stream")).body!.getReader()
  const first = await Promise.race([reader.read(), Bun.sleep(500).then(() => "held")])
  expect(first).not.toBe("held")
  expect((first as { value: Uint8Array }).value).toEqual(garbage)
  await reader.cancel()
})
