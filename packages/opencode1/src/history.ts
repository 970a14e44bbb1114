import { modelIdentity } from "combined-models"
/**
 * Reasoning in the history of a step that failover sent to another member. Upstream turns another model's reasoning
 * into plain assistant text (so the next member reads the last one's chain of thought as its own words) and keeps a
 * same-model reasoning block with its signature. For a request the engine routed, the history a member gets instead
 * carries only the reasoning the same model at the same provider produced, signatures and all; reasoning from another
 * provider or another model of that provider, and a thinking block cut off by a failure, are left out. Providers bind
 * a thinking signature to the model that wrote it: Anthropic answers Sonnet's signed thinking sent to Haiku with a 400
 * "Invalid `signature` in `thinking` block". The same model is told by the grouping's identity (`identity.ts`), so an
 * alias and its dated snapshot (`claude-sonnet-4-5`, `-20250929`) and Bedrock's region profiles of one model
 * (`us.`/`eu.`/`global.anthropic.claude-…-v1:0`) share their reasoning.
 *
 * A member that refuses reasoning written under another of its spellings anyway (the 400 above) is sent, for the rest
 * of the session, only the reasoning written under its own exact id (`keepOwnReasoningOnly`): the engine resends the
 * refused step once that way instead of ending the turn.
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
  /** The session the request is for: a member that refused borrowed reasoning in it gets only its own. */
  sessionID?: string
}

/** Whether the engine routed this request away from the selection (a combined model, or a move down the chain). */
export function routedAway({ model, selection }: RequestTarget): boolean {
  return selection !== undefined && (selection.providerID !== model.providerID || selection.modelID !== model.id)
}

/** The grouping's identity key of a model id (no name to check it against), or the id itself when it has none. */
function identityKey(modelID: string): string {
  return modelIdentity({ providerID: "", modelID, name: "" })?.key ?? `id:${modelID}`
}

/**
 * Whether a message written by `written` is the same model at the same provider as `target`: the same provider, and
 * the same id or two spellings of one model (alias and dated snapshot, Bedrock region profiles). A model the identity
 * cannot vouch for (a moving alias, a free tier) is only itself.
 */
export function sameModel(written: { providerID?: string; modelID?: string }, target: { providerID: string; id: string }): boolean {
  if (written.providerID !== target.providerID || written.modelID === undefined) return false
  return written.modelID === target.id || identityKey(written.modelID) === identityKey(target.id)
}

/**
 * Members that refused reasoning written under another of their spellings, by session: they get only their own.
 * Bounded like the session routes; the least recently marked sessions go first.
 */
const ownReasoningOnly = new Map<string, Set<string>>()
const MAX_SESSIONS = 1_000

/** From now on this session sends `member` only the reasoning written under its own exact id. */
export function keepOwnReasoningOnly(sessionID: string, member: { providerID: string; modelID: string }) {
  const members = ownReasoningOnly.get(sessionID) ?? new Set<string>()
  members.add(`${member.providerID}/${member.modelID}`)
  ownReasoningOnly.delete(sessionID)
  ownReasoningOnly.set(sessionID, members)
  for (const oldest of ownReasoningOnly.keys()) {
    if (ownReasoningOnly.size <= MAX_SESSIONS) break
    ownReasoningOnly.delete(oldest)
  }
}

/** Tests start with no member marked. */
export function resetOwnReasoningOnly() {
  ownReasoningOnly.clear()
}

function takesOnlyItsOwn({ sessionID, model }: RequestTarget): boolean {
  return sessionID !== undefined && ownReasoningOnly.get(sessionID)?.has(`${model.providerID}/${model.id}`) === true
}

/**
 * The history as the member should see it. Untouched for a request to the selection itself (stock behaviour). For a
 * routed request: each assistant message from the same model at the target's provider is marked as the target's own
 * (so upstream keeps its reasoning and signatures), every other assistant message loses its reasoning (and keeps its
 * own model id, so upstream sends none of its provider metadata either), and a reasoning part that never ended (the
 * stream failed inside it) goes wherever it came from.
 */
export function historyFor<M extends HistoryMessage>(messages: readonly M[], target: RequestTarget): M[] {
  if (!routedAway(target)) return messages as M[]
  const { model } = target
  const exactOnly = takesOnlyItsOwn(target)
  return messages.map((message) => {
    if (message.info.role !== "assistant") return message
    const own = exactOnly
      ? message.info.providerID === model.providerID && message.info.modelID === model.id
      : sameModel(message.info, model)
    const parts = message.parts.filter((part) => part.type !== "reasoning" || (own && ended(part)))
    const info = own && message.info.modelID !== model.id ? { ...message.info, modelID: model.id } : message.info
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
