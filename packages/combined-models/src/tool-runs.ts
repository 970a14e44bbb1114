/**
 * Tool executions of one step, recorded where they start. The AI SDK runs a tool (`execute`) as soon as it has parsed
 * the call, while the caller may still be reading earlier parts of the stream; when the stream then fails, the parts
 * the caller had not read (the tool call, its result) are dropped with it. So whether a tool ran, and what it returned,
 * is taken from the execution itself: `watch` wraps each tool's `execute`, and the step's edge learns of every call
 * the moment it starts. The OpenCode adapter and the rehearsal driver both wrap their tools this way.
 */

/** What the result of a tool call is for the next member, when the provider failed before the call finished. */
export const INTERRUPTED_TOOL_RESULT =
  "Interrupted: the provider failed before this tool call finished. It may have run; check before repeating it."

export type ToolRun = {
  toolCallId: string
  toolName: string
  input: unknown
  startedAt: number
} & (
  | { status: "running" }
  /**
   * `interrupted`: the step's abort signal had fired when the tool returned (the stream failed under it). Whether it
   * cut the tool short is the tool's to say (OpenCode's shell adds "User aborted the command"); one that ignores the
   * signal returns its whole result.
   */
  | { status: "completed"; output: unknown; endedAt: number; interrupted?: boolean }
  | { status: "failed"; error: unknown; endedAt: number }
)

/** A tool as the AI SDK holds it: only `execute` is read. */
interface ExecutableTool {
  execute?: (input: never, options: never) => unknown
}

export class ToolRuns {
  readonly #runs = new Map<string, ToolRun>()
  readonly #settled = new Map<string, Promise<void>>()
  readonly #watched = new WeakMap<object, object>()

  constructor(
    private readonly options: {
      /** Told the moment a call starts running. */
      onStart?: (toolCallId: string) => void
      clock?: () => number
    } = {},
  ) {}

  /** Every call that started, in the order they started. */
  get runs(): readonly ToolRun[] {
    return [...this.#runs.values()]
  }

  get(toolCallId: string): ToolRun | undefined {
    return this.#runs.get(toolCallId)
  }

  /**
   * The same tools, each `execute` recording its call. The same tool set gives back the same wrapped set, so a
   * stream started again with the same input (OpenCode's stock retry) is not wrapped twice.
   */
  watch<T extends Record<string, unknown>>(tools: T): T
  watch<T extends Record<string, unknown>>(tools: T | undefined): T | undefined
  watch<T extends Record<string, unknown>>(tools: T | undefined): T | undefined {
    if (!tools) return tools
    const known = this.#watched.get(tools)
    if (known) return known as T
    const wrapped: Record<string, unknown> = {}
    for (const [name, tool] of Object.entries(tools)) wrapped[name] = this.#wrap(name, tool)
    this.#watched.set(tools, wrapped)
    return wrapped as T
  }

  #wrap(name: string, tool: unknown): unknown {
    const execute = (tool as ExecutableTool | undefined)?.execute
    if (typeof tool !== "object" || tool === null || typeof execute !== "function") return tool
    const runs = this
    return {
      ...tool,
      execute(input: unknown, options: { toolCallId?: string; abortSignal?: AbortSignal } | undefined) {
        const started = runs.started(options?.toolCallId ?? "", name, input)
        const done = (end: { output: unknown } | { error: unknown }) =>
          started("output" in end && options?.abortSignal?.aborted ? { ...end, interrupted: true } : end)
        try {
          const result = (execute as (input: unknown, options: unknown) => unknown).call(tool, input, options)
          if (isPromiseLike(result)) {
            return Promise.resolve(result).then(
              (output) => (done({ output }), output),
              (error: unknown) => {
                done({ error })
                throw error
              },
            )
          }
          done({ output: result })
          return result
        } catch (error) {
          done({ error })
          throw error
        }
      },
    }
  }

  /** A call started; the returned function records how it ended. */
  started(toolCallId: string, toolName: string, input: unknown): (end: { output: unknown; interrupted?: boolean } | { error: unknown }) => void {
    const clock = this.options.clock ?? Date.now
    this.#runs.set(toolCallId, { toolCallId, toolName, input, startedAt: clock(), status: "running" })
    let resolve!: () => void
    this.#settled.set(toolCallId, new Promise<void>((done) => (resolve = done)))
    this.options.onStart?.(toolCallId)
    return (end) => {
      const run = this.#runs.get(toolCallId)
      if (!run || run.status !== "running") return
      const endedAt = clock()
      this.#runs.set(
        toolCallId,
        "error" in end
          ? { ...run, status: "failed", error: end.error, endedAt }
          : { ...run, status: "completed", output: end.output, endedAt, ...(end.interrupted ? { interrupted: true } : {}) },
      )
      resolve()
    }
  }

  /**
   * Resolves once every call that started has ended, or after `ms`, whichever comes first. A tool gets the step's
   * abort signal when the stream fails; most end at once, and one that does not is left as interrupted.
   */
  settled(ms: number): Promise<void> {
    const pending = [...this.#runs.values()].filter((run) => run.status === "running").map((run) => this.#settled.get(run.toolCallId))
    if (pending.length === 0) return Promise.resolve()
    let timer: ReturnType<typeof setTimeout> | undefined
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))
    return Promise.race([Promise.all(pending).then(() => undefined), bound]).finally(() => clearTimeout(timer))
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function"
}
