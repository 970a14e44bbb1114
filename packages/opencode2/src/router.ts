/**
 * Routing and same-step failover for one OpenCode 2 process, on the engine's pure parts: grouping, config, classify,
 * health, pick and the failover state machine (`transition`), whose actions this edge carries out. OpenCode 2 resolves a step's model again for every attempt, so a combined model is routed by
 * pointing its catalog entry at a member (`pointAt`) and reloading the catalog; the `retry` hook moves a failed step
 * to the next healthy member and asks core for an immediate retry. The catalog is process-wide: every session of the
 * process uses the member the group points at, so a switch is serialised and made only for a failure that cooled
 * the member down for everyone anyway.
 */
import { createHash } from "node:crypto"
import { homedir } from "node:os"
import { join } from "node:path"
import {
  buildGroups,
  classify,
  createFileHealthStore,
  createRedisHealthStore,
  describeRedisUrl,
  defaultHealthPath,
  DEFAULTS,
  fallbackChainFor,
  HealthRegistry,
  initialState,
  parseModelRef,
  pick,
  sameMember,
  singleModelGroup,
  transition,
  resolveConfig,
  SharedLimits,
  type CatalogModel,
  type ClassifiedError,
  type ConfigProblem,
  type FailoverAction,
  type FailoverContext,
  type FailoverEvent,
  type FailoverState,
  type FailureReason,
  type Group,
  type HealthView,
  type LimitsView,
  type MemberRef,
  type RedisHealthStore,
  type ResolvedConfig,
} from "combined-models"
import type { ModelEditor, RetryEvent, V2Model } from "./api.ts"
import { catalogFrom, pointAt, PROVIDER_ID } from "./catalog.ts"
import { refusalStatus } from "./refusal.ts"

/** OpenCode 2's `error.type` where the engine's reading of the error itself says nothing more. */
const REASON_OF_TYPE: Record<string, FailureReason> = {
  "provider.rate-limit": "rate_limit",
  "provider.quota": "quota",
  "provider.internal": "server_error",
  "provider.overloaded": "overloaded",
  "provider.auth": "auth",
  "provider.transport": "network",
  "provider.timeout": "timeout",
  "provider.invalid-request": "invalid_request",
  "provider.context-overflow": "context_overflow",
}

/** Core's message for a request timeout: "Timed out waiting for response headers" / "… for response data" (2.2.5). */
const CORE_TIMEOUT = /^Timed out waiting for response (headers|data)\b/i

/** How long a step waits for the Redis mirror after start-up before it trusts what it has. */
const REDIS_SYNC_WAIT_MS = 500

export function stateDirectory(env: Record<string, string | undefined> = process.env): string {
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), ".local", "state"), "opencode")
}

/** Who holds a credential (a hash, never the secret): a cooldown for a refused key does not apply once the key changes. */
export function keyFingerprint(key: unknown): string | undefined {
  return typeof key === "string" && key !== "" ? createHash("sha256").update(key).digest("hex").slice(0, 16) : undefined
}

/**
 * Steps are kept per session, combined model and kind of request: a session's title request (on the small model,
 * also combined) runs beside its step, and a compaction between two steps of a turn is not a turn of its own. The
 * retry hook names only the session and the model: it goes to the kind whose attempt failed or was turned away last
 * (`failedKind`), else to the kind requested last (`latestKind`).
 */
function stepKey(sessionID: string, groupID: string, kind = "primary"): string {
  return kind === "primary" ? `${sessionID}\u0000${groupID}` : `${sessionID}\u0000${groupID}\u0000${kind}`
}

/**
 * One step of one session on a combined model. Its failover state is the engine's machine's (machine.ts): same-member
 * retries, the switch budget, providers given up on and the depth down `fallback_models` live there, per step (core
 * owns the turn: a plugin sees attempts of a step, not the turn around them).
 */
interface Step {
  groupID: string
  member: MemberRef
  startedAt: number
  state: FailoverState
  /** The retry hook asked for another attempt: the next request of this session is that attempt, not a new step. */
  retrying: boolean
  /**
   * A step that no failure chose the member of: routed when its request is about to leave (`route`), where its size
   * is known. False once routed, and for an attempt the machine chose after a failure.
   */
  unrouted?: boolean
  /** The context hook saw the session's next step start from the user's message (a new turn) or from tool results. */
  newTurn?: boolean
  /** How many messages the step's conversation had: an attempt's is the same, the next step's is longer. */
  messages?: number
  /** When the attempt the retry hook asked for is due (its delay from the decision). */
  retryDueAt?: number
  /** The agent the step runs for: its own `fallback_models` chain applies. */
  agent?: string
  /**
   * What the last served step of the session spent at its member (the provider's count: its request and answer, and
   * the prefix that member holds cached): the next step is sized from it, as the 1.x edition sizes it.
   */
  lastSpent?: { member: MemberRef; tokens: number; cached: number }
  /** The engine's reason to end the step, for its next attempt to carry (`refusal.ts`); taken as it is sent. */
  refusal?: { message: string; status: 429 | 503 }
  /** The step ended with the engine's reason: the retry hook that follows stops core's retries. */
  surfaced?: boolean
  /** What the machine decided for a step turned away before it left: carried out by the retry hook that follows. */
  decided?: FailoverAction[]
  /**
   * The attempt was turned away before it left (its member is cooling down since the catalog was last pointed): its
   * failure is ours, not the member's, and cools nothing.
   */
  deflected?: boolean
}

