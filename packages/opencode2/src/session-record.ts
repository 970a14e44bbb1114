/**
 * The session's own record of who served it: each step on a combined model with the member that answered, its tokens
 * and cost, kept in the session's metadata (`metadata["combined-models"]`, through `ctx.session.update`). OpenCode 2
 * keeps the metadata with the session (its database, `GET /api/session/:id`, the session on any machine that has
 * it), so the record outlives the plugin's state files; the transcript's messages themselves cannot be annotated by a
 * plugin, and they name only the combined model. Best effort: a failed write loses one record, never a step.
 */
import type { StepRecord } from "./step-store.ts"

export const METADATA_KEY = "combined-models"

/** Steps kept in a session's record (the newest). */
export const RECORDED_STEPS = 50

/** One step as the session's metadata keeps it: plain JSON, readable without the plugin. */
export interface RecordedStep {
  id: string
  at: string
  model: string
  member: string
  switches: string[]
  tokens?: { input: number; output: number; cacheRead?: number; cacheWrite?: number }
  /** USD at the member's catalog price. */
  cost?: number
}

/** `ctx.session` as the promise API hands it to a server plugin: only what the record uses. */
export interface SessionAccess {
  get(input: { sessionID: string }): Promise<{ metadata?: Record<string, unknown> } | undefined>
  update(input: { sessionID: string; metadata: Record<string, unknown> }): Promise<unknown>
}

export function recordedStep(step: StepRecord, combinedProvider: string): RecordedStep {
  return {
    id: step.id,
    at: new Date(step.at).toISOString(),
    model: `${combinedProvider}/${step.groupID}`,
    member: `${step.member.providerID}/${step.member.modelID}`,
    switches: step.switches,
    ...(step.usage ? { tokens: step.usage } : {}),
    ...(step.cost !== undefined ? { cost: step.cost } : {}),
  }
}

/** The session's metadata with the step added to its record (a step already in it is not added twice). */
export function withRecordedStep(metadata: Record<string, unknown> | undefined, step: RecordedStep): Record<string, unknown> {
  const current = metadata?.[METADATA_KEY] as { steps?: unknown } | undefined
  const steps = (Array.isArray(current?.steps) ? current.steps : []).filter(
    (known): known is RecordedStep => typeof known === "object" && known !== null && typeof (known as RecordedStep).id === "string" && (known as RecordedStep).id !== step.id,
  )
  return { ...(metadata ?? {}), [METADATA_KEY]: { version: 1, steps: [...steps, step].slice(-RECORDED_STEPS) } }
}

/**
 * A recorder for the steps of each session: writes in order per session (each write reads the metadata another write
 * or another process left, then adds to it). Without `ctx.session.get`/`update` it records nothing.
 */
export function sessionRecorder(session: Partial<SessionAccess> | undefined, say: (line: string) => void): (sessionID: string, step: RecordedStep) => void {
  if (typeof session?.get !== "function" || typeof session?.update !== "function") return () => {}
  const access = session as SessionAccess
  const queues = new Map<string, Promise<void>>()
  return (sessionID, step) => {
    const next = (queues.get(sessionID) ?? Promise.resolve())
      .then(async () => {
        const current = await access.get({ sessionID })
        await access.update({ sessionID, metadata: withRecordedStep(current?.metadata, step) })
      })
      .catch((error: unknown) => say(`combined-models: could not record the serving member in the session's metadata (${error instanceof Error ? error.message : String(error)})`))
      .finally(() => {
        if (queues.get(sessionID) === next) queues.delete(sessionID)
      })
    queues.set(sessionID, next)
  }
}
