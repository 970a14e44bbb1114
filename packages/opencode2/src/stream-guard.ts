/**
 * A member's streamed 200, watched as OpenCode reads it. OpenCode 2 replays a failed step in the same message only
 * while nothing of it was shown; an error after output started makes core keep the partial answer and continue in a
 * new message (and a tool already run stays run). So the guard holds a step's events back: text until
 * `HOLD_TEXT_CHARS` of it came (most answers of a tool-using step are shorter than that, and arrive whole), tool
 * blocks until the message's end (a tool runs only once its message has ended well). A failure while everything is
 * still held reaches core as the wire's error event alone, before any output: core retries the step, and the retry
 * hook sends it to the next member on its own wire. A failure after text was released is left to core.
 *
 * Wires read: Anthropic Messages (`/messages`), chat completions (`/chat/completions`, OpenRouter and
 * OpenAI-compatible), OpenAI Responses (`/responses`), all server-sent events; and Amazon Bedrock's ConverseStream,
 * a binary AWS event stream read frame by frame with the engine's decoder (an exception frame, `:message-type`
 * `exception` such as `throttlingException`, or an event-typed `modelStreamErrorException`, is its error event). Any
 * other body passes through untouched and counts as served when it closes.
 *
 * The step's token usage is read from the same events (usage.ts) and handed to `served`.
 */
import { bedrockFrameException, decodeFrames, EventStreamFrameError, type DecodedFrame } from "combined-models"
import { usageOf, UsageTally, type StepUsage, type UsagePart } from "./usage.ts"

export type { StepUsage } from "./usage.ts"

/** A member's 200 stream that ended without its wire's end of message, while nothing of it was released. */
export class StreamEndedEarlyError extends Error {
  override readonly name = "StreamEndedEarlyError"
  constructor() {
    super("the provider's stream ended before its end of message (truncated)")
  }
}

/** Text held back before the answer streams on; a failure after that is core's (a new message). */
export const HOLD_TEXT_CHARS = 4000

export type WireKind = "anthropic" | "chat" | "responses"

export function wireOf(url: string): WireKind | undefined {
  const path = (() => {
    try {
      return new URL(url).pathname
    } catch {
      return url
    }
  })()
  if (/\/messages$/.test(path)) return "anthropic"
  if (/\/chat\/completions$/.test(path)) return "chat"
  if (/\/responses$/.test(path)) return "responses"
  return undefined
}

/** What one server-sent event means for holding back. */
export type EventKind = "text" | "tool" | "error" | "end" | "other"

interface SseEvent {
  raw: string
  name?: string
  data?: string
}

function parseEvent(raw: string): SseEvent {
  let name: string | undefined
  const data: string[] = []
  for (const line of raw.split(/\r?\n/)) {
    if (line.startsWith("event:")) name = line.slice(6).trim()
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""))
  }
  return { raw, name, data: data.length ? data.join("\n") : undefined }
}

function json(data: string | undefined): Record<string, any> | undefined {
  if (!data || data === "[DONE]") return undefined
  try {
    const value = JSON.parse(data)
    return typeof value === "object" && value !== null ? value : undefined
  } catch {
    return undefined
  }
}

/** The kind of one event on a wire, and the text it adds. */
export function kindOf(wire: WireKind, event: SseEvent): { kind: EventKind; text?: string; payload?: unknown } {
  return kindOfBody(wire, event, json(event.data))
}