/**
 * How long after a retry is due its attempt may still come (core prepares it: the catalog reload, the request). A
 * conversation that grew later than that is a new question, not the retry's attempt.
 */
const RETRY_SLACK_MS = 5_000

/** Sessions whose failover state is kept (sticky, the turn, the switch budget): the newest. */
const SESSIONS_KEPT = 500

/** A run of base64 this long is an attachment (an image, a PDF), not text: a provider counts it far below 4 a token. */
const ATTACHMENT = /[A-Za-z0-9+/=]{4096,}/g
/** What a provider counts for one attachment, about (Anthropic: an image of ~1.15 megapixels is ~1,600 tokens). */
const ATTACHMENT_TOKENS = 1_600

/**
 * A request's size in tokens for read-ahead: its body as sent (system prompt, tool definitions, history), about four
 * characters a token as OpenCode's own estimate counts (`Token.estimate`), each attachment at what a provider counts
 * for one. JSON adds a little, which errs on the side of moving on before a limit.
 */
export function requestTokens(body: string): number {
  let attachments = 0
  const text = body.replace(ATTACHMENT, () => {
    attachments++
    return ""
  })
  return Math.ceil(text.length / 4) + attachments * ATTACHMENT_TOKENS
}

/**
 * The size `route` reads ahead with, as the 1.x edition sizes a step: after a served step, what the provider counted
 * for it (its request and answer, which the next request carries, with `STEP_MARGIN` for what it adds) and the prefix
 * its member holds cached (a limit that leaves out cache reads leaves it out); a session's first step here, its body.
 */
function stepSize(step: Pick<Step, "lastSpent">, body: string | undefined): Pick<Extract<FailoverEvent, { type: "step_requested" }>, "contextTokens" | "cached" | "margin"> {
  const spent = step.lastSpent
  if (spent) return { contextTokens: spent.tokens, ...(spent.cached > 0 ? { cached: { member: spent.member, tokens: spent.cached } } : {}) }
  return body === undefined ? {} : { contextTokens: requestTokens(body), margin: 1 }
}

/** Where a deflected attempt is sent: a loopback port nothing listens on, refused at once, nothing leaves the machine. */
export const DEFLECT_URL = "http://127.0.0.1:9/combined-models-deflected"

export interface SwitchEvent {
  sessionID: string
  groupID: string
  from: MemberRef
  to: MemberRef
  error: ClassifiedError
  notice: string
}

export interface RouterOptions {
  options: unknown
  stateDir?: string
  clock?: () => number
  log?: (line: string) => void
  /** Reloads OpenCode's model catalog (the model transform runs again). */
  reload: () => Promise<unknown>
  /**
   * `round_robin`: the group's turn counter, shared by the processes of the machine (the engine's `takeRotation`, as
   * the 1.x edition counts): `take` as a turn starts, `peek` where the entry is pointed ahead of a turn.
   */
  rotation?: { peek(groupID: string): number; take(groupID: string): number }
  /**
   * The member that served a session's latest step on a combined model, and when, as another process recorded it
   * (`opencode run --session` is a process a turn): `sticky: "session"` and `{ window }` go on from there.
   */
  lastServed?: (sessionID: string, groupID: string) => { member: MemberRef; at: number } | undefined
  /**
   * The key OpenCode holds for a provider outside its settings (a stored connection, an environment variable), read
   * through its integration: a member's cooldowns for a refused key are that key's, so a new key is tried again.
   */
  keyOf?: (integrationID: string) => Promise<string | undefined>
}

