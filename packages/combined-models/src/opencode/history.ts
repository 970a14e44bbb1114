/**
 * Reasoning in the history of a step that failover sent to another member. Upstream turns another model's reasoning
 * into plain assistant text (so the next member reads the last one's chain of thought as its own words) and keeps a
 * same-model reasoning block with its signature. For a request the engine routed, the history a member gets instead
 * carries only the reasoning its own provider produced, signatures and all; reasoning from another provider, and a
 * thinking block cut off by a failure, are left out.
 *
 * Anthropic (and Claude on Bedrock or Copilot) refuses a tool loop whose final assistant message does not start with
 * its own thinking block while thinking is on; such a step runs with thinking off (`withoutBrokenThinking`), which is
 * what the API itself asks for, and the next turn has it on again.
 */

/** The parts of OpenCode's `MessageV2.WithParts` read here. */
export interface HistoryMessage {
  info: { role: string; providerID?: string; modelID?: string }
  parts: readonly HistoryPart[]
}

export interface HistoryPart {
  type: string
  /** A reasoning part's `{ start, end? }`; other parts' `time` has other shapes. */
  time?: unknown
}

/** Where a reasoning part cut off by a failure is marked (its `metadata`, which OpenCode stores with the part). */
const CUT = "combined-models"

/** Marks an open reasoning part (OpenCode's, from the processor's `reasoningMap`) as cut off by a failure. */
export function markCut(part: unknown) {
  if (typeof part !== "object" || part === null) return
  const holder = part as { metadata?: Record<string, unknown> }
  holder.metadata = { ...holder.metadata, [CUT]: { cut: true } }
}

/** A reasoning part that finished: it has an end, and no failure cut it off. */
function ended(part: HistoryPart): boolean {
  const time = part.time
  const metadata = (part as { metadata?: Record<string, { cut?: unknown } | undefined> }).metadata
  if (metadata?.[CUT]?.cut === true) return false
  return typeof time === "object" && time !== null && typeof (time as { end?: unknown }).end === "number"
}

/** The member a request goes to (OpenCode's `Provider.Model`) and what the user selected. */
export interface RequestTarget {
  model: { providerID: string; id: string }
  selection: { providerID: string; modelID: string } | undefined
}

/** Whether the engine routed this request away from the selection (a combined model, or a move down the chain). */
export function routedAway({ model, selection }: RequestTarget): boolean {
  return selection !== undefined && (selection.providerID !== model.providerID || selection.modelID !== model.id)
}

/**
 * The history as the member should see it. Untouched for a request to the selection itself (stock behaviour). For a
 * routed request: each assistant message from the target's provider is marked as the target model's own (so upstream
 * keeps its reasoning and signatures), every other assistant message loses its reasoning, and a reasoning part that
 * never ended (the stream failed inside it) goes wherever it came from.
 */
export function historyFor<M extends HistoryMessage>(messages: readonly M[], target: RequestTarget): M[] {
  if (!routedAway(target)) return messages as M[]
  const { model } = target
  return messages.map((message) => {
    if (message.info.role !== "assistant") return message
    const sameProvider = message.info.providerID === model.providerID
    const parts = message.parts.filter((part) => part.type !== "reasoning" || (sameProvider && ended(part)))
    const info = sameProvider && message.info.modelID !== model.id ? { ...message.info, modelID: model.id } : message.info
    if (parts.length === message.parts.length && info === message.info) return message
    return { ...message, info, parts } as M
  })
}

/** The parts of an AI SDK `ModelMessage` read here. */
export interface ModelMessageLike {
  role: string
  content: unknown
}

/** Provider options that turn Claude's thinking on: Anthropic's (also Copilot's Claude), and Bedrock's. */
const THINKING_OPTIONS = ["thinking", "reasoningConfig"] as const

function startsWithReasoning(content: unknown): boolean {
  return Array.isArray(content) && (content[0] as { type?: unknown } | undefined)?.type === "reasoning"
}

function hasToolCall(content: unknown): boolean {
  return Array.isArray(content) && content.some((part) => (part as { type?: unknown })?.type === "tool-call")
}

function isUserTurn(message: ModelMessageLike): boolean {
  return message.role === "user"
}

/**
 * The provider options for a routed step whose tool loop has no thinking block of the member's own at its start: the
 * same options without thinking. Anything else comes back as it was.
 */
export function withoutBrokenThinking<O extends Record<string, unknown>>(
  options: O,
  input: RequestTarget & { messages: readonly ModelMessageLike[] },
): O {
  if (!routedAway(input) || !THINKING_OPTIONS.some((key) => key in options)) return options
  const lastUser = input.messages.findLastIndex(isUserTurn)
  const loop = input.messages.slice(lastUser + 1).filter((message) => message.role === "assistant")
  const last = loop.at(-1)
  if (!last || !hasToolCall(last.content) || startsWithReasoning(last.content)) return options
  const copy: Record<string, unknown> = { ...options }
  for (const key of THINKING_OPTIONS) delete copy[key]
  return copy as O
}
