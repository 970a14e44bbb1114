import { INTERRUPTED_TOOL_RESULT, type ToolRun } from "combined-models"
/**
 * The tool parts of an attempt that failed after its tools ran, as the next member should see them. OpenCode's
 * processor records a tool call from the stream parts it read; when the stream fails, the AI SDK may already have run
 * a call whose parts never reached the processor (no part at all, or one still pending), and the processor's cleanup
 * marks a call still running as "Tool execution aborted". What the execution itself recorded (`ToolRuns`) settles it:
 * the tool's real result, or a result that says it was interrupted and may have run, so the next member does not run
 * it again blindly.
 */

/** OpenCode's `ToolState`, as far as it is read and written here. */
export type ToolStateLike =
  | { status: "pending"; input: Record<string, unknown>; raw: string }
  | { status: "running"; input: Record<string, unknown>; title?: string; metadata?: Record<string, unknown>; time: { start: number } }
  | {
      status: "completed"
      input: Record<string, unknown>
      output: string
      title: string
      metadata: Record<string, unknown>
      time: { start: number; end: number }
      attachments?: unknown[]
    }
  | { status: "error"; input: Record<string, unknown>; error: string; metadata?: Record<string, unknown>; time: { start: number; end: number } }

/** OpenCode's `ToolPart`. */
export interface ToolPartLike {
  id: string
  messageID: string
  sessionID: string
  type: "tool"
  callID: string
  tool: string
  state: ToolStateLike
  metadata?: Record<string, unknown>
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

/** The processor's reading of a tool's return value (`toolResultOutput` upstream): OpenCode's tools return `{ title, metadata, output }`. */
function resultOf(toolName: string, value: unknown): { title: string; metadata: Record<string, unknown>; output: string; attachments?: unknown[] } {
  if (isRecord(value) && typeof value.output === "string") {
    return {
      title: typeof value.title === "string" ? value.title : toolName,
      metadata: isRecord(value.metadata) ? value.metadata : {},
      output: value.output,
      ...(Array.isArray(value.attachments) && value.attachments.length > 0 ? { attachments: value.attachments } : {}),
    }
  }
  return { title: toolName, metadata: {}, output: typeof value === "string" ? value : (JSON.stringify(value) ?? "") }
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name
  return typeof error === "string" ? error : (JSON.stringify(error) ?? String(error))
}

/** A tool's failure that came from the step's abort (the stream failed under it) rather than from the tool itself. */
function aborted(error: unknown): boolean {
  const name = isRecord(error) || error instanceof Error ? (error as { name?: unknown }).name : undefined
  return name === "AbortError" || /\babort/i.test(errorText(error))
}

/** A call the processor recorded with a result of the tool's own (not cleanup's "aborted" mark). */
function settledByProcessor(part: ToolPartLike): boolean {
  if (part.state.status === "completed") return true
  return part.state.status === "error" && part.state.metadata?.interrupted !== true
}

function interrupted(partial: string | undefined): string {
  return partial?.trim() ? `${INTERRUPTED_TOOL_RESULT}\nOutput before the interruption:\n${partial}` : INTERRUPTED_TOOL_RESULT
}

/**
 * Whether a result the tool returned after the step's abort is what it did before it was stopped. Only when it says
 * so: OpenCode's shell ends its output with "User aborted the command". A tool that does not heed the signal (read,
 * glob, edit…) finishes its work and returns its whole result, which the next member gets as it is.
 */
function stoppedByAbort(run: ToolRun): boolean {
  return run.status === "completed" && run.interrupted === true && resultOf(run.toolName, run.output).output.includes(SHELL_ABORTED)
}

/** What OpenCode's shell tool adds to its output when the abort signal stopped the command. */
const SHELL_ABORTED = "User aborted the command"

function stateFor(run: ToolRun, part: ToolPartLike | undefined, now: number): ToolStateLike {
  const input = isRecord(run.input) ? run.input : { value: run.input }
  const start = run.startedAt
  const partMetadata = part && "metadata" in part.state && isRecord(part.state.metadata) ? part.state.metadata : undefined
  if (run.status === "completed" && !stoppedByAbort(run))
    return { status: "completed", input, ...resultOf(run.toolName, run.output), time: { start, end: run.endedAt } }
  // The metadata's `interrupted` flag would make OpenCode send what the tool printed as if it were the whole result.
  const { interrupted: _flag, ...metadata } = partMetadata ?? {}
  if (run.status === "failed" && !aborted(run.error))
    return { status: "error", input, error: errorText(run.error), metadata, time: { start, end: run.endedAt } }
  // Stopped by the step's abort: what it returned then, or what it printed so far (OpenCode's shell streams that into
  // the part's metadata), under a result that says it may have run.
  const partial =
    run.status === "completed" ? resultOf(run.toolName, run.output).output : typeof partMetadata?.output === "string" ? partMetadata.output : undefined
  return { status: "error", input, error: interrupted(partial), metadata, time: { start, end: run.status === "running" ? now : run.endedAt } }
}

/**
 * The tool parts to write for a continued attempt: one per tool call that ran and that the message does not already
 * hold with the tool's own result. A call the processor never recorded gets a new part (`partID`).
 */
export function toolPartsAfterFailure(input: {
  message: { id: string; sessionID: string }
  parts: readonly ToolPartLike[]
  runs: readonly ToolRun[]
  partID: () => string
  now?: number
}): ToolPartLike[] {
  const now = input.now ?? Date.now()
  const out: ToolPartLike[] = []
  for (const run of input.runs) {
    const part = input.parts.find((candidate) => candidate.callID === run.toolCallId)
    // A result the tool says the step's abort cut short is what it did before it was stopped, whoever recorded it.
    if (part && settledByProcessor(part) && !stoppedByAbort(run)) continue
    const state = stateFor(run, part, now)
    out.push(
      part
        ? { ...part, tool: run.toolName, state }
        : { id: input.partID(), messageID: input.message.id, sessionID: input.message.sessionID, type: "tool", callID: run.toolCallId, tool: run.toolName, state },
    )
  }
  return out
}