export class Router {
  readonly config: ResolvedConfig
  readonly problems: ConfigProblem[]
  /** Bad options: no combined model is added and nothing is routed. */
  readonly disabled: boolean
  readonly health: HealthRegistry
  /** The Redis store under the registry, with `health_store: { redis }`. */
  readonly redis: RedisHealthStore | undefined
  readonly view: HealthView
  /** Rate-limit readings of this process and the machine (`limits.json`, shared with the 1.x edition). */
  readonly limits: SharedLimits
  /** The readings as routing reads them, each member with its credential: `least_limited` and read-ahead. */
  readonly limitsView: LimitsView
  groups = new Map<string, Group>()
  /** The member each combined model's catalog entry points at now. */
  readonly serving = new Map<string, MemberRef>()
  /** Every connected model with its provider's settings merged in, by `provider/model`: what a member is sent as. */
  private members = new Map<string, V2Model>()
  /** The same models as the engine reads them, by `provider/model`: a `fallback_models` entry that names one. */
  private catalogModels = new Map<string, CatalogModel>()
  /** Each member provider's wire, integration and whether its key is in its settings (else OpenCode's connection holds it). */
  readonly providerInfo = new Map<string, { package?: string; integrationID?: string; hasKey: boolean }>()
  private readonly steps = new Map<string, Step>()
  /** A session's first context here, before it has a step: how many messages it had. */
  private readonly firstContexts = new Map<string, number>()
  /** The kind of the latest request of each session and combined model: whose step a retry is. */
  private readonly latestKind = new Map<string, string>()
  /** The kind whose attempt failed (or was turned away) last, per session and combined model, until a retry reads it. */
  private readonly failedKind = new Map<string, string>()
  /** Where a group's entry is being pointed (its catalog reload under way): `serving` changes once it is done. */
  private readonly pointing = new Map<string, MemberRef>()
  /** Response headers of each session's latest failed response: `retry` gets no headers. */
  private readonly failedHeaders = new Map<string, Headers>()
  /** In-stream failures the guard read, by step: the payload is richer than what core hands the retry hook. */
  private readonly streamFailures = new Map<string, ClassifiedError>()
  readonly switches: SwitchEvent[] = []
  private chain: Promise<unknown> = Promise.resolve()
  private readonly clock: () => number
  private readonly log: (line: string) => void
  private readonly reloadCatalog: () => Promise<unknown>
  private readonly rotation?: RouterOptions["rotation"]
  private readonly lastServed?: RouterOptions["lastServed"]
  private readonly keyOf?: RouterOptions["keyOf"]
  /** Fingerprints of the keys OpenCode holds outside the settings, by integration, as last read. */
  private readonly heldKeys = new Map<string, string | undefined>()

  constructor(options: RouterOptions) {
    this.clock = options.clock ?? Date.now
    this.log = options.log ?? (() => {})
    this.reloadCatalog = options.reload
    this.rotation = options.rotation
    this.lastServed = options.lastServed
    this.keyOf = options.keyOf
    const resolved = resolveConfig(options.options ?? {})
    this.disabled = !resolved.ok
    this.problems = resolved.ok ? resolved.warnings : [...resolved.errors, ...resolved.warnings]
    this.config = resolved.ok ? resolved.config : DEFAULTS
    const stateDir = options.stateDir ?? stateDirectory()
    const file = createFileHealthStore(defaultHealthPath(stateDir), { clock: options.clock })
    // `health_store: { redis }`: cooldowns shared by every machine on that server, the file underneath while it is away.
    const setting = this.config.healthStore
    this.redis =
      setting.kind === "redis"
        ? createRedisHealthStore({
            url: setting.url,
            local: file,
            clock: options.clock,
            onProblem: (problem) => this.log(`combined-models: ${problem ?? `Redis at ${describeRedisUrl(setting.url)} is reachable again`}`),
          })
        : undefined
    this.health = new HealthRegistry({
      cooldowns: this.config.cooldowns,
      clock: options.clock,
      store: this.redis ?? file,
      // Reading the Redis store is reading its mirror in memory: every decision sees what was published.
      ...(this.redis ? { refreshIntervalMs: 0 } : {}),
    })
    this.view = { cooldownOf: (member, now) => this.health.cooldownOf(member, now, { credential: this.credentialOf(member) }) }
    this.limits = new SharedLimits(stateDir)
    this.limitsView = this.limits.view((member) => this.credentialOf(member))
  }

  /** The plugin's scope closed (a config change loads it again, or OpenCode exits): the Redis clients go. */
  close(): void {
    this.redis?.close()
  }

  private credentialOf(member: MemberRef): string | undefined {
    const own = keyFingerprint(this.members.get(`${member.providerID}/${member.modelID}`)?.settings?.apiKey)
    if (own) return own
    const info = this.providerInfo.get(member.providerID)
    return this.heldKeys.get(info?.integrationID ?? member.providerID)
  }

  /** The key a request of this integration was sent with (the `http.request` hook read it): its cooldowns are its own. */
  noteKey(integrationID: string, key: string | undefined): void {
    this.heldKeys.set(integrationID, keyFingerprint(key))
  }

  /**
   * Reads the keys OpenCode holds for the group's members outside their settings, before routing on cooldowns: once,
   * and again while a member is kept out by a cooldown of its key (the user may have stored a new one since; no
   * request goes to a cooled member, so `http.request` would never read it).
   */
  private async learnKeys(group: Group, now: number): Promise<void> {
    if (!this.keyOf) return
    const wanted = new Set<string>()
    for (const member of group.members) {
      const info = this.providerInfo.get(member.providerID)
      const integration = info?.integrationID ?? member.providerID
      if (info && !info.hasKey && (!this.heldKeys.has(integration) || this.view.cooldownOf(member, now)?.credential !== undefined)) wanted.add(integration)
    }
    await Promise.all(
      [...wanted].map(async (integration) => {
        // A lookup that fails says nothing of the key: the one known stays.
        await this.keyOf!(integration).then(
          (key) => this.noteKey(integration, key),
          () => {},
        )
      }),
    )
  }

