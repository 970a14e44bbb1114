/**
 * The server plugin's side of what the user sees: the status board fed by the router, published over the plugin's
 * RPC (`combined-models`) to its TUI entry (footer, `/combined`) and to `opencode api` (the CLI path). An OpenCode 2
 * without `ctx.rpc.register` gets no footer or status view; routing goes on regardless.
 */
import type { MemberRef } from "combined-models"
import type { ModelEditor } from "./api.ts"
import { applyPickerMode, currentPickerMode, pickerFile, writePickerChoice, type PickerMode } from "./picker.ts"
import { CombinedRpc, type FooterState, type SteerInput } from "./rpc.ts"
import type { Router } from "./router.ts"
import { recordedStep, sessionRecorder, type SessionAccess } from "./session-record.ts"
import { StatusBoard } from "./status.ts"
import { PROVIDER_ID } from "./catalog.ts"
import { steer, type SteerResult } from "./steer.ts"
import type { StepUsage } from "./usage.ts"

/** `ctx.rpc` as the promise API hands it to a server plugin: only what this plugin uses. */
export interface RpcDomain {
  register(
    definition: typeof CombinedRpc,
    handlers: {
      status(input: { sessionID?: string } | null | undefined): unknown
      footer(input: { sessionID?: string } | null | undefined): unknown
      steer(input: SteerInput): unknown
      picker(input: { mode: PickerMode }): unknown
    },
  ): Promise<{ dispose(): unknown; events: { emit(name: "changed", data: { sessionID: string; footer: FooterState }): Promise<unknown> } }>
}

export interface Visibility {
  board: StatusBoard
  /** A step was answered in full by the member the group pointed at, with the tokens its stream reported. */
  served(sessionID: string, groupID: string, member: MemberRef | undefined, usage?: StepUsage): void
  /** After the retry hook: switches it made are published. */
  afterRetry(): void
  /** The model transform after the router's: members hidden from the model list in `"combined"` mode. */
  picker(editor: ModelEditor): void
  dispose(): void
}

export function attachVisibility(input: {
  ctx: object
  router: Router
  stateDir: string
  say: (line: string) => void
  providerName?: (providerID: string) => string | undefined
  /** Where the plugin's options live, for steering (undefined: steering says why it cannot). */
  pluginDir?: string
  env?: Record<string, string | undefined>
  /** The plugin's options (`combined_models.picker`). */
  options?: unknown
  /** Reloads OpenCode's model catalog (after the model list's mode changed). */
  reload?: () => Promise<unknown>
  log?: (line: string) => void
}): Visibility {
  const pickerChoice = pickerFile(input.stateDir)
  let emit: ((sessionID: string, footer: FooterState) => void) | undefined
  let disposeRpc: (() => unknown) | undefined
  const board = new StatusBoard({
    router: input.router,
    stateDir: input.stateDir,
    providerName: input.providerName,
    changed: (sessionID, footer) => emit?.(sessionID, footer),
  })
  // The session's own record of who served each step (its metadata), beside the status board's.
  const record = sessionRecorder((input.ctx as { session?: Partial<SessionAccess> }).session, input.say)
  const rpc = (input.ctx as { rpc?: RpcDomain }).rpc
  if (typeof rpc?.register === "function") {
    rpc
      .register(CombinedRpc, {
        // Handlers must return promises: the promise API chains `.then` on what they return.
        status: async (request) => {
          board.takeSwitches()
          const sessionID = request?.sessionID ?? undefined
          return { text: board.text(undefined, sessionID), status: board.status(), footer: board.footer(sessionID), steps: sessionID ? board.sessionSteps(sessionID) : [] }
        },
        footer: async (request) => board.footer(request?.sessionID ?? undefined),
        steer: async (request): Promise<SteerResult> => steer(request, { router: input.router, pluginDir: input.pluginDir, env: input.env }),
        picker: async (request) => {
          writePickerChoice(pickerChoice, request.mode)
          await input.reload?.()
          return {
            ok: true,
            mode: request.mode,
            message:
              request.mode === "all"
                ? "the model list shows every provider's entry of each combined model (/combined members hide: one entry per model)"
                : "the model list shows each combined model once (/combined members: every provider's entry)",
          }
        },
      })
      .then((registered) => {
        disposeRpc = () => registered.dispose()
        emit = (sessionID, footer) => void registered.events.emit("changed", { sessionID, footer }).catch(() => {})
      })
      .catch((error: unknown) => input.say(`combined-models: the status view is off (ctx.rpc.register failed: ${error instanceof Error ? error.message : String(error)})`))
  } else input.say("combined-models: this OpenCode has no ctx.rpc.register; the footer and the status view are off, routing goes on")
  return {
    board,
    served(sessionID, groupID, member, usage) {
      board.takeSwitches()
      if (member) record(sessionID, recordedStep(board.recordServed(sessionID, groupID, member, usage), PROVIDER_ID))
    },
    afterRetry() {
      board.takeSwitches()
    },
    picker(editor) {
      const mode = currentPickerMode(input.options, pickerChoice)
      const hidden = applyPickerMode(editor, input.router.groups.values(), mode)
      input.log?.(`combined-models: model list ${mode}: ${hidden.length} members hidden`)
    },
    dispose() {
      disposeRpc?.()
    },
  }
}