function kindOfBody(wire: WireKind, event: SseEvent, body: Record<string, any> | undefined): { kind: EventKind; text?: string; payload?: unknown } {
  if (wire === "anthropic") {
    const type = event.name ?? body?.type
    if (type === "error") return { kind: "error", payload: body }
    if (type === "message_stop") return { kind: "end" }
    if (type === "content_block_start" && (body?.content_block?.type === "tool_use" || body?.content_block?.type === "server_tool_use")) return { kind: "tool" }
    if (type === "content_block_delta") {
      const delta = body?.delta
      if (delta?.type === "input_json_delta") return { kind: "tool" }
      const text = delta?.text ?? delta?.thinking
      return typeof text === "string" ? { kind: "text", text } : { kind: "other" }
    }
    return { kind: "other" }
  }
  if (wire === "chat") {
    if (event.data === "[DONE]") return { kind: "end" }
    if (body?.error) return { kind: "error", payload: body }
    const choice = Array.isArray(body?.choices) ? body.choices[0] : undefined
    if (choice?.finish_reason === "error") return { kind: "error", payload: body }
    // The provider's finish (some OpenAI-compatible servers send no [DONE] after it).
    if (typeof choice?.finish_reason === "string" && choice.finish_reason !== "") return { kind: "end" }
    if (choice?.delta?.tool_calls) return { kind: "tool" }
    const text = choice?.delta?.content ?? choice?.delta?.reasoning ?? choice?.delta?.reasoning_content
    if (typeof text === "string" && text !== "") return { kind: "text", text }
    return { kind: "other" }
  }
  const type = event.name ?? body?.type
  if (type === "error" || type === "response.failed") return { kind: "error", payload: body }
  if (type === "response.completed" || type === "response.incomplete") return { kind: "end" }
  if (typeof type === "string" && /function_call|tool/.test(type)) return { kind: "tool" }
  if (type === "response.output_text.delta" || type === "response.reasoning_summary_text.delta")
    return typeof body?.delta === "string" ? { kind: "text", text: body.delta } : { kind: "other" }
  return { kind: "other" }
}

export interface GuardOptions {
  /**
   * The message ended as the provider ends one; with the step's tokens when the stream reported them, and whether it
   * called tools (the turn then goes on with their results; undefined when the body was not the wire's events).
   */
  served: (usage?: StepUsage, ending?: { toolCalls: boolean }) => void
  /** The member failed inside its 200 while everything was held: its error payload, before core sees it. */
  failed?: (payload: unknown) => void
  /** `served` threw: said, never raised into the stream OpenCode reads. */
  problem?: (error: unknown) => void
  /** How long after the end of message `served` waits for the body's close (default `SERVED_GRACE_MS`). */
  servedGraceMs?: number
}

/** How long the end of a message waits for the body to close before the step counts as served anyway. */
export const SERVED_GRACE_MS = 1_000

const encoder = new TextEncoder()

/** One event of a wire as it came (its bytes, released as they are) and what it means for holding back. */
interface Unit {
  bytes: Uint8Array
  kind: EventKind
  text?: string
  payload?: unknown
  /** Tokens this event reports (usage.ts). */
  usage?: UsagePart
  /** Bytes the splitter could not read as events: they and everything after pass through as they came. */
  opaque?: true
}

/** Cuts a body into whole events: `push` each chunk, `flush` at the end. */
interface Splitter {
  push(chunk: Uint8Array): Unit[]
  flush(): Unit[]
  /**
   * A failure while everything is held ends the body with that error instead of handing core the error event: core's
   * reading of a lone event differs between releases (2.1.2 reads Bedrock's exception frame as an invalid request and
   * retries nothing), a broken body is a failure before output on every release.
   */
  failsBody?: true
}

/** Server-sent events (Anthropic Messages, chat completions, Responses). */
function sseSplitter(wire: WireKind): Splitter {
  const decoder = new TextDecoder()
  let buffer = ""
  const unit = (raw: string): Unit => {
    const event = parseEvent(raw)
    const body = json(event.data)
    const type = event.name ?? (typeof body?.type === "string" ? body.type : undefined)
    return { bytes: encoder.encode(raw), ...kindOfBody(wire, event, body), usage: usageOf(wire, type, body) }
  }
  return {
    push(chunk) {
      buffer += decoder.decode(chunk, { stream: true })
      const units: Unit[] = []
      for (;;) {
        const at = boundary(buffer)
        if (!at) break
        units.push(unit(buffer.slice(0, at.end)))
        buffer = buffer.slice(at.end)
      }
      return units
    },
    flush() {
      buffer += decoder.decode()
      const rest = buffer
      buffer = ""
      return rest.trim() ? [unit(rest)] : []
    },
  }
}