  /**
   * The model transform: groups the connected providers' models and writes each combined model's entry, pointing at
   * the member it serves from (kept while healthy, else the first healthy one in the user's order).
   */
  transform(editor: ModelEditor): void {
    if (this.disabled || !this.config.enabled) return
    const providers = catalogFrom(editor)
    this.members = new Map()
    this.catalogModels = new Map(providers.flatMap((provider) => provider.models.map((model) => [`${model.providerID}/${model.modelID}`, model] as const)))
    for (const provider of providers)
      for (const model of provider.models) {
        const raw = editor.get(provider.id, model.modelID)
        if (raw) this.members.set(`${provider.id}/${model.modelID}`, raw)
        const info = editor.provider.get(provider.id)?.provider
        this.providerInfo.set(provider.id, { package: raw?.package ?? info?.package, integrationID: info?.integrationID, hasKey: typeof (raw?.settings?.apiKey ?? info?.settings?.apiKey) === "string" })
      }
    const { groups } = buildGroups(providers, this.config)
    this.log(`combined-models: ${groups.length} combined models from ${providers.length} providers: ${groups.map((g) => `${g.id} [${g.members.map((m) => `${m.providerID}/${m.modelID}`).join(", ")}]`).join("; ")}`)
    this.groups = new Map(groups.map((group) => [group.id, group]))
    const now = this.clock()
    for (const group of groups) {
      const kept = this.pointing.get(group.id) ?? this.serving.get(group.id)
      const member = kept && this.usable(group, kept, now) ? kept : this.memberFor(group, now)
      if (!member) continue
      const source = editor.get(member.providerID, member.modelID)
      if (!source) continue
      const provider = editor.provider.get(member.providerID)?.provider
      editor.update(PROVIDER_ID, group.id, (model) => pointAt(model, source, provider, group.name))
      // While `switchTo` reloads, requests still resolve the entry as it was: `serving` changes when the reload is done.
      if (this.pointing.has(group.id)) this.pointing.set(group.id, member)
      else this.serving.set(group.id, member)
    }
    for (const id of [...this.serving.keys()]) if (!this.groups.has(id)) this.serving.delete(id)
  }

  /** A member still in the group, or down one of its `fallback_models` chains, and not cooling down. */
  private usable(group: Group, member: MemberRef, now: number): boolean {
    const chains = [group, ...this.chainsOf(group)]
    return chains.some((g) => g.members.some((m) => sameMember(m, member))) && !this.view.cooldownOf(member, now)
  }

  /** The `fallback_models` chain after a group for an agent (its own, else the `"*"` agent's, else the global one). */
  fallbacksFor(group: Group, agent: string | undefined): Group[] {
    const selected = `${PROVIDER_ID}/${group.id}`
    return fallbackChainFor(this.config, agent)
      .filter((reference) => reference !== selected)
      .flatMap((reference) => {
        const parsed = parseModelRef(reference)
        if (!parsed) return []
        if (parsed.providerID === PROVIDER_ID) return this.groups.get(parsed.modelID) ?? []
        const model = this.catalogModels.get(reference)
        return model ? [singleModelGroup(model)] : []
      })
  }

  /** Every configured chain's groups after this group (any agent's): where its entry may point after a fallback. */
  private chainsOf(group: Group): Group[] {
    const agents = [undefined, ...Object.keys(this.config.agentFallbackModels)]
    return agents.flatMap((agent) => this.fallbacksFor(group, agent))
  }

  private contextFor(group: Group, agent: string | undefined): FailoverContext {
    return { group, fallbacks: this.fallbacksFor(group, agent), health: this.view, config: this.config, limits: this.limitsView }
  }

  /** Feeds the step's machine one event; the cooldowns and recoveries it decided are recorded here, the edge. */
  private feed(step: Step, event: FailoverEvent, context: FailoverContext): FailoverAction[] {
    const next = transition(step.state, event, context)
    step.state = next.state
    for (const action of next.actions) {
      if (action.type === "cool_down")
        this.health.report(action.member, action.error, { attemptStartedAt: action.attemptStartedAt, credential: this.credentialOf(action.member) })
      else if (action.type === "recovered")
        this.health.recordSuccess(action.member, { attemptStartedAt: action.attemptStartedAt, credential: this.credentialOf(action.member) })
    }
    return next.actions
  }

  /** The member a group serves from now: the one it points at while that one is ready, else the first ready one. */
  private memberFor(group: Group, now: number, failedProviders: readonly string[] = []): MemberRef | undefined {
    const rotation = group.strategy === "round_robin" ? this.rotation?.peek(group.id) : undefined
    const result = pick(group, this.view, this.config, { failedProviders, ...(rotation !== undefined ? { rotation } : {}) }, { now, limits: this.limitsView })
    if (result.kind === "none") return undefined
    return { providerID: result.member.providerID, modelID: result.member.modelID }
  }

  /**
   * Points a group at another member and reloads the catalog; changes are serialised (the catalog is process-wide).
   * `serving` (what a request resolves now) changes only once the reload is done: a step that resolved the entry
   * meanwhile went to the member it pointed at before.
   */
  private switchTo(groupID: string, member: MemberRef): Promise<void> {
    const run = this.chain.then(async () => {
      if (sameMember(this.serving.get(groupID), member)) return
      this.pointing.set(groupID, member)
      try {
        await this.reloadCatalog()
        const pointed = this.pointing.get(groupID)
        if (pointed) this.serving.set(groupID, pointed)
      } finally {
        this.pointing.delete(groupID)
      }
    })
    this.chain = run.catch(() => {})
    return run
  }

