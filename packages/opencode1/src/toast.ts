/**
 * The TUI's failover toasts: one when a session switches provider (the failover status the session patch sets), one
 * when the selected model's preferred member serves again after another one did. Plain data in (OpenCode's events and
 * the messages and providers the TUI already holds), a toast or nothing out; the only state is what was announced.
 */
import { membersOf, type SessionMessageLike } from "./command.ts"
import { failoverNotice, modelName, selectionOf, type ModelRef, type ProviderList, type StatusLike } from "./label.ts"
import { label, sameMember, type MemberRef } from "combined-models"

/** What the TUI's `toast.show` takes. */
export interface Toast {
  variant: "info" | "success" | "warning" | "error"
  title?: string
  message: string
  duration?: number
}

const SWITCH_TOAST_MS = 6_000
const RECOVERY_TOAST_MS = 5_000

/**
 * The member a finished assistant message shows to be back: the first-priority member of the message's selection
 * (the selection itself for a concrete model on a fallback chain), when the previous message served under the same
 * selection came from another member or model. Undefined otherwise, and for a step that is still streaming or failed.
 */
export function recoveredMember(input: {
  message: SessionMessageLike
  messages: readonly SessionMessageLike[]
  providers?: ProviderList | undefined
}): { member: MemberRef; selection: ModelRef } | undefined {
  const { message, messages, providers } = input
  if (!servedOK(message) || message.time?.completed === undefined) return undefined
  const selection = selectionOf(message, messages)
  if (!selection) return undefined
  const preferred = membersOf(providers, selection)[0]
  if (!preferred || !sameMember(preferred, message)) return undefined
  let previous: (SessionMessageLike & MemberRef) | undefined
  for (const entry of messages) {
    if (entry.id >= message.id || !servedOK(entry)) continue
    const under = selectionOf(entry, messages)
    if (under && sameMember(under, selection)) previous = entry
  }
  if (!previous || sameMember(previous, preferred)) return undefined
  return { member: preferred, selection }
}

/** The toasts of one TUI: feed it every `session.status` and assistant `message.updated` of the sessions shown. */
export class FailoverToasts {
  private readonly notices = new Map<string, string>()
  private readonly recovered = new Set<string>()
  /** Switch toasts of sessions not on screen yet, by session: shown if the TUI goes there soon. */
  private readonly held = new Map<string, { toast: Toast; at: number }>()

  /**
   * Keeps a toast for a session the TUI is not showing yet. A prompt sent from the home screen goes out before the TUI
   * navigates to its new session (upstream waits 50 ms), and a failover on the loopback or a fast 429 comes sooner.
   */
  hold(sessionID: string, toast: Toast, now: number = Date.now()) {
    this.held.set(sessionID, { toast, at: now })
  }

  /** The toast held for a session the TUI now shows, if it is still fresh (within its own duration). */
  release(sessionID: string, now: number = Date.now()): Toast | undefined {
    const held = this.held.get(sessionID)
    this.held.delete(sessionID)
    for (const [id, entry] of this.held) if (now - entry.at > SWITCH_TOAST_MS) this.held.delete(id)
    return held && now - held.at <= SWITCH_TOAST_MS ? held.toast : undefined
  }

  /** A `session.status` event: a toast for each new failover notice. */
  status(sessionID: string, status: (StatusLike & { attempt?: number }) | undefined | null): Toast | undefined {
    const notice = failoverNotice(status)
    if (notice === undefined) {
      if (status?.type === "idle") this.notices.delete(sessionID)
      return undefined
    }
    const key = `${status?.attempt ?? ""}:${notice}`
    if (this.notices.get(sessionID) === key) return undefined
    this.notices.set(sessionID, key)
    return { variant: "warning", title: "Switching provider", message: notice, duration: SWITCH_TOAST_MS }
  }

  /** A `message.updated` event: a toast when this finished message shows the preferred member back. */
  message(message: SessionMessageLike, messages: readonly SessionMessageLike[], providers?: ProviderList): Toast | undefined {
    if (message.role !== "assistant" || this.recovered.has(message.id)) return undefined
    // The TUI may not have stored this update yet: judge with the event's own version of the message.
    const list = [...messages.filter((entry) => entry.id !== message.id), message]
    const back = recoveredMember({ message, messages: list, providers })
    if (!back) return undefined
    this.recovered.add(message.id)
    const name = modelName(providers, back.selection)
    return {
      variant: "success",
      message: `${back.member.providerID} is back: ${label({ name }, back.member)}`,
      duration: RECOVERY_TOAST_MS,
    }
  }
}

function servedOK(message: SessionMessageLike): message is SessionMessageLike & MemberRef {
  return message.role === "assistant" && Boolean(message.providerID && message.modelID) && !message.error
}

