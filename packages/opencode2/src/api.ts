/**
 * The part of OpenCode 2's plugin API this plugin relies on, typed by us from what the end-to-end tests pin against
 * the released binary (`@opencode/plugin` is served by the binary and is not on the npm registry). Only the fields
 * we read or write are typed; `shape.ts` checks them at start-up so a release that differs is met with one log line,
 * not a crash.
 */

/** `{ providerID, id, variant }` as the session hooks report the model of a request. */
export interface HookModel {
  providerID: string
  id: string
  variant?: string
}

/** What every session hook about a model call carries. `kind`: `primary`, `compaction`, `generate`, `title`. */
export interface RequestEvent {
  sessionID: string
  agent: string
  model: HookModel
  kind: string
}

/** `model.request`: may change `baseURL` and `headers` (not the credential header). */
export interface ModelRequestEvent extends RequestEvent {
  baseURL?: string
  headers: Record<string, string>
}

/** `http.request`: may replace `request` whole. */
export interface HttpRequestEvent extends RequestEvent {
  request: Request
}

/** `http.response`: may replace `response`; its body is the live stream, not a buffered copy. */
export interface HttpResponseEvent extends RequestEvent {
  request: Request
  response: Response
}

/**
 * `retry`: called for every failed attempt of a step while core's budget lasts (about ten attempts), also where core
 * would not retry (`decision.retry` false). Only `decision` may be changed. No response headers: `retryAfterMs` is
 * what core parsed from `retry-after` / `retry-after-ms`.
 */
export interface RetryEvent {
  sessionID: string
  agent: string
  model: HookModel
  attempt: number
  error: {
    /** `provider.rate-limit`, `provider.quota`, `provider.internal`, `provider.auth`, `provider.transport`, … */
    type: string
    message: string
    status?: number
    response?: { body?: string }
    retryAfterMs?: number
  }
  decision: { retry: boolean; delay?: number }
}

/**
 * `context`: the step's conversation before it is sent, once per primary step (not for title requests), after the
 * step's model was resolved (a catalog change here does not reach this step). `messages` are the AI SDK's model
 * messages: the last one is the user's (a new turn) or a tool's results (the turn goes on).
 */
export interface ContextEvent {
  sessionID: string
  agent: string
  model: HookModel
  messages: { role: string }[]
}

export interface SessionHooks {
  context: ContextEvent
  "model.request": ModelRequestEvent
  "http.request": HttpRequestEvent
  "http.response": HttpResponseEvent
  retry: RetryEvent
}

export type HookName = keyof SessionHooks

/** A model as OpenCode 2's model catalog holds it (`ctx.model.list()`, the model editor). */
export interface V2Model {
  id: string
  providerID: string
  modelID?: string
  name: string
  family?: string
  type?: string
  package?: string
  settings?: Record<string, unknown>
  headers?: Record<string, string>
  body?: Record<string, unknown>
  capabilities: { tools?: boolean; input?: string[]; output?: string[]; temperature?: boolean; reasoning?: boolean }
  variants?: { id: string; settings?: Record<string, unknown> }[]
  time?: { released?: number }
  /** USD per million tokens, one entry per pricing tier. */
  cost?: { input: number; output: number; cache?: { read?: number; write?: number }; tier?: { type: string; size: number } }[]
  status?: string
  enabled?: boolean
  limit: { context: number; input?: number; output: number }
  [key: string]: unknown
}

/** A provider as the catalog holds it. `activation`: `enabled` (always listed), `auto` (listed once connected). */
export interface V2ProviderInfo {
  id: string
  name: string
  activation: string
  package: string
  settings?: Record<string, unknown>
  headers?: Record<string, string>
  body?: Record<string, unknown>
  integrationID?: string
  [key: string]: unknown
}

/** `ctx.provider.transform`'s editor. */
export interface ProviderEditor {
  add(entry: { info: V2ProviderInfo; models: V2Model[] }): void
  remove(providerID: string): void
}

/**
 * `ctx.model.transform`'s editor: the models of every available (connected) provider, after OpenCode's own config
 * was applied. `update` creates a model that does not exist yet under a provider that does.
 */
export interface ModelEditor {
  list(providerID?: string): V2Model[]
  get(providerID: string, modelID: string): V2Model | undefined
  update(providerID: string, modelID: string, edit: (model: V2Model) => void): void
  remove(providerID: string, modelID: string): void
  provider: { get(providerID: string): { provider: V2ProviderInfo } | undefined }
}

/** A stored or environment credential of an integration (`ctx.integration.connection`). */
export type Connection = { type: string; [key: string]: unknown }

/** `ctx.integration.connection`. */
export interface ConnectionAccess {
  /** The integration's active connection (`{ type: "env", name }`, a stored key, a sign-in), if any. */
  active(integrationID: string): Promise<Connection | undefined>
  /** What a connection holds: `{ type: "key", key }` for an API key. */
  resolve(connection: Connection): Promise<Connection | undefined>
}

/** The server plugin's context: only the domains we use. */
export interface PluginContext {
  integration?: {
    connection?: ConnectionAccess
  }
  app: { name: string; version: string; channel?: string }
  options: unknown
  session: {
    hook<N extends HookName>(name: N, fn: (event: SessionHooks[N]) => void | Promise<void>, options?: { providerID?: string }): unknown
  }
  provider: { transform(edit: (editor: ProviderEditor) => void): unknown; reload(): Promise<unknown> }
  model: { transform(edit: (editor: ModelEditor) => void): unknown; reload(): Promise<unknown> }
}

export interface PluginModule {
  id: string
  setup(ctx: PluginContext): void | (() => void) | Promise<void | (() => void)>
}