  /**
   * The context hook of a session's step on a combined model: whether it starts from the user's message (a new turn)
   * or from tool results (the turn goes on, on the member that served it while it is healthy, `sticky`). It fires for
   * every attempt; a retry's is not a new step.
   */
  onContext(sessionID: string, groupID: string, messages: readonly { role: string }[]): void {
    const key = stepKey(sessionID, groupID)
    const step = this.steps.get(key)
    if (!step) {
      // The session's first step here: its size is kept for the step `onRequest` makes.
      this.firstContexts.set(key, messages.length)
      return
    }
    if (step.retrying) {
      // The attempt a retry asked for carries the step's conversation as it was, or, when the failure came after
      // output, core's continuation of it (the partial answer and a note to go on) as soon as the retry is due. A
      // longer conversation well after that is a new step: the retry was given up (the user stopped the turn while it
      // waited and asked something else), and nothing of it carries over.
      const due = (step.retryDueAt ?? 0) + RETRY_SLACK_MS
      if (step.messages === undefined || messages.length <= step.messages || this.clock() <= due) {
        step.messages = messages.length
        return
      }
      this.log(`combined-models: the retry of ${groupID} was given up; a new step starts`)
      step.retrying = false
      step.deflected = false
      step.decided = undefined
      step.state = { ...step.state, phase: "idle", attempt: undefined, next: undefined }
    }
    step.messages = messages.length
    step.newTurn = messages.at(-1)?.role !== "tool"
  }

  /**
   * A request of a combined model is about to go out: the attempt the retry hook asked for, or a fresh step (of a new
   * turn, or of the turn going on), which `route` routes once its size is known. A session's failover state is kept
   * from step to step: the member that served the turn, the last one that served the session (`sticky`).
   */
  onRequest(sessionID: string, groupID: string, kind = "primary", agent?: string): void {
    const group = this.groups.get(groupID)
    const member = this.serving.get(groupID)
    if (!group || !member) return
    const base = stepKey(sessionID, groupID)
    this.latestKind.delete(base)
    this.latestKind.set(base, kind)
    for (const oldest of this.latestKind.keys()) {
      if (this.latestKind.size <= SESSIONS_KEPT) break
      this.latestKind.delete(oldest)
    }
    const key = stepKey(sessionID, groupID, kind)
    const step = this.steps.get(key)
    const now = this.clock()
    const context = this.contextFor(group, agent ?? step?.agent)
    if (step?.retrying && step.groupID === groupID) {
      // The attempt the machine chose: `route` leaves it where it goes.
      step.retrying = false
      step.unrouted = false
      step.member = member
      step.startedAt = now
      this.feed(step, { type: "step_started", at: now, member }, context)
      return
    }
    // Only a primary step has a context hook; a title or summary request is a turn of its own.
    const continuing = kind === "primary" && step !== undefined && step.newTurn === false && step.state.phase === "idle"
    const fresh: Step = {
      groupID,
      member,
      startedAt: now,
      state: step?.state ?? this.sessionStart(sessionID, groupID),
      retrying: false,
      unrouted: true,
      ...(agent !== undefined ? { agent } : {}),
      ...(step?.lastSpent ? { lastSpent: step.lastSpent } : {}),
    }
    // What a failed response of the last step left, and no retry hook read, is not this step's.
    this.failedHeaders.delete(key)
    this.streamFailures.delete(key)
    const messages = step ? step.messages : this.firstContexts.get(key)
    this.firstContexts.delete(key)
    if (messages !== undefined) fresh.messages = messages
    if (!continuing) {
      // A turn takes its place in the rotation; a title or summary request only reads it.
      const rotation = group.strategy !== "round_robin" ? undefined : kind === "primary" ? this.rotation?.take(group.id) : this.rotation?.peek(group.id)
      this.feed(fresh, { type: "turn_started", at: now, ...(rotation !== undefined ? { rotation } : {}) }, context)
    }
    this.feed(fresh, { type: "step_started", at: now, member }, context)
    this.steps.delete(key)
    this.steps.set(key, fresh)
    for (const oldest of this.steps.keys()) {
      if (this.steps.size <= SESSIONS_KEPT) break
      this.steps.delete(oldest)
    }
  }

  /** A session this process has not routed yet: with `sticky` across turns, it goes on from its last served step. */
  private sessionStart(sessionID: string, groupID: string): FailoverState {
    const state = initialState(groupID)
    if (this.config.sticky === "off" || this.config.sticky === "turn") return state
    const last = this.lastServed?.(sessionID, groupID)
    return last ? { ...state, lastServed: last.member, lastServedAt: last.at } : state
  }