/** What one ConverseStream frame means: text and reasoning deltas, tool-use blocks, the end, or an exception. */
export function bedrockKindOf(frame: DecodedFrame): { kind: EventKind; text?: string; payload?: unknown; usage?: UsagePart } {
  const exception = bedrockFrameException(frame)
  if (exception) return { kind: "error", payload: exception }
  if (frame.headers[":message-type"] !== "event") return { kind: "other" }
  const type = frame.headers[":event-type"]
  let body: Record<string, any> | undefined
  try {
    body = JSON.parse(new TextDecoder().decode(frame.payload))
  } catch {
    body = undefined
  }
  if (type === "messageStop") return { kind: "end" }
  if (type === "metadata") {
    const usage = usageOf("bedrock", type, body)
    return usage ? { kind: "other", usage } : { kind: "other" }
  }
  if (type === "contentBlockStart" && body?.start?.toolUse) return { kind: "tool" }
  if (type === "contentBlockDelta") {
    const delta = body?.delta
    if (delta?.toolUse) return { kind: "tool" }
    const text = delta?.text ?? delta?.reasoningContent?.text
    return typeof text === "string" ? { kind: "text", text } : { kind: "other" }
  }
  return { kind: "other" }
}

/**
 * Bedrock's binary event stream (`application/vnd.amazon.eventstream`), read with the engine's frame decoder. Bytes
 * that are not frames (a CRC that does not add up) end the holding back: what is held and the rest go out as they
 * came, and core reads them its own way.
 */
function eventStreamSplitter(): Splitter {
  let buffer: Uint8Array = new Uint8Array(0)
  let broken = false
  return {
    failsBody: true,
    push(chunk) {
      if (broken) return [{ bytes: chunk, kind: "other", opaque: true }]
      const joined = new Uint8Array(buffer.length + chunk.length)
      joined.set(buffer)
      joined.set(chunk, buffer.length)
      try {
        const { frames, rest } = decodeFrames(joined)
        buffer = rest.slice()
        let at = 0
        return frames.map((frame) => {
          const bytes = joined.slice(at, at + frame.size)
          at += frame.size
          return { bytes, ...bedrockKindOf(frame) }
        })
      } catch (error) {
        if (!(error instanceof EventStreamFrameError)) throw error
        broken = true
        buffer = new Uint8Array(0)
        return [{ bytes: joined, kind: "other", opaque: true }]
      }
    },
    flush() {
      const rest = buffer
      buffer = new Uint8Array(0)
      return rest.length ? [{ bytes: rest, kind: "other", opaque: true }] : []
    },
  }
}

