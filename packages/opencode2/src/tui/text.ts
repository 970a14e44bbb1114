/** The TUI entry's pure parts: what the footer says and how `/combined`'s arguments read (tested without a TUI). */
import type { FooterState, SteerInput } from "../rpc.ts"

/** How long a switch notice stays in the footer. */
export const NOTICE_MS = 60_000

/** The footer's text: the serving member, and the latest switch while it is fresh. */
export function footerText(state: FooterState | undefined, now: number): string {
  if (!state) return ""
  const fresh = state.notice && state.noticeAt !== undefined && now - state.noticeAt < NOTICE_MS ? state.notice : undefined
  return [state.label, fresh].filter(Boolean).join("  ·  ")
}

/** `/combined` arguments: nothing for the status view, else `order|exclude|include <model> <provider…>`. */
export function parseCombinedArgs(
  text: string | undefined,
): { kind: "status" } | { kind: "steer"; input: SteerInput } | { kind: "picker"; mode: "combined" | "all" } | { kind: "usage"; message: string } {
  const words = (text ?? "").trim().split(/[\s,]+/).filter(Boolean)
  if (words.length === 0 || words[0] === "status") return { kind: "status" }
  if (words[0] === "members") return words[1] === "hide" ? { kind: "picker", mode: "combined" } : { kind: "picker", mode: "all" }
  const [verb, group, ...providers] = words
  const action = verb === "order" || verb === "priority" ? "priority" : verb === "exclude" || verb === "include" ? verb : undefined
  if (!action || !group || providers.length === 0)
    return { kind: "usage", message: "Usage: /combined | /combined order <model> <provider…> | /combined exclude|include <model> <provider…> | /combined members [hide]" }
  return { kind: "steer", input: { group, action, providers } }
}