  /**
   * A fresh step resolved its model before any hook ran, so it goes to the member the catalog pointed at then. Here,
   * its request about to leave, the machine routes it as the 1.x edition does: cooldowns (another process or machine
   * may have cooled that member since, which Redis may have told us only after start-up), `sticky`, the strategy
   * (`least_limited` by the rate-limit readings) and read-ahead with the request's size. When it goes elsewhere the
   * attempt is turned away before it leaves: `true` tells the hook to send it to `DEFLECT_URL`, and the retry that
   * follows goes to the member the machine chose, with nothing recorded against the one passed over.
   */
  async route(sessionID: string, groupID: string, body?: string | (() => Promise<string>), kind = "primary"): Promise<boolean> {
    const step = this.steps.get(stepKey(sessionID, groupID, kind))
    const group = this.groups.get(groupID)
    if (!step || !group) return false
    // The attempt that carries the engine's reason to end the step: it goes to the plugin's loopback (`takeRefusal`).
    // (A new question a user asks instead is a new step, without it: `onContext`, `onRequest`.)
    if (step.refusal) {
      this.noteFailed(sessionID, groupID, kind)
      return true
    }
    // An attempt the machine chose (a retry, a move, a same-member retry after its wait) is not routed again.
    if (!step.unrouted) return false
    step.unrouted = false
    // With Redis the mirror loads after start-up: wait a moment for it on the first step, never longer.
    if (this.redis && !this.redis.synced) await this.redis.whenSynced(REDIS_SYNC_WAIT_MS)
    await this.learnKeys(group, this.clock())
    const now = this.clock()
    // The machine routes from the step as requested, not started: the attempt on the pointed member is only begun.
    const requested = { ...step.state, attempt: undefined, next: undefined }
    // The body is read only where it sizes the step (a session's first one here): most steps are sized by what the
    // last one spent, and a long conversation's body is not copied for them.
    const text = step.lastSpent ? undefined : typeof body === "function" ? await body() : body
    const decided = transition(requested, { type: "step_requested", at: now, ...stepSize(step, text) }, this.contextFor(group, step.agent))
    const use = decided.actions.find((action) => action.type === "use")
    const surface = decided.actions.find((action) => action.type === "surface")
    if (surface) {
      // Every member is out beyond max_wait: no provider is asked, and the user reads why, each member on a line.
      step.state = decided.state
      this.endWith(step, group, surface)
      this.noteFailed(sessionID, groupID, kind)
      this.log(`combined-models: no member of ${groupID} can take this step; ${surface.message.replace(/\n/g, " ")}`)
      return true
    }
    if (use && sameMember(use.member, step.member)) {
      step.state = { ...decided.state, phase: "streaming", next: undefined, attempt: step.state.attempt }
      return false
    }
    step.state = decided.state
    step.deflected = true
    step.decided = decided.actions
    this.noteFailed(sessionID, groupID, kind)
    this.log(`combined-models: this step of ${groupID} goes to ${use ? `${use.member.providerID}/${use.member.modelID}` : "no member now"}, not ${step.member.providerID}/${step.member.modelID}${use?.notice ? ` (${use.notice})` : ""}; turned away before it left`)
    return true
  }

  /** The step ends with the machine's `surface`: its next attempt carries the message, the retry after it stops. */
  private endWith(step: Step, group: Group, surface: Extract<FailoverAction, { type: "surface" }>): void {
    const now = this.clock()
    const cooling = group.members.flatMap((member) => this.view.cooldownOf(member, now)?.reason ?? [])
    const reasons = surface.failures.length > 0 ? surface.failures.map((failure) => failure.error.reason) : cooling
    step.refusal = { message: surface.message, status: refusalStatus(reasons) }
    step.surfaced = true
  }

  /** The engine's reason to end this step, once, for the request `route` turned away with it. */
  takeRefusal(sessionID: string, groupID: string, kind = "primary"): { message: string; status: 429 | 503 } | undefined {
    const step = this.steps.get(stepKey(sessionID, groupID, kind))
    const refusal = step?.refusal
    if (step) step.refusal = undefined
    return refusal
  }

  /** A member's response came back: its rate-limit headers are the latest reading of the allowance it spent. */
  onResponse(sessionID: string, groupID: string, headers: Headers, kind = "primary"): void {
    const member = this.memberOf(sessionID, groupID, kind)
    if (!member) return
    const credential = this.credentialOf(member)
    this.limits.record({ ...member, ...(credential !== undefined ? { credential } : {}) }, headers, this.clock())
  }

  /** The member a step of this session and combined model is being served by now. */
  memberOf(sessionID: string, groupID: string, kind = "primary"): MemberRef | undefined {
    return this.steps.get(stepKey(sessionID, groupID, kind))?.member ?? this.serving.get(groupID)
  }

  /** The step key a retry of this session and model is about: the kind of request it made last. */
  private retryKey(sessionID: string, groupID: string): string {
    const base = stepKey(sessionID, groupID)
    const kind = this.failedKind.get(base) ?? this.latestKind.get(base)
    this.failedKind.delete(base)
    return stepKey(sessionID, groupID, kind)
  }

