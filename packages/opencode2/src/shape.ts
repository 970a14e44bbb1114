/**
 * The start-up check: the context and hooks this plugin relies on are there, with the shapes the tests pin. On an
 * OpenCode 2 release where one differs, the plugin says once what it found and stays out of the way.
 */
export function shapeProblems(ctx: unknown): string[] {
  const problems: string[] = []
  const record = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null
  if (!record(ctx)) return ["the plugin context is not an object"]
  const fn = (path: string, value: unknown) => {
    if (typeof value !== "function") problems.push(`${path} is ${value === undefined ? "missing" : `a ${typeof value}`}, expected a function`)
  }
  const session = ctx.session
  if (!record(session)) problems.push("ctx.session is missing")
  else fn("ctx.session.hook", session.hook)
  const provider = ctx.provider
  if (!record(provider)) problems.push("ctx.provider is missing")
  else {
    fn("ctx.provider.transform", provider.transform)
    fn("ctx.provider.reload", provider.reload)
  }
  const model = ctx.model
  if (!record(model)) problems.push("ctx.model is missing")
  else {
    fn("ctx.model.transform", model.transform)
    fn("ctx.model.reload", model.reload)
  }
  return problems
}

/** The model editor as `ctx.model.transform` hands it: checked on first use, before anything is written. */
export function modelEditorProblems(editor: unknown): string[] {
  if (typeof editor !== "object" || editor === null) return ["the model editor is not an object"]
  const e = editor as Record<string, unknown>
  const problems: string[] = []
  for (const key of ["list", "get", "update"]) if (typeof e[key] !== "function") problems.push(`model editor .${key} is not a function`)
  const provider = e.provider as Record<string, unknown> | undefined
  if (typeof provider?.get !== "function") problems.push("model editor .provider.get is not a function")
  return problems
}

/** The provider editor as `ctx.provider.transform` hands it. */
export function providerEditorProblems(editor: unknown): string[] {
  if (typeof editor !== "object" || editor === null) return ["the provider editor is not an object"]
  return typeof (editor as Record<string, unknown>).add === "function" ? [] : ["provider editor .add is not a function"]
}

/**
 * The fields a hook's event must carry for the plugin to act on it. OpenCode 2 accepts any hook name without a word
 * (an unknown name registers and never fires), so a release that renamed a hook cannot be caught at registration;
 * a release that reshaped an event is caught here, on the first event of each hook.
 */
export function eventProblems(hook: string, event: unknown): string[] {
  if (typeof event !== "object" || event === null) return [`the ${hook} event is not an object`]
  const e = event as Record<string, any>
  const problems: string[] = []
  const need = (ok: boolean, what: string) => ok || problems.push(`the ${hook} event has no ${what}`)
  need(typeof e.sessionID === "string", "sessionID")
  need(typeof e.model?.providerID === "string" && typeof e.model?.id === "string", "model { providerID, id }")
  if (hook === "context") need(Array.isArray(e.messages) && e.messages.every((m: unknown) => typeof (m as { role?: unknown })?.role === "string"), "messages [{ role }]")
  if (hook === "http.request") need(e.request instanceof Request, "request (a Request)")
  if (hook === "http.response") need(e.response instanceof Response && e.request instanceof Request, "request and response")
  if (hook === "retry") {
    need(typeof e.decision === "object" && e.decision !== null && typeof e.decision.retry === "boolean", "decision { retry }")
    need(typeof e.error === "object" && e.error !== null && typeof e.error.type === "string", "error { type }")
  }
  return problems
}

/**
 * The TUI context the TUI entry relies on. OpenCode logs a TUI plugin whose setup throws and goes on without it, so
 * a TUI that differs loses the footer and `/combined`, said once in its log, and routing (the server part) goes on.
 */
export function tuiShapeProblems(ctx: unknown): string[] {
  if (typeof ctx !== "object" || ctx === null) return ["the TUI plugin context is not an object"]
  const problems: string[] = []
  const c = ctx as Record<string, any>
  const fn = (path: string, value: unknown) => typeof value === "function" || problems.push(`${path} is ${value === undefined ? "missing" : `a ${typeof value}`}, expected a function`)
  fn("ctx.client.rpc", c.client?.rpc)
  fn("ctx.keymap.layer", c.keymap?.layer)
  fn("ctx.ui.slot", c.ui?.slot)
  fn("ctx.ui.dialog.alert", c.ui?.dialog?.alert)
  fn("ctx.ui.toast.show", c.ui?.toast?.show)
  fn("ctx.ui.router.current", c.ui?.router?.current)
  return problems
}
