/**
 * The engine's reason not to go on with a step, shown by OpenCode 2 as the step's error. A plugin cannot end a step
 * with an error of its own: core shows the error of the step's last attempt. So that attempt goes to a loopback
 * server of the plugin's, which answers in the wire's own error shape with the engine's message (each member and
 * why it is out, what brings it back), and the retry hook stops there. Nothing leaves the machine: when every member
 * is out before the step starts, no provider is asked, as in the 1.x edition.
 */
import { wireOf } from "./stream-guard.ts"

/** The status a refusal answers with: a rate limit or quota where every member is out for one, else unavailable. */
export function refusalStatus(reasons: readonly string[]): 429 | 503 {
  return reasons.length > 0 && reasons.every((reason) => reason === "rate_limit" || reason === "quota") ? 429 : 503
}

/** The wire's own error response for a request to `path`, carrying `message`: what core reads its error from. */
export function refusalResponse(path: string, message: string, status: 429 | 503): Response {
  const json = (body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })
  const limited = status === 429
  if (/\/converse(-stream)?$/.test(path)) return json({ message }, { "x-amzn-errortype": limited ? "ThrottlingException" : "ServiceUnavailableException" })
  if (/:(stream)?generateContent$/i.test(path)) return json({ error: { code: status, message, status: limited ? "RESOURCE_EXHAUSTED" : "UNAVAILABLE" } })
  if (wireOf(path) === "anthropic") return json({ type: "error", error: { type: limited ? "rate_limit_error" : "overloaded_error", message } })
  return json({ error: { message, type: limited ? "rate_limit_exceeded" : "server_error", code: limited ? "rate_limit_exceeded" : "unavailable" } })
}

/** Refusals waiting for their request at most: one a step, taken as it arrives. */
const PENDING_KEPT = 64

/** The loopback server, started on the first refusal and stopped with the plugin. */
export class RefusalServer {
  #server: ReturnType<typeof Bun.serve> | undefined
  readonly #pending = new Map<string, { message: string; status: 429 | 503 }>()

  /** The request, sent instead to the loopback, where it is answered with this refusal. */
  refuse(request: Request, message: string, status: 429 | 503): Request {
    const server = (this.#server ??= Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (incoming) => {
        const url = new URL(incoming.url)
        const [, id = "", ...rest] = url.pathname.split("/")
        const refusal = this.#pending.get(id)
        this.#pending.delete(id)
        return refusal ? refusalResponse(`/${rest.join("/")}`, refusal.message, refusal.status) : new Response("no such refusal", { status: 404 })
      },
    }))
    // It never keeps OpenCode running: `opencode run` exits when its turn ends.
    server.unref?.()
    const id = crypto.randomUUID()
    this.#pending.set(id, { message, status })
    for (const oldest of this.#pending.keys()) {
      if (this.#pending.size <= PENDING_KEPT) break
      this.#pending.delete(oldest)
    }
    const original = new URL(request.url)
    return new Request(`http://127.0.0.1:${server.port}/${id}${original.pathname}${original.search}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    })
  }

  close(): void {
    this.#server?.stop(true)
    this.#server = undefined
  }
}
