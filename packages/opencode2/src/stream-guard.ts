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
 * OpenAI-compatible), OpenAI Responses (`/responses`). Any other body (Bedrock's binary event stream) passes through
 * untouched and counts as served when it closes.
 */

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
  const body = json(event.data)
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
  /** The message ended as the provider ends one. */
  served: () => void
  /** The member failed inside its 200 while everything was held: its error payload, before core sees it. */
  failed?: (payload: unknown) => void
}

const encoder = new TextEncoder()

export function guardStream(response: Response, url: string, options: GuardOptions): Response {
  const body = response.body
  const wire = wireOf(url)
  if (!body || !wire || !(response.headers.get("content-type") ?? "").includes("text/event-stream")) {
    if (!body) {
      options.served()
      return response
    }
    return new Response(passThrough(body, options.served), { status: response.status, statusText: response.statusText, headers: response.headers })
  }
  const reader = body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  /** Events not yet released. */
  let held: string[] = []
  let heldText = 0
  /** Text streams on (past the hold); tool blocks are still held to the message's end. */
  let streaming = false
  let ended = false
  let failed = false

  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        let chunk: ReadableStreamReadResult<string>
        try {
          chunk = await reader.read()
        } catch (error) {
          // The connection broke. With everything held, core sees a transport failure before any output.
          controller.error(error)
          return
        }
        if (chunk.done) {
          if (buffer.trim()) take(buffer)
          buffer = ""
          if (!failed) {
            // The body ended without the wire's end of message (a truncated stream) while all of it was held: core
            // gets a failure before any output, as for a broken connection, and the retry hook moves the step on.
            if (!ended && !streaming) {
              controller.error(new StreamEndedEarlyError())
              return
            }
            // Past the hold, what is left goes out as it came: core reads the rest its own way.
            if (held.length) controller.enqueue(encoder.encode(held.join("")))
            held = []
            if (ended) options.served()
          }
          controller.close()
          return
        }
        buffer += chunk.value
        let out = ""
        for (;;) {
          const at = boundary(buffer)
          if (!at) break
          const raw = buffer.slice(0, at.end)
          buffer = buffer.slice(at.end)
          out += take(raw)
          if (failed) {
            if (out) controller.enqueue(encoder.encode(out))
            controller.close()
            void reader.cancel().catch(() => {})
            return
          }
        }
        if (out) {
          controller.enqueue(encoder.encode(out))
          return
        }
      }

      /** One event: what to release now. */
      function take(raw: string): string {
        const event = parseEvent(raw)
        const { kind, text, payload } = kindOf(wire!, event)
        if (kind === "error") {
          if (streaming) return raw
          // Nothing was released: drop what was held and hand core only the error, as a failure before output.
          failed = true
          held = []
          options.failed?.(payload)
          return raw
        }
        if (kind === "end") {
          ended = true
          const release = held.join("") + raw
          held = []
          return release
        }
        if (streaming && kind !== "tool" && !held.some(isTool)) return raw
        held.push(raw)
        if (kind === "tool") toolEvents.add(raw)
        if (kind === "text") heldText += text?.length ?? 0
        if (!streaming && heldText >= HOLD_TEXT_CHARS && !held.some(isTool)) {
          streaming = true
          const release = held.join("")
          held = []
          return release
        }
        return ""
      }
    },
    cancel(reason) {
      return reader.cancel(reason)
    },
  })
  const toolEvents = new Set<string>()
  const isTool = (raw: string) => toolEvents.has(raw)
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
