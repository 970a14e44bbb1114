/**
 * opencode-combined-models for OpenCode 2: a server plugin (`{ id, setup }`). It adds one combined model per model
 * that two or more connected providers serve (`combined/<id>`), routes each request of it to the first healthy
 * member in the user's order, and moves a failed step to the next member inside the same step.
 *
 * Configured through the plugin's options in OpenCode 2's config (`plugins: [{ package, options }]`): the same
 * `provider_priority` and `combined_models` keys, validated by the same schema, as the 1.x edition.
 */
import { appendFileSync, mkdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { peekRotation, stateFilePath, takeRotation } from "combined-models"
import type { ContextEvent, HttpRequestEvent, HttpResponseEvent, ModelEditor, ModelRequestEvent, PluginContext, PluginModule, ProviderEditor, RetryEvent } from "./api.ts"
import { PROVIDER_ID, PROVIDER_NAME } from "./catalog.ts"
import { hasCredential, integrationKey, keyHeader, withKey } from "./credential.ts"
import { DEFLECT_URL, Router, stateDirectory } from "./router.ts"
import { RefusalServer } from "./refusal.ts"
import { readStepsCached, stepsFile } from "./step-store.ts"
import { guardStream } from "./stream-guard.ts"
import { eventProblems, modelEditorProblems, providerEditorProblems, shapeProblems } from "./shape.ts"
import { attachVisibility } from "./visibility.ts"
import { accountMembers, addConnectionModels, addConnectionProviders, readExtraConnections, type ConnectionProviderEditor, type ExtraConnection, type IntegrationAccess } from "./connections.ts"

export const PLUGIN_ID = "combined-models"

/**
 * What the plugin has to say goes where OpenCode 2 lets a plugin speak: a setup that throws is logged by OpenCode as
 * "failed to load plugin" with our message (its log, `--print-logs`), and OpenCode goes on without the plugin; a
 * plugin's own stderr reaches no one. Later problems (inside a hook) are appended once each to the state dir's
 * `combined-models/opencode2.log`.
 */
export class PluginProblem extends Error {
  override readonly name = "CombinedModelsProblem"
}

function sayOnce(file: string): (line: string) => void {
  const said = new Set<string>()
  return (line) => {
    if (said.has(line)) return
    said.add(line)
    try {
      mkdirSync(dirname(file), { recursive: true })
      appendFileSync(file, `${new Date().toISOString()} ${line}\n`)
    } catch {}
  }
}

/** Runs a hook body; a failure of ours is said once and never reaches OpenCode: the request goes on unrouted. */
function safely<E>(say: (line: string) => void, body: (event: E) => unknown): (event: E) => Promise<void> {
  return async (event) => {
    try {
      await body(event)
    } catch (error) {
      say(`combined-models: internal error, this request is left to OpenCode: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
}

/**
 * OpenCode 2 runs a plugin in a scope: what `setup` returns (or its promise resolves to) is called when the scope
 * closes, which happens each time the config file changes (OpenCode loads the plugin again with the new options,
 * measured on 2.2.5) and at exit. The plugin's own resources go with it: the Redis clients, the RPC registration.
 */
export type Dispose = () => void

export function setup(ctx: PluginContext): void | Dispose | Promise<Dispose> {
  const problems = shapeProblems(ctx)
  if (problems.length > 0)
    throw new PluginProblem(
      `combined-models: OpenCode ${ctx?.app?.version ?? "(unknown version)"} differs from what this plugin was tested with (${problems.join("; ")}); combined models are off, OpenCode runs as it would without the plugin`,
    )
  // COMBINED_MODELS_DEBUG=<file>: every routing decision, appended there.
  const debugFile = process.env.COMBINED_MODELS_DEBUG
  const debug = debugFile ? (line: string) => appendFileSync(debugFile, `${new Date().toISOString()} ${line}\n`) : () => {}
  const stateDir = stateDirectory()
  const say = sayOnce(join(stateDir, "combined-models", "opencode2.log"))
  // round_robin's turn counters, for every process of the machine; the file name is the one 2.x used before.
  const rotations = stateFilePath(stateDir, "rotation-opencode2.json")
  const steps = stepsFile(stateDir)
  const refusals = new RefusalServer()
  const router = new Router({
    options: ctx.options,
    stateDir,
    log: debug,
    reload: () => ctx.model.reload(),
    rotation: { peek: (groupID) => peekRotation(rotations, groupID), take: (groupID) => takeRotation(rotations, groupID) },
    lastServed: (sessionID, groupID) => readStepsCached(steps).get(sessionID)?.findLast((step) => step.groupID === groupID),
    keyOf: (integrationID) => integrationKey(ctx.integration?.connection, integrationID),
  })
  if (router.disabled)
    throw new PluginProblem(
      `combined-models: the plugin's options in OpenCode's config are not valid, so combined models are off until they are fixed: ${router.problems
        .map((problem) => `${problem.path}: ${problem.message}`)
        .join("; ")}`,
    )
  for (const problem of router.problems) say(`combined-models: plugin options ${problem.path}: ${problem.message}`)
  if (!router.config.enabled) return () => router.close()
  // The footer, the status view and steering (visibility.ts), published over the plugin's RPC to its TUI entry.
  const visibility = attachVisibility({ ctx, router, stateDir, say, pluginDir: import.meta.dir, options: ctx.options, reload: () => ctx.model.reload(), log: debug })

  let off = false
  /** An editor that differs from the tested one turns the plugin off, said by the throw OpenCode logs, before any use. */
  const checkEditor = (what: "provider" | "model", problems: string[]) => {
    if (problems.length === 0) return
    off = true
    throw new PluginProblem(`combined-models: OpenCode's ${what} editor differs from what this plugin was tested with (${problems.join("; ")}); combined models are off`)
  }
  ctx.provider.transform((editor: ProviderEditor) => {
    if (off) return
    checkEditor("provider", providerEditorProblems(editor))
    // Enabled: listed without a credential of its own; its models carry their members' settings.
    // Its settings carry `combined_models.timeouts` as OpenCode 2's own request timeouts (read from the provider, not
    // the model; core's defaults are 300 s to the headers and 900 s between chunks), so a member that hangs fails in
    // time for the retry hook to move the step on.
    editor.add({
      info: {
        id: PROVIDER_ID,
        name: PROVIDER_NAME,
        activation: "enabled",
        package: "@opencode/ai/providers/anthropic",
        settings: { headerTimeout: router.config.timeouts.firstByteMs, chunkTimeout: router.config.timeouts.stallMs },
      },
      models: [],
    })
  })
  // Accounts on OpenCode 2's connections (connections.ts): each further key of a provider becomes a member provider,
  // and so does each of `combined_models.accounts` (the 1.x edition's setting) whose key is set.
  const accounts = accountMembers(router.config.accounts)
  for (const problem of accounts.problems) say(`combined-models: ${problem}`)
  let extraConnections: ExtraConnection[] = accounts.members
  ctx.provider.transform((editor: ProviderEditor) => {
    if (!off && extraConnections.length) debug(`combined-models: connection providers ${addConnectionProviders(editor as ConnectionProviderEditor, extraConnections).join(", ")}`)
  })
  // Before the router's transform, so it groups them: the connection providers get their provider's models.
  ctx.model.transform((editor: ModelEditor) => {
    if (off || !extraConnections.length) return
    checkEditor("model", modelEditorProblems(editor))
    addConnectionModels(editor, extraConnections)
  })
  ctx.model.transform((editor: ModelEditor) => {
    if (off) return
    checkEditor("model", modelEditorProblems(editor))
    try {
      router.transform(editor)
    } catch (error) {
      // Thrown on: OpenCode disables a plugin whose transform fails and logs why, and goes on without it.
      throw new PluginProblem(`combined-models: could not build the combined models (${error instanceof Error ? error.message : String(error)})`)
    }
  })
  // After the router read the members: one entry per model in the model list (picker.ts).
  ctx.model.transform((editor: ModelEditor) => {
    if (!off) visibility.picker(editor)
  })

  // Each hook's first event is checked for the fields relied on; a reshaped one turns the plugin off for the process.
  const checked = new Set<string>()
  const shaped = (hook: string, event: unknown) => {
    if (off) return false
    if (checked.has(hook)) return true
    checked.add(hook)
    const problems = eventProblems(hook, event)
    if (problems.length === 0) return true
    off = true
    say(`combined-models: OpenCode ${ctx.app?.version ?? ""} differs from what this plugin was tested with (${problems.join("; ")}); combined models are left alone for this process`)
    return false
  }
  const ours = (event: { model?: { providerID?: string } }, hook: string) => shaped(hook, event) && event?.model?.providerID === PROVIDER_ID
  // Whether a primary step starts a turn (the user's message) or goes on from tool results.
  ctx.session.hook(
    "context",
    safely(say, (event: ContextEvent) => {
      if (ours(event, "context")) router.onContext(event.sessionID, event.model.id, event.messages)
    }),
  )
  ctx.session.hook(
    "model.request",
    safely(say, (event: ModelRequestEvent) => {
      debug(`combined-models: model.request ${event.kind} ${event.model?.providerID}/${event.model?.id}`)
      if (ours(event, "model.request")) router.onRequest(event.sessionID, event.model.id, event.kind, event.agent)
    }),
  )
  ctx.session.hook(
    "http.request",
    safely(say, async (event: HttpRequestEvent) => {
      if (!ours(event, "http.request")) return
      // A fresh step is routed here, where its size is known; one routed elsewhere is refused on the loopback, keyless.
      if (await router.route(event.sessionID, event.model.id, () => event.request.clone().text(), event.kind)) {
        // Either the engine's reason to end the step, answered on the plugin's own loopback in the wire's error shape,
        // or a refused connection (the retry that follows goes to the member the engine chose).
        const refusal = router.takeRefusal(event.sessionID, event.model.id, event.kind)
        event.request = refusal ? refusals.refuse(event.request, refusal.message, refusal.status) : new Request(DEFLECT_URL, { method: "POST", body: "{}" })
        return
      }
      if (hasCredential(event.request.headers)) return
      const member = router.memberOf(event.sessionID, event.model.id, event.kind)
      const info = member && router.providerInfo.get(member.providerID)
      if (!member || !info || info.hasKey) return
      const key = await integrationKey(ctx.integration?.connection, info.integrationID ?? member.providerID)
      router.noteKey(info.integrationID ?? member.providerID, key)
      const header = key ? keyHeader(info.package, key) : undefined
      if (header) event.request = withKey(event.request, header)
    }),
  )
  ctx.session.hook(
    "http.response",
    safely(say, (event: HttpResponseEvent) => {
      if (!ours(event, "http.response")) return
      const response = event.response
      if (!response.ok) {
        router.onFailedResponse(event.sessionID, event.model.id, response.headers, event.kind)
        return
      }
      // What the member's allowance has left (least_limited, read-ahead); a refusal's headers go to its cooldown.
      router.onResponse(event.sessionID, event.model.id, response.headers, event.kind)
      event.response = guardStream(response, event.request.url, {
        failed: (payload) => router.onStreamFailure(event.sessionID, event.model.id, payload, event.kind),
        problem: (error) => say(`combined-models: internal error after a served step (the answer is whole): ${error instanceof Error ? error.message : String(error)}`),
        served: (usage, ending) => {
          // The step's own member: another session's failure may have pointed the model elsewhere meanwhile.
          if (event.kind === "primary") visibility.served(event.sessionID, event.model.id, router.memberOf(event.sessionID, event.model.id), usage)
          router.onServed(event.sessionID, event.model.id, usage, event.kind)
          // Pointed where this session's next step goes: the same turn after tool calls, else a new turn.
          if (event.kind === "primary") void router.refresh(event.model.id, event.sessionID, ending?.toolCalls ? "step" : "turn").catch(() => {})
          else void router.refresh(event.model.id).catch(() => {})
        },
      })
    }),
  )
  ctx.session.hook(
    "retry",
    safely(say, async (event: RetryEvent) => {
      debug(`combined-models: retry ${event.model?.providerID}/${event.model?.id} ${event.error?.type}`)
      if (ours(event, "retry")) {
        await router.onRetry(event)
        visibility.afterRetry()
      }
    }),
  )
  // OpenCode awaits a setup's promise before it builds the catalog: the connections are read by then, for at most
  // CONNECTIONS_WAIT_MS (a slow store costs the extra members a reload later, never OpenCode's start).
  let started = false
  const read = readExtraConnections((ctx as { integration?: IntegrationAccess }).integration)
    .then((extras) => {
      extraConnections = [...accounts.members, ...extras]
      if (extras.length) debug(`combined-models: connections as members: ${extras.map((extra) => extra.id).join(", ")}`)
      if (started && !off && extras.length) return ctx.provider.reload().then(() => {})
    })
    .catch((error: unknown) => say(`combined-models: could not read OpenCode's connections (${error instanceof Error ? error.message : String(error)}); each provider serves with its active one`))
  return Promise.race([read, new Promise<void>((done) => setTimeout(done, CONNECTIONS_WAIT_MS).unref?.())]).then(() => {
    started = true
    return () => {
      off = true
      visibility.dispose()
      router.close()
      refusals.close()
    }
  })
}

/** How long start-up waits for OpenCode's connection store. */
const CONNECTIONS_WAIT_MS = 3_000

const plugin: PluginModule = { id: PLUGIN_ID, setup }
export default plugin
