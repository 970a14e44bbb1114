/**
 * What OpenCode's TUI and `opencode run` print for a combined model: the member that served, the failover notice, the
 * run banner. Plain data in (OpenCode's message, status and provider records, loosely typed), strings out; no state
 * except the small `RunOutput` tracker that `opencode run` keeps per event stream.
 */
import { PROVIDER_ID } from "./runtime.ts"
import { isRecord, label, sameMember, type MemberRef } from "combined-models"

/** A model reference as OpenCode passes it around: the selection on a user message, the TUI's current model. */
export interface ModelRef {
  providerID: string
  modelID: string
}

/** A provider as the TUI holds it (`Provider` from the SDK): only the names are read. */
export interface ProviderLike {
  id: string
  name?: string
  models: { readonly [modelID: string]: { readonly name?: string } | undefined }
}

export type ProviderList = ReadonlyMap<string, ProviderLike> | readonly ProviderLike[]

/** A user or assistant message as the TUI and the event stream carry it. */
export interface MessageLike {
  id: string
  role: string
  /** Assistant: the user message it answers. */
  parentID?: string
  /** Assistant: the concrete member that served this step. */
  providerID?: string
  modelID?: string
  /** User: the model the person selected (`combined/<group>` for a combined model). */
  model?: ModelRef
}

/** A session status (`session.status`): `idle`, `busy` or `retry{attempt, message, action?, next}`. */
export interface StatusLike {
  type: string
  message?: string
  action?: { reason?: string; provider?: string; message?: string }
}

export interface FailoverStatus extends StatusLike {
  type: "retry"
  message: string
  action: { reason: "failover"; provider?: string; message?: string }
}

/** The selection is one of our combined models. */
export function isCombined(model: Partial<ModelRef> | undefined | null): model is ModelRef {
  return model?.providerID === PROVIDER_ID && typeof model.modelID === "string"
}

/** The status the session patch sets while it moves a turn to the next member: shown as the notice alone. */
export function isFailoverStatus(status: StatusLike | undefined | null): status is FailoverStatus {
  return status?.type === "retry" && status.action?.reason === "failover" && typeof status.message === "string"
}

/**
 * The switch notice of a failover status (`anthropic rate-limited, retry in 30 s → github-copilot`), else undefined.
 * The action's message is the notice plus, when the next member must be waited for, ` (in 5 s)`.
 */
export function failoverNotice(status: StatusLike | undefined | null): string | undefined {
  if (!isFailoverStatus(status)) return undefined
  return status.action.message || status.message || undefined
}

/** A model's display name from the provider list, or its id. */
export function modelName(providers: ProviderList | undefined, model: ModelRef): string {
  const provider =
    providers === undefined
      ? undefined
      : isMap(providers)
        ? providers.get(model.providerID)
        : providers.find((entry) => entry.id === model.providerID)
  return provider?.models[model.modelID]?.name ?? model.modelID
}

/** The selection a message was made under: its own for a user message, its parent's for an assistant message. */
export function selectionOf(message: MessageLike, messages: readonly MessageLike[]): ModelRef | undefined {
  if (message.role === "user") return message.model
  if (message.parentID === undefined) return undefined
  return messages.find((entry) => entry.role === "user" && entry.id === message.parentID)?.model
}

/**
 * The member that served the latest step made under `selected` in this session's messages: the newest assistant
 * message whose user message selected the same combined model. Undefined for a non-combined selection or before any
 * step of it.
 */
export function servedMember(selected: Partial<ModelRef> | undefined | null, messages: readonly MessageLike[]): MemberRef | undefined {
  if (!isCombined(selected)) return undefined
  for (let index = messages.length - 1; index >= 0; index--) {
    const message = messages[index]
    if (!message || message.role !== "assistant" || !message.providerID || !message.modelID) continue
    const selection = selectionOf(message, messages)
    if (selection && sameMember(selection, selected)) return { providerID: message.providerID, modelID: message.modelID }
  }
  return undefined
}

/**
 * The prompt footer's model text. For a combined selection: `Claude Sonnet 4.5 (github-copilot)`, naming the member
 * that served the latest step, or the member a failover is moving to while its notice shows; just the model's name
 * before any step. For any other selection: `name` (the stock text) unchanged.
 */
