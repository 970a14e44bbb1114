/**
 * What OpenCode sends with every request of an agent on a selected model, whatever the conversation: the system
 * prompt and the tool definitions, measured with upstream's own token estimate on the request it was about to send
 * (the hunk in `llm.ts`). A session's first step has no earlier step to size it by, and these are most of it (10k
 * tokens and more in OpenCode), so read-ahead sizes it by the latest measurement, kept next to the health file for the
 * next `opencode run`, which is a process of its own.
 * `<state>/combined-models/requests.json`: `{ "version": 1, "requests": { "<agent>|<provider>/<model>": tokens } }`.
 * Advisory: anything unreadable reads as "not measured yet", and a failed write only loses the measurement.
 */
import { z } from "zod"
import { stateFilePath, updateStateFile, readStateFile } from "combined-models"

export function requestSizesPath(stateDir: string): string {
  return stateFilePath(stateDir, "requests.json")
}

const RequestsFile = z.object({ version: z.literal(1), requests: z.record(z.string(), z.number().finite().nonnegative()) })

/** Measurements kept in the file at most (agents × selections). */
const MAX_KEPT = 64

/** A measurement within this share of the stored one is not written again: the file changes when the prompt does. */
const UNCHANGED_WITHIN = 0.05

/** The key of an agent's requests on a selection. */
export function requestKey(agent: string | undefined, selection: { providerID: string; modelID: string }): string {
  return `${agent ?? ""}|${selection.providerID}/${selection.modelID}`
}

export function readRequestSizes(path: string): Map<string, number> {
  const text = readStateFile(path)
  return parseSizes(text)
}

function parseSizes(text: string | undefined): Map<string, number> {
  try {
    const file = RequestsFile.safeParse(text === undefined ? undefined : JSON.parse(text))
    return new Map(file.success ? Object.entries(file.data.requests) : [])
  } catch {
    return new Map()
  }
}

/** The file's text with one key's measurement in place: a pure merge of whatever the file holds. */
export function withRequestSize(current: string | undefined, key: string, tokens: number): string {
  const sizes = parseSizes(current)
  sizes.delete(key)
  sizes.set(key, tokens)
  return JSON.stringify({ version: 1, requests: Object.fromEntries([...sizes].slice(-MAX_KEPT)) })
}

/** The store of one process: what it measured, else what the file says another process measured. */
export class RequestSizes {
  readonly #measured = new Map<string, number>()
  /**
   * What the file holds, as far as this process knows (what it read there, or wrote last): a measurement is compared
   * with this, not with the one before it, so a request that grows a little every step still reaches the file.
   */
  readonly #stored = new Map<string, number>()

  constructor(private readonly path: string | undefined) {}

  /** What requests of this key carry besides the conversation, in tokens; undefined when never measured. */
  baseOf(key: string): number | undefined {
    const own = this.#measured.get(key)
    if (own !== undefined || !this.path) return own
    return readRequestSizes(this.path).get(key)
  }

  /** A request of this key is about to be sent, carrying `tokens` besides the conversation. */
  measured(key: string, tokens: number) {
    this.#measured.set(key, tokens)
    if (!this.path) return
    const stored = this.#stored.get(key) ?? readRequestSizes(this.path).get(key)
    if (stored !== undefined && Math.abs(tokens - stored) <= stored * UNCHANGED_WITHIN) {
      this.#stored.set(key, stored)
      return
    }
    this.#stored.set(key, tokens)
    updateStateFile(this.path, { what: "a request size", change: (current) => withRequestSize(current, key, tokens) })
  }
}
