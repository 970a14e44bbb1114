import { describe, expect, test } from "bun:test"
import { classify, decodeFrames, type BedrockStreamException } from "combined-models"
import { encodeFrame } from "../../combined-models/src/wires/aws-event-stream.ts"
import { guardStream, HOLD_TEXT_CHARS, kindOf, StreamEndedEarlyError, wireOf } from "../src/stream-guard.ts"
import { sseResponse as sse } from "./sse.ts"


const anthropic = (name: string, data: unknown) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`
const text = (value: string) => anthropic("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: value } })
const start = anthropic("message_start", { type: "message_start", message: { id: "m" } })
const stop = anthropic("message_stop", { type: "message_stop" })
const overloaded = anthropic("error", { type: "error", error: { type: "overloaded_error", message: "Overloaded" } })
const toolStart = anthropic("content_block_start", { type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "t", name: "shell", input: {} } })
const URL_MESSAGES = "http://127.0.0.1:1/anthropic/v1/messages?beta=true"

async function read(response: Response, chunks: string[] = []): Promise<string[]> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return chunks
    chunks.push(value)
  }
}

describe("wire of a request", () => {
  test("by its path", () => {
    expect(wireOf(URL_MESSAGES)).toBe("anthropic")
    expect(wireOf("http://x/openrouter/v1/chat/completions")).toBe("chat")
    expect(wireOf("http://x/v1/responses")).toBe("responses")
    expect(wireOf("http://x/model/m/converse-stream")).toBeUndefined()
  })
})

describe("event kinds", () => {
  test("chat completions: an error chunk, finish_reason error, tool calls, [DONE]", () => {
    expect(kindOf("chat", { raw: "", data: JSON.stringify({ error: { code: 502, message: "upstream" } }) }).kind).toBe("error")
    expect(kindOf("chat", { raw: "", data: JSON.stringify({ choices: [{ delta: {}, finish_reason: "error" }] }) }).kind).toBe("error")
    expect(kindOf("chat", { raw: "", data: JSON.stringify({ choices: [{ delta: { tool_calls: [{ index: 0 }] } }] }) }).kind).toBe("tool")
    expect(kindOf("chat", { raw: "", data: "[DONE]" }).kind).toBe("end")
  })
  test("Responses: response.failed is an error, response.completed the end", () => {
    expect(kindOf("responses", { raw: "", name: "response.failed", data: "{}" }).kind).toBe("error")
    expect(kindOf("responses", { raw: "", name: "response.completed", data: "{}" }).kind).toBe("end")
  })
})

describe("holding a member's stream back", () => {
  test("a healthy message comes through whole, and is served", async () => {
    let served = 0
    const events = [start, text("Hello "), text("world."), stop]
    const out = await read(guardStream(sse(events), URL_MESSAGES, { served: () => served++ }))
    expect(out.join("")).toBe(events.join(""))
    expect(served).toBe(1)
  })

  test("served says whether the message called tools: the turn goes on from their results", async () => {
    const endings: unknown[] = []
    await read(guardStream(sse([start, text("Done."), stop]), URL_MESSAGES, { served: (_usage, ending) => endings.push(ending) }))
    await read(guardStream(sse([start, toolStart, stop]), URL_MESSAGES, { served: (_usage, ending) => endings.push(ending) }))
    expect(endings).toEqual([{ toolCalls: false }, { toolCalls: true }])
  })

  test("a reader that cancels after the message's end, or stops reading there, still has the step served (once)", async () => {
    // The end, then a body that stays open (as a connection kept alive would), so only a cancel or the grace can end it.
    const open = (events: string[]) =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            for (const event of events) controller.enqueue(new TextEncoder().encode(event))
          },
        }),
        { headers: { "content-type": "text/event-stream" } },
      )
    let served = 0
    const cancelled = guardStream(open([start, text("Done."), stop]), URL_MESSAGES, { served: () => served++, servedGraceMs: 60_000 })
    const reader = cancelled.body!.getReader()
    const seen: string[] = []
    while (!seen.join("").includes("message_stop")) seen.push(new TextDecoder().decode((await reader.read()).value))
    await reader.cancel()
    expect(served).toBe(1)

    let later = 0
    const stopped = guardStream(open([start, text("Done."), stop]), URL_MESSAGES, { served: () => later++, servedGraceMs: 10 })
    const idle = stopped.body!.getReader()
    const read: string[] = []
    while (!read.join("").includes("message_stop")) read.push(new TextDecoder().decode((await idle.read()).value))
    await Bun.sleep(50)
    expect(later).toBe(1)
  })

  test("served once though chat completions end twice; not served when the body breaks or an error follows the end", async () => {
    const chat = (value: unknown) => `data: ${typeof value === "string" ? value : JSON.stringify(value)}\n\n`
    const finish = chat({ choices: [{ delta: {}, finish_reason: "stop" }] })
    const words = chat({ choices: [{ delta: { content: "Done." } }] })
    const URL_CHAT = "http://127.0.0.1:1/openrouter/v1/chat/completions"
    let served = 0
    await read(guardStream(sse([words, finish, chat("[DONE]")]), URL_CHAT, { served: () => served++, servedGraceMs: 5 }))
    await Bun.sleep(30)
    expect(served).toBe(1)

    const breaking = new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(words + finish))
          setTimeout(() => controller.error(new Error("ECONNRESET")), 10)
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    )
    let broken = 0
    await read(guardStream(breaking, URL_CHAT, { served: () => broken++, servedGraceMs: 30 })).catch(() => {})
    await Bun.sleep(60)
    expect(broken).toBe(0)

    let erred = 0
    await read(guardStream(sse([start, text("Done."), stop, overloaded]), URL_MESSAGES, { served: () => erred++, servedGraceMs: 5 }))
    await Bun.sleep(30)
    expect(erred).toBe(0)
  })

  test("a served callback that throws does not fail the answer: it comes whole, and the problem is handed on", async () => {
    const problems: unknown[] = []
    const events = [start, text("Done."), stop]
    const out = await read(guardStream(sse(events), URL_MESSAGES, { served: () => { throw new Error("board broke") }, problem: (error) => problems.push((error as Error).message) }))
    expect(out.join("")).toBe(events.join(""))
    expect(problems).toEqual(["board broke"])
  })

  test("an error after text while it is held: only the error reaches core, the partial text never does", async () => {
    const failures: unknown[] = []
    let served = 0
    const out = await read(guardStream(sse([start, text("Partial "), text("words"), overloaded]), URL_MESSAGES, { served: () => served++, failed: (payload) => failures.push(payload) }))
    expect(out.join("")).toBe(overloaded)
    expect(failures).toEqual([{ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }])
    expect(served).toBe(0)
  })

  test("a tool block is held to the message's end: an error after it drops it", async () => {
    const out = await read(guardStream(sse([start, toolStart, overloaded]), URL_MESSAGES, { served: () => {} }))
    expect(out.join("")).toBe(overloaded)
  })

  test("past the hold, text streams on and a later error is core's", async () => {
    const long = "x".repeat(HOLD_TEXT_CHARS)
    const failures: unknown[] = []
    const out = await read(guardStream(sse([start, text(long), text("more"), overloaded]), URL_MESSAGES, { served: () => {}, failed: (p) => failures.push(p) }))
    expect(out.join("")).toBe([start, text(long), text("more"), overloaded].join(""))
    expect(failures).toEqual([])
  })

  test("events split across chunks are read whole", async () => {
    const whole = [start, text("Hi"), stop].join("")
    const chunks = whole.match(/[\s\S]{1,7}/g)!
    let served = 0
    const out = await read(guardStream(sse(chunks), URL_MESSAGES, { served: () => served++ }))
    expect(out.join("")).toBe(whole)
    expect(served).toBe(1)
  })

  test("a stream that ends before its end event, all of it held: core gets a failure and none of the text", async () => {
    let served = 0
    const out: string[] = []
    const failure = await read(guardStream(sse([start, text("Hi")]), URL_MESSAGES, { served: () => served++ }), out).catch((error) => error)
    expect(failure).toBeInstanceOf(StreamEndedEarlyError)
    expect(out).toEqual([])
    expect(served).toBe(0)
  })

  test("chat completions: a finish_reason ends the message even without [DONE]", async () => {
    let served = 0
    const chunk = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`
    const events = [chunk({ choices: [{ delta: { content: "Hi" } }] }), chunk({ choices: [{ delta: {}, finish_reason: "stop" }] })]
    const out = await read(guardStream(sse(events), "http://x/v1/chat/completions", { served: () => served++ }))
    expect(out.join("")).toBe(events.join(""))
    expect(served).toBe(1)
  })

  test("bytes that are not event-stream frames pass through untouched", async () => {
    let served = 0
    const response = new Response("binary frames", { headers: { "content-type": "application/vnd.amazon.eventstream" } })
    const out = await read(guardStream(response, "http://x/model/m/converse-stream", { served: () => served++ }))
    expect(out.join("")).toBe("binary frames")
    expect(served).toBe(1)
  })
})

