/**
 * The TUI entry of the OpenCode 2 plugin (`tui.js` beside the server entry in the plugin's directory). It shows, in
 * the prompt footer's status slot (`prompt.footer.status`, where OpenCode's own `/btw` marker goes), the member that
 * served the session's latest step, `Claude Sonnet 4.5 (github-copilot)`, and the latest switch notice for a minute
 * after it happened. `/combined` opens the status view; `/combined order|exclude|include …` steers. Everything comes
 * from the server part over the plugin's RPC: the TUI entry gets no options and holds no state of its own.
 */
import { createElement, effect, insert, setProp } from "@opentui/solid"
import { createSignal } from "solid-js"
import { CombinedRpc, type FooterState, type SteerInput } from "../rpc.ts"
import { tuiShapeProblems } from "../shape.ts"
import { footerText, parseCombinedArgs } from "./text.ts"

interface RpcClient {
  status(input: { sessionID?: string }): Promise<{ text: string }>
  footer(input: { sessionID?: string }): Promise<FooterState>
  steer(input: SteerInput): Promise<{ ok: boolean; message: string }>
  picker(input: { mode: "combined" | "all" }): Promise<{ ok: boolean; message: string }>
  events: { on(name: "changed", handler: (event: { data: { sessionID: string; footer: FooterState } }) => void): () => void }
}

/** The TUI plugin context: only what this entry uses. */
export interface TuiContext {
  client: { rpc(definition: typeof CombinedRpc): RpcClient }
  readonly theme?: { text?: { muted?: unknown } }
  keymap: { layer(build: () => { mode: string; commands: unknown[] }): void }
  ui: {
    slot(claim: { append: string; render: (input: { sessionID?: string }) => unknown }): unknown
    dialog: { alert(input: { title: string; message: string }): Promise<unknown> }
    toast: { show(input: { title?: string; message: string; variant?: "info" | "success" | "warning" | "error"; duration?: number }): void }
    router: { current(): { type: string; sessionID?: string } }
  }
}

/** Footers asked again at each tick: those of the sessions whose footer was first shown last. */
const SHOWN_FOOTERS = 4

export function setup(ctx: TuiContext): () => void {
  const problems = tuiShapeProblems(ctx)
  if (problems.length > 0)
    throw new Error(`combined-models: this OpenCode's TUI differs from what the plugin was tested with (${problems.join("; ")}); no footer or /combined, routing goes on`)
  const rpc = ctx.client.rpc(CombinedRpc)
  const [footers, setFooters] = createSignal<Record<string, FooterState>>({})
  const [now, setNow] = createSignal(Date.now())
  const remember = (sessionID: string, footer: FooterState) => {
    setFooters((all) => ({ ...all, [sessionID]: footer }))
    setNow(Date.now())
  }
  // A notice leaves the footer once it is a minute old. The footers shown are asked again at each tick too (a reply
  // that crosses a "changed" event is set right at the next tick): the server's
  // "changed" event is the fast path; should one not arrive (seen in loaded test runs on 2.2.5: the footer kept the first
  // member after the second served), the footer is right a tick later, not stale for the rest of the session.
  const tick = setInterval(() => {
    setNow(Date.now())
    for (const sessionID of [...asked].slice(-SHOWN_FOOTERS))
      rpc.footer({ sessionID }).then(
        (footer) => remember(sessionID, footer ?? {}),
        () => {},
      )
  }, 5_000)
  ;(tick as { unref?: () => void }).unref?.()
  rpc.events.on("changed", (event) => {
    const data = event?.data
    if (data && typeof data.sessionID === "string") remember(data.sessionID, data.footer ?? {})
  })
  const asked = new Set<string>()
  const load = (sessionID: string | undefined) => {
    if (!sessionID || asked.has(sessionID)) return
    asked.add(sessionID)
    rpc.footer({ sessionID }).then(
      (footer) => remember(sessionID, footer ?? {}),
      () => asked.delete(sessionID),
    )
  }

  ctx.ui.slot({
    append: "prompt.footer.status",
    render: (input) => {
      const node = createElement("text")
      setProp(node, "wrapMode", "none")
      setProp(node, "flexShrink", 0)
      effect(() => setProp(node, "fg", ctx.theme?.text?.muted))
      insert(node, () => {
        const sessionID = input?.sessionID
        load(sessionID)
        return sessionID ? footerText(footers()[sessionID], now()) : ""
      })
      return node
    },
  })

  const run = async (text: string | undefined) => {
    const route = ctx.ui.router.current()
    const sessionID = route.type === "session" ? route.sessionID : undefined
    const parsed = parseCombinedArgs(text)
    try {
      if (parsed.kind === "usage") return ctx.ui.toast.show({ message: parsed.message, variant: "warning" })
      if (parsed.kind === "picker") {
        const result = await rpc.picker({ mode: parsed.mode })
        return ctx.ui.toast.show({ title: "Combined models", message: result.message, variant: "info", duration: 6_000 })
      }
      if (parsed.kind === "steer") {
        const result = await rpc.steer(parsed.input)
        return ctx.ui.toast.show({ title: "Combined models", message: result.message, variant: result.ok ? "success" : "error", duration: 8_000 })
      }
      const status = await rpc.status(sessionID ? { sessionID } : {})
      await ctx.ui.dialog.alert({ title: "Combined models", message: status.text.trimEnd() })
    } catch (error) {
      const message = typeof error === "object" && error !== null && "message" in error ? String((error as { message: unknown }).message) : String(error)
      ctx.ui.toast.show({ title: "Combined models", message: `the plugin's server part did not answer: ${message}`, variant: "error" })
    }
  }
  // Commands are registered from an app slot, as OpenCode's own plugins do: the layer lives as long as the TUI.
  ctx.ui.slot({
    append: "app",
    render: () => {
      ctx.keymap.layer(() => ({
        mode: "global",
        commands: [
          {
            id: "combined-models.status",
            title: "Combined models: members, health, switches",
            description: "Each combined model's members in order with health and cooldowns; order, exclude or include a member; members: every provider's entry in the model list",
            group: "Session",
            palette: true,
            slash: { name: "combined", arguments: true },
            run,
          },
        ],
      }))
      return null
    },
  })
  // Called when OpenCode unloads the TUI plugin (a config change loads it again).
  return () => clearInterval(tick)
}

export default { id: "combined-models", setup }