/** The splitter for a member's 200, or undefined for a body the guard does not read (it passes through). */
function splitterFor(response: Response, url: string): Splitter | undefined {
  const type = response.headers.get("content-type") ?? ""
  if (type.includes("application/vnd.amazon.eventstream")) return eventStreamSplitter()
  const wire = wireOf(url)
  return wire && type.includes("text/event-stream") ? sseSplitter(wire) : undefined
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((size, part) => size + part.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

export function guardStream(response: Response, url: string, options: GuardOptions): Response {
  // What `served` does (the status board, the session's record, routing the next step) must not turn an answer that
  // came whole into a failed stream: a throw there is ours, and is reported, not raised into core's read.
  let servedAlready = false
  let grace: ReturnType<typeof setTimeout> | undefined
  const servedOnce: GuardOptions["served"] = (usage, ending) => {
    if (grace) clearTimeout(grace)
    if (servedAlready) return
    servedAlready = true
    try {
      options.served(usage, ending)
    } catch (error) {
      options.problem?.(error)
    }
  }
  const body = response.body
  const splitter = body ? splitterFor(response, url) : undefined
  if (!body || !splitter) {
    if (!body) {
      servedOnce()
      return response
    }
    return new Response(passThrough(body, () => servedOnce()), { status: response.status, statusText: response.statusText, headers: response.headers })
  }
  const reader = body.getReader()
  const tally = new UsageTally()
  /** Events not yet released. */
  let held: Unit[] = []
  let heldText = 0
  /** Text streams on (past the hold); tool blocks are still held to the message's end. */
  let streaming = false
  let ended = false
  let failed = false
  /** The body is not the wire's events after all: it passes through, and counts as served when it closes. */
  let opaque = false
  const heldTool = () => held.some((unit) => unit.kind === "tool")
  let toolCalls = false
  /** The body failed (a broken connection, an error event): whatever came before its end, the step was not served. */
  let broken = false

  /** One event: what to release now. */
  function take(unit: Unit): Uint8Array[] {
    tally.add(unit.usage)
    if (unit.kind === "tool") toolCalls = true
    if (opaque || unit.opaque) {
      opaque = true
      const release = [...held.map((u) => u.bytes), unit.bytes]
      held = []
      return release
    }
    if (unit.kind === "error") {
      // An error even after the end: the step is not served (core reads the error).
      broken = true
      if (grace) clearTimeout(grace)
      if (streaming) return [unit.bytes]
      // Nothing was released: drop what was held and hand core only the error, as a failure before output.
      failed = true
      held = []
      options.failed?.(unit.payload)
      return [unit.bytes]
    }
    if (unit.kind === "end") {
      ended = true
      // The usage some wires send after their end (chat completions' usage chunk, Bedrock's metadata) comes at once;
      // a reader that stops reading at the end (or cancels) still has the step counted as served.
      // Once: chat completions end twice (the finish_reason chunk, then [DONE]).
      if (!grace && !servedAlready) {
        grace = setTimeout(() => {
          if (!failed && !broken) servedOnce(tally.usage(), { toolCalls })
        }, options.servedGraceMs ?? SERVED_GRACE_MS)
        ;(grace as { unref?: () => void }).unref?.()
      }
      const release = [...held.map((u) => u.bytes), unit.bytes]
      held = []
      return release
    }
    if (streaming && unit.kind !== "tool" && !heldTool()) return [unit.bytes]
    held.push(unit)
    if (unit.kind === "text") heldText += unit.text?.length ?? 0
    if (!streaming && heldText >= HOLD_TEXT_CHARS && !heldTool()) {
      streaming = true
      const release = held.map((u) => u.bytes)
      held = []
      return release
    }
    return []
  }

  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>
        try {
          chunk = await reader.read()
        } catch (error) {
          // The connection broke. With everything held, core sees a transport failure before any output; after the
          // end, core's read fails all the same: not served.
          broken = true
          if (grace) clearTimeout(grace)
          controller.error(error)
          return
        }
        if (chunk.done) {
          const out: Uint8Array[] = []
          for (const unit of splitter!.flush()) if (!failed) out.push(...take(unit))
          if (!failed) {
            // The body ended without the wire's end of message (a truncated stream) while all of it was held: core
            // gets a failure before any output, as for a broken connection, and the retry hook moves the step on.
            if (!ended && !streaming && !opaque) {
              controller.error(new StreamEndedEarlyError())
              return
            }
            // Past the hold, what is left goes out as it came: core reads the rest its own way.
            out.push(...held.map((u) => u.bytes))
            held = []
          }
          if (out.length) controller.enqueue(concat(out))
          if (!failed && !broken && (ended || opaque)) servedOnce(tally.usage(), opaque ? undefined : { toolCalls })
          controller.close()
          return
        }
        const out: Uint8Array[] = []
        for (const unit of splitter!.push(chunk.value)) {
          out.push(...take(unit))
          if (failed) {
            void reader.cancel().catch(() => {})
            if (splitter!.failsBody) {
              controller.error(unit.payload instanceof Error ? unit.payload : new Error("the provider failed inside its stream"))
              return
            }
            if (out.length) controller.enqueue(concat(out))
            controller.close()
            return
          }
        }
        if (out.length) {
          controller.enqueue(concat(out))
          return
        }
      }
    },
    cancel(reason) {
      // Core stopped reading after the message's end: the step was served all the same.
      if (ended && !failed && !broken) servedOnce(tally.usage(), { toolCalls })
      return reader.cancel(reason)
    },
  })
  return new Response(stream, { status: response.status, statusText: response.statusText, headers: response.headers })
}

/** The end of the first complete event in `text` (a blank line), if any. */
function boundary(text: string): { end: number } | undefined {
  const lf = text.indexOf("\n\n")
  const crlf = text.indexOf("\r\n\r\n")
  if (lf < 0 && crlf < 0) return undefined
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { end: crlf + 4 }
  return { end: lf + 2 }
}

function passThrough(body: ReadableStream<Uint8Array>, served: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read()
      if (done) {
        controller.close()
        served()
        return
      }
      controller.enqueue(value)
    },
    cancel(reason) {
      return reader.cancel(reason)
    },
  })
}