  /** An attempt of this kind failed or was turned away: the retry that follows is its step's. */
  private noteFailed(sessionID: string, groupID: string, kind: string): void {
    this.failedKind.set(stepKey(sessionID, groupID), kind)
  }

  /** A failed response's headers (Retry-After and the wire's own), for the retry hook that follows. */
  onFailedResponse(sessionID: string, groupID: string, headers: Headers, kind = "primary"): void {
    this.noteFailed(sessionID, groupID, kind)
    this.failedHeaders.set(stepKey(sessionID, groupID, kind), headers)
  }

  /** A member failed inside its 200 before anything was released: the error payload, read before core's retry. */
  onStreamFailure(sessionID: string, groupID: string, payload: unknown, kind = "primary"): void {
    this.noteFailed(sessionID, groupID, kind)
    const key = stepKey(sessionID, groupID, kind)
    this.streamFailures.set(key, classify(payload ?? {}, { now: this.clock(), providerID: this.steps.get(key)?.member.providerID }))
  }

  /** The step's response finished as the provider ends a message. */
  onServed(sessionID: string, groupID: string, usage?: { input: number; output: number; cacheRead?: number; cacheWrite?: number }, kind = "primary"): void {
    const key = stepKey(sessionID, groupID, kind)
    const step = this.steps.get(key)
    const group = this.groups.get(groupID)
    if (!step || step.retrying || !group) return
    if (usage) step.lastSpent = { member: step.member, tokens: usage.input + usage.output, cached: (usage.cacheRead ?? 0) + (usage.cacheWrite ?? 0) }
    // The state stays: the session's next step reads who served this one (`sticky`, the turn).
    this.feed(step, { type: "step_finished", at: this.clock() }, this.contextFor(group, step.agent))
  }

  /** The engine's reading of the failure core hands the retry hook. */
  classify(event: RetryEvent, key: string = this.retryKey(event.sessionID, event.model.id)): ClassifiedError {
    const headers = this.failedHeaders.get(key)
    this.failedHeaders.delete(key)
    const inStream = this.streamFailures.get(key)
    this.streamFailures.delete(key)
    if (inStream && inStream.reason !== "unknown") return inStream
    const error = event.error ?? { type: "unknown", message: "" }
    const classified = classify(
      {
        message: error.message,
        ...(error.status !== undefined ? { statusCode: error.status } : {}),
        // The engine reads a `Headers` as it comes (lower-cased names).
        ...(headers ? { responseHeaders: headers } : {}),
        ...(error.response?.body !== undefined ? { responseBody: error.response.body } : {}),
      },
      { now: this.clock(), providerID: this.steps.get(key)?.member.providerID },
    )
    const byType = REASON_OF_TYPE[error.type]
    // Core's own request timeouts (the combined provider's headerTimeout / chunkTimeout, set from
    // combined_models.timeouts) come as transport failures; they are the engine's `timeout`: not retried on the same
    // member, as in the 1.x edition.
    const timedOut = error.type === "provider.transport" && CORE_TIMEOUT.test(error.message ?? "")
    const reading = timedOut ? { ...classified, reason: "timeout" as const } : classified.reason === "unknown" && byType ? { ...classified, reason: byType } : classified
    if (reading.retryAfterMs === undefined && typeof error.retryAfterMs === "number" && error.retryAfterMs > 0)
      return { ...reading, retryAfterMs: error.retryAfterMs }
    return reading
  }

  /**
   * The retry hook for a combined model: the step's machine decides (machine.ts `step_failed`), and its actions are
   * carried out here, as OpenCode 2 lets a plugin: `cool_down` in the shared health registry; `retry` (the same member
   * after the short wait it named, `retries_before_failover`, keeping its prompt cache) as core's decision with that
   * delay; `replay` / `continue` / `wait` / `use` by pointing the combined model's catalog entry at the member (down
   * `fallback_models` too) and an immediate (or waited) retry; `surface` by stopping core's retries so its error shows
   * now; `pass_through` keeps core's own decision. Core replays the step itself in the same message while nothing was
   * shown, and continues from completed tool results itself: replay and continue are the same request here.
   */
  async onRetry(event: RetryEvent): Promise<void> {
    const groupID = event.model.id
    const group = this.groups.get(groupID)
    const key = this.retryKey(event.sessionID, groupID)
    const step = this.steps.get(key)
    if (!group || !step) return
    await this.decideRetry(event, step, group, key)
    // When the attempt asked for is due: a longer conversation well after it is a new step (`onContext`).
    if (step.retrying) step.retryDueAt = this.clock() + (event.decision.retry ? (event.decision.delay ?? 0) : 0)
  }