/** Bedrock's ConverseStream: binary AWS event-stream frames, encoded as the simulator and Bedrock send them. */
describe("holding a Bedrock ConverseStream back", () => {
  const frame = (type: string, body: unknown) => encodeFrame({ ":event-type": type, ":content-type": "application/json", ":message-type": "event" }, JSON.stringify(body))
  const exception = (type: string, message: string) => encodeFrame({ ":exception-type": type, ":content-type": "application/json", ":message-type": "exception" }, JSON.stringify({ message }))
  const delta = (value: string) => frame("contentBlockDelta", { contentBlockIndex: 0, delta: { text: value } })
  const messageStart = frame("messageStart", { role: "assistant" })
  const messageStop = frame("messageStop", { stopReason: "end_turn" })
  const metadata = frame("metadata", { usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 } })
  const throttling = exception("throttlingException", "Too many tokens, please wait before trying again.")
  const URL_BEDROCK = "http://127.0.0.1:1/amazon-bedrock/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream"
  const bedrock = (chunks: Uint8Array[]) =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(chunk)
          controller.close()
        },
      }),
      { headers: { "content-type": "application/vnd.amazon.eventstream" } },
    )
  async function frames(response: Response) {
    const bytes = new Uint8Array(await response.arrayBuffer())
    return decodeFrames(bytes).frames.map((f) => f.headers[":event-type"] ?? f.headers[":exception-type"])
  }
  const joined = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts))

  test("a healthy message comes through whole, frame for frame, and is served", async () => {
    let served = 0
    const out = await frames(guardStream(bedrock([messageStart, delta("Hello"), delta(" there"), messageStop, metadata]), URL_BEDROCK, { served: () => served++ }))
    expect(out).toEqual(["messageStart", "contentBlockDelta", "contentBlockDelta", "messageStop", "metadata"])
    expect(served).toBe(1)
  })

  /** The body fails with the exception before any frame of it reaches core: a failure before output. */
  async function failure(response: Response) {
    const reader = response.body!.getReader()
    const seen: Uint8Array[] = []
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return { seen: seen.length, error: undefined }
        seen.push(value)
      }
    } catch (error) {
      return { seen: seen.length, error: error as BedrockStreamException }
    }
  }

  test("a throttlingException frame after text while it is held: none of the text reaches core, the body fails with the exception", async () => {
    const failures: unknown[] = []
    let served = 0
    const out = await failure(guardStream(bedrock([messageStart, delta("Partial words"), throttling, messageStop]), URL_BEDROCK, { served: () => served++, failed: (payload) => failures.push(payload) }))
    expect({ seen: out.seen, exception: out.error?.exceptionType }).toEqual({ seen: 0, exception: "throttlingException" })
    expect(served).toBe(0)
    expect(failures.map((failure) => (failure as BedrockStreamException).exceptionType)).toEqual(["throttlingException"])
    expect(classify(failures[0], { now: 0, providerID: "amazon-bedrock" }).reason).toBe("rate_limit")
  })

  test("an event-typed modelStreamErrorException is an error frame too", async () => {
    const failures: unknown[] = []
    const error = frame("modelStreamErrorException", { message: "Received error from the model provider.", originalStatusCode: 500 })
    const out = await failure(guardStream(bedrock([messageStart, delta("Partial"), error]), URL_BEDROCK, { served: () => {}, failed: (payload) => failures.push(payload) }))
    expect({ seen: out.seen, exception: out.error?.exceptionType }).toEqual({ seen: 0, exception: "modelStreamErrorException" })
    expect((failures[0] as BedrockStreamException).originalStatusCode).toBe(500)
  })

  test("frames split anywhere across chunks are read whole", async () => {
    const whole = joined([messageStart, delta("Partial words"), throttling])
    const chunks = [whole.slice(0, 5), whole.slice(5, 40), whole.slice(40, 41), whole.slice(41)]
    const failures: unknown[] = []
    const out = await failure(guardStream(bedrock(chunks), URL_BEDROCK, { served: () => {}, failed: (payload) => failures.push(payload) }))
    expect({ seen: out.seen, exception: out.error?.exceptionType }).toEqual({ seen: 0, exception: "throttlingException" })
    expect(failures).toHaveLength(1)
  })

  test("a tool-use block is held to the message's end", async () => {
    const toolStart = frame("contentBlockStart", { contentBlockIndex: 1, start: { toolUse: { toolUseId: "t", name: "shell" } } })
    const toolDelta = frame("contentBlockDelta", { contentBlockIndex: 1, delta: { toolUse: { input: "{}" } } })
    const out = await failure(guardStream(bedrock([messageStart, toolStart, toolDelta, exception("serviceUnavailableException", "busy")]), URL_BEDROCK, { served: () => {} }))
    expect({ seen: out.seen, exception: out.error?.exceptionType }).toEqual({ seen: 0, exception: "serviceUnavailableException" })
  })

  test("past the hold, text streams on and a later exception is core's", async () => {
    const long = "x".repeat(HOLD_TEXT_CHARS)
    const out = await frames(guardStream(bedrock([messageStart, delta(long), delta("more"), throttling]), URL_BEDROCK, { served: () => {} }))
    expect(out).toEqual(["messageStart", "contentBlockDelta", "contentBlockDelta", "throttlingException"])
  })

  test("a ConverseStream that ends before messageStop, all of it held: core gets a failure, none of the text", async () => {
    const response = guardStream(bedrock([messageStart, delta("Partial")]), URL_BEDROCK, { served: () => {} })
    await expect(response.arrayBuffer()).rejects.toBeInstanceOf(StreamEndedEarlyError)
  })
})