export function servedLabel(input: {
  selected: Partial<ModelRef> | undefined | null
  /** The stock text: the selected model's display name. */
  name: string
  messages?: readonly MessageLike[] | undefined
  status?: StatusLike | undefined | null
}): string {
  if (!isCombined(input.selected)) return input.name
  const switchingTo = isFailoverStatus(input.status) ? input.status.action.provider : undefined
  if (switchingTo) return label({ name: input.name }, { providerID: switchingTo })
  return label({ name: input.name }, servedMember(input.selected, input.messages ?? []))
}

/**
 * An assistant message footer's model text. When its user message selected a combined model:
 * `Claude Sonnet 4.5 (github-copilot)`, the combined model's name with the member that served this very message.
 * Otherwise the served model's display name, as stock.
 */
export function messageLabel(input: { message: MessageLike; messages: readonly MessageLike[]; providers?: ProviderList | undefined }): string {
  const { message, messages, providers } = input
  const served = message.providerID && message.modelID ? { providerID: message.providerID, modelID: message.modelID } : undefined
  const selection = selectionOf(message, messages)
  if (served && isCombined(selection)) return label({ name: modelName(providers, selection) }, served)
  return served ? modelName(providers, served) : (message.modelID ?? "")
}

/**
 * `opencode run`'s banner. Stock: `> build · claude-sonnet-4-5`. Under a combined selection the serving provider is
 * named, `> build · claude-sonnet-4-5 (anthropic)`, because it can change within the run.
 */
export function runBanner(input: { agent: string; served: MemberRef; combined: boolean }): string {
  const base = `> ${input.agent} · ${input.served.modelID}`
  return input.combined ? `${base} (${input.served.providerID})` : base
}

/** `↪ anthropic rate-limited, retry in 30 s → github-copilot`, the line `opencode run` prints for a failover. */
export function runFailoverLine(notice: string): string {
  return `↪ ${notice}`
}

/** An event of OpenCode's bus as `opencode run` receives it; only what is read here is typed. */
export interface RunEventLike {
  type: string
  properties?: unknown
}

/** What `opencode run` prints for one event, besides its stock output. */
export interface RunLines {
  /** The banner to print for this assistant message: the first one, and again whenever the serving member changes. */
  banner?: string
  /** A failover notice line, for stderr. */
  notice?: string
}

/**
 * The state `opencode run` keeps to print the banner again on a switch: the selection of each user message seen and
 * the member last announced. One per event loop; `observe` every event of the stream.
 */
export class RunOutput {
  private readonly selections = new Map<string, ModelRef>()
  private announced: string | undefined
  private lastNotice: string | undefined

  constructor(readonly sessionID: string) {}

  observe(event: RunEventLike): RunLines {
    const props = isRecord(event.properties) ? event.properties : {}
    if (props.sessionID !== this.sessionID) return {}
    if (event.type === "message.updated" && isRecord(props.info)) return this.message(props.info as unknown as MessageLike & { agent?: string })
    if (event.type === "session.status" && isRecord(props.status)) {
      const notice = failoverNotice(props.status as unknown as StatusLike)
      if (notice === undefined || notice === this.lastNotice) return {}
      this.lastNotice = notice
      return { notice: runFailoverLine(notice) }
    }
    return {}
  }

  private message(info: MessageLike & { agent?: string }): RunLines {
    if (info.role === "user") {
      if (info.model) this.selections.set(info.id, info.model)
      return {}
    }
    if (info.role !== "assistant" || !info.providerID || !info.modelID) return {}
    const served = { providerID: info.providerID, modelID: info.modelID }
    const key = `${served.providerID}/${served.modelID}`
    if (key === this.announced) return {}
    const selection = info.parentID === undefined ? undefined : this.selections.get(info.parentID)
    const combined = isCombined(selection)
    // Stock prints the banner once per run; only a combined selection announces a new member.
    if (this.announced !== undefined && !combined) return {}
    this.announced = key
    this.lastNotice = undefined
    return { banner: runBanner({ agent: info.agent ?? "", served, combined }) }
  }
}

function isMap(value: ProviderList): value is ReadonlyMap<string, ProviderLike> {
  return value instanceof Map
}

