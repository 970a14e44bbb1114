/**
 * opencode-combined-models for OpenCode 2: a server plugin (`{ id, setup }`). It adds one combined model per model
 * that two or more connected providers serve (`combined/<id>`), routes each request of it to the first healthy
 * member in the user's order, and moves a failed step to the next member inside the same step.
 *
 * Configured through the plugin's options in OpenCode 2's config (`plugins: [{ package, options }]`): the same
 * `provider_priority` and `combined_models` keys, validated by the same schema, as the 1.x edition.
 */
import { appendFileSync } from "node:fs"
import type { HttpResponseEvent, ModelEditor, ModelRequestEvent, PluginContext, PluginModule, ProviderEditor, RetryEvent } from "./api.ts"
import { PROVIDER_ID, PROVIDER_NAME } from "./catalog.ts"
import { Router } from "./router.ts"
import { guardStream } from "./stream-guard.ts"
import { modelEditorProblems, providerEditorProblems, shapeProblems } from "./shape.ts"

export const PLUGIN_ID = "combined-models"

/** Says a problem once per process: OpenCode's own output stays readable. */
function sayOnce(): (line: string) => void {
  const said = new Set<string>()
  return (line) => {
    if (said.has(line)) return
    said.add(line)
    console.error(line)
  }
}

/** Runs a hook body; a failure of ours is said once and never reaches OpenCode. */
function safely<E>(say: (line: string) => void, body: (event: E) => unknown): (event: E) => Promise<void> {
  return async (event) => {
    try {
      await body(event)
    } catch (error) {
      say(`combined-models: internal error, this request is left to OpenCode: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
}

export function setup(ctx: PluginContext): void {
  const say = sayOnce()
  const problems = shapeProblems(ctx)
  if (problems.length > 0) {
    say(`combined-models: this OpenCode ${ctx?.app?.version ?? "release"} differs from what the plugin supports (${problems.join("; ")}); combined models are off`)
    return
  }
  // COMBINED_MODELS_DEBUG=<file>: every routing decision, appended there (the plugin's stderr is not the user's terminal).
  const debugFile = process.env.COMBINED_MODELS_DEBUG
  const debug = debugFile ? (line: string) => appendFileSync(debugFile, `${new Date().toISOString()} ${line}\n`) : () => {}
  const router = new Router({ options: ctx.options, log: debug, reload: () => ctx.model.reload() })
  for (const problem of router.problems)
    say(`combined-models: plugin options ${problem.path}: ${problem.message}${router.disabled ? " (combined models are off until this is fixed)" : ""}`)
  if (router.disabled || !router.config.enabled) return

  let off = false
  ctx.provider.transform((editor: ProviderEditor) => {
    if (off) return
    const problems = providerEditorProblems(editor)
    if (problems.length > 0) {
      off = true
      say(`combined-models: OpenCode's provider editor differs (${problems.join("; ")}); combined models are off`)
      return
    }
    // Enabled: listed without a credential of its own; its models carry their members' settings.
    editor.add({ info: { id: PROVIDER_ID, name: PROVIDER_NAME, activation: "enabled", package: "@opencode/ai/providers/anthropic" }, models: [] })
  })
  ctx.model.transform((editor: ModelEditor) => {
    if (off) return
    const problems = modelEditorProblems(editor)
    if (problems.length > 0) {
      off = true
      say(`combined-models: OpenCode's model editor differs (${problems.join("; ")}); combined models are off`)
      return
    }
    try {
      router.transform(editor)
    } catch (error) {
      say(`combined-models: could not build the combined models (${error instanceof Error ? error.message : String(error)}); OpenCode goes on without them`)
    }
  })

  const ours = (event: { model?: { providerID?: string } }) => !off && event?.model?.providerID === PROVIDER_ID
  ctx.session.hook(
    "model.request",
    safely(say, (event: ModelRequestEvent) => {
      debug(`combined-models: model.request ${event.kind} ${event.model?.providerID}/${event.model?.id}`)
      if (ours(event)) router.onRequest(event.sessionID, event.model.id)
    }),
  )
  ctx.session.hook(
    "http.response",
    safely(say, (event: HttpResponseEvent) => {
      if (!ours(event)) return
      const response = event.response
      if (!response.ok) {
        router.onFailedResponse(event.sessionID, event.model.id, response.headers)
        return
      }
      event.response = guardStream(response, {
        served: () => {
          router.onServed(event.sessionID, event.model.id)
          void router.refresh(event.model.id).catch(() => {})
        },
      })
    }),
  )
  ctx.session.hook(
    "retry",
    safely(say, async (event: RetryEvent) => {
      debug(`combined-models: retry ${event.model?.providerID}/${event.model?.id} ${event.error?.type}`)
      if (ours(event)) await router.onRetry(event)
    }),
  )
}

const plugin: PluginModule = { id: PLUGIN_ID, setup }
export default plugin