  private async decideRetry(event: RetryEvent, step: Step, group: Group, key: string): Promise<void> {
    const context = this.contextFor(group, event.agent)
    const now = this.clock()
    if (step.surfaced) {
      // The attempt that carried the engine's reason: core shows it now.
      step.surfaced = false
      step.refusal = undefined
      step.retrying = false
      event.decision = { retry: false }
      return
    }
    if (step.deflected) {
      // Our own turning away, not the member's failure: the step goes where the machine routed it.
      step.deflected = false
      const decided = step.decided
      step.decided = undefined
      if (decided) {
        await this.carryOut(event, step, decided)
        return
      }
      step.state = { ...step.state, attempt: undefined, next: undefined }
      await this.carryOut(event, step, this.feed(step, { type: "step_requested", at: now }, context))
      return
    }
    const error = this.classify(event, key)
    this.log(`combined-models: retry hook attempt ${event.attempt} on ${step.member.providerID}/${step.member.modelID}: ${event.error?.type} → ${error.reason}`)
    // A step that began on a member down the chain (the entry still pointed there) fails over from that depth.
    const depth = [group, ...context.fallbacks!].findIndex((g) => g.members.some((m) => sameMember(m, step.member)))
    if (depth > 0 && step.state.turn.depth === 0) step.state = { ...step.state, turn: { ...step.state.turn, depth } }
    await this.carryOut(event, step, this.feed(step, { type: "step_failed", at: now, error }, context), error)
  }

  /** The machine's decision for the failed (or deflected) attempt, as OpenCode 2's retry `decision` and the catalog. */
  private async carryOut(event: RetryEvent, step: Step, actions: FailoverAction[], error?: ClassifiedError): Promise<void> {
    const groupID = event.model.id
    for (const action of actions) {
      switch (action.type) {
        case "pass_through":
          this.log(`combined-models: ${step.member.providerID} failed (${action.error.reason}); not a failover matter, left to OpenCode`)
          return
        case "surface": {
          this.log(`combined-models: ${action.cause === "switch_budget" ? `${groupID} switched too often in this step (max_switches_per_turn)` : `every member of ${groupID} failed in this step`}; OpenCode shows the error. ${action.message.replace(/\n/g, " ")}`)
          const group = this.groups.get(groupID)
          if (!group) {
            event.decision = { retry: false }
            return
          }
          // One more attempt, to the plugin's loopback, carries the engine's message (each member's failure): core
          // shows the error of a step's last attempt, not one a plugin names.
          this.endWith(step, group, action)
          step.retrying = true
          event.decision = { retry: true, delay: 0 }
          return
        }
        case "retry": {
          const to = { providerID: action.member.providerID, modelID: action.member.modelID }
          this.log(`combined-models: ${action.notice}`)
          step.retrying = true
          await this.switchTo(groupID, to)
          event.decision = { retry: true, delay: action.delayMs }
          return
        }
        case "replay":
        case "continue":
        case "wait":
        case "use": {
          const to = { providerID: action.member.providerID, modelID: action.member.modelID }
          const notice = "notice" in action ? action.notice : undefined
          // A move made before anything failed (read ahead: the member is near its limit) is a switch the user sees too.
          const passedOver = this.view.cooldownOf(step.member, this.clock())
          const cause = error ?? (notice ? { reason: passedOver?.reason ?? ("rate_limit" as const), message: notice } : undefined)
          if (cause && !sameMember(step.member, to) && notice) this.switches.push({ sessionID: event.sessionID, groupID, from: step.member, to, error: cause, notice })
          if (notice) this.log(`combined-models: ${notice}`)
          step.retrying = true
          await this.switchTo(groupID, to)
          event.decision = { retry: true, delay: action.type === "wait" ? action.delayMs : 0 }
          return
        }
      }
    }
  }

  /**
   * After a served step, the group's entry is pointed where this session's next step will go, so it leaves without
   * being turned away: the same turn going on (`next: "step"`, the step ended in tool calls) stays with the member
   * that served it while it is healthy; a new turn (`"turn"`) goes where the machine routes one (`sticky`, the
   * strategy and its rotation, cooldowns another process recorded). Without a session: the group's first ready member.
   */
  async refresh(groupID: string, sessionID?: string, next: "turn" | "step" = "turn"): Promise<void> {
    const group = this.groups.get(groupID)
    const current = this.serving.get(groupID)
    if (!group || !current) return
    const now = this.clock()
    const step = sessionID === undefined ? undefined : this.steps.get(stepKey(sessionID, groupID))
    if (step && !step.retrying) {
      const context = this.contextFor(group, step.agent)
      const rotation = group.strategy === "round_robin" ? this.rotation?.peek(group.id) : undefined
      let state: FailoverState = { ...step.state, attempt: undefined, next: undefined }
      if (next === "turn") state = transition(state, { type: "turn_started", at: now, ...(rotation !== undefined ? { rotation } : {}) }, context).state
      const use = transition(state, { type: "step_requested", at: now }, context).actions.find((action) => action.type === "use")
      // Against where the entry is being pointed, when a reload is under way.
      if (use && !sameMember(use.member, this.pointing.get(groupID) ?? current)) await this.switchTo(groupID, { providerID: use.member.providerID, modelID: use.member.modelID })
      return
    }
    const preferred = this.memberFor(group, now)
    // Every member of the group is cooling and the entry points down its fallback chain at one that answers: stay.
    if (preferred && this.view.cooldownOf(preferred, now) && this.usable(group, current, now)) return
    if (preferred && !sameMember(preferred, current)) await this.switchTo(groupID, preferred)
  }
}
