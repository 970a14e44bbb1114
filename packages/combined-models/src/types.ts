/**
 * Plain data the engine works on. Nothing here knows OpenCode internals: the patches (and the CLI) adapt
 * OpenCode's provider state or a models.dev `api.json` into these shapes, and read decisions back out.
 */

export type Modality = "text" | "image" | "audio" | "video" | "pdf"

/** A concrete model as one provider offers it. */
export interface CatalogModel {
  providerID: string
  modelID: string
  name: string
  family?: string
  /** `YYYY-MM-DD` or `YYYY-MM` as models.dev publishes it. */
  releaseDate?: string
  limit: { context: number; input?: number; output: number }
  /** USD per million tokens. */
  cost?: { input: number; output: number; cacheRead?: number; cacheWrite?: number }
  capabilities: {
    reasoning: boolean
    toolCall: boolean
    attachment: boolean
    temperature: boolean
    input: Modality[]
    output: Modality[]
  }
  status?: "alpha" | "beta" | "deprecated" | "active"
}

export interface CatalogProvider {
  id: string
  name: string
  models: CatalogModel[]
  /** The environment variables that hold its key, as the catalog names them (models.dev `env`). */
  env?: string[]
}

export interface MemberRef {
  providerID: string
  modelID: string
}

/** Why a member is in its group; `combined-models groups --explain` prints these. */
export type JoinReason =
  | { kind: "identity"; key: string; detail: string }
  | { kind: "manual"; rule: string }

export interface GroupMember extends MemberRef {
  name: string
  limit: CatalogModel["limit"]
  cost?: CatalogModel["cost"]
  capabilities: CatalogModel["capabilities"]
  releaseDate?: string
  joined: JoinReason
}

export interface Group {
  /** Canonical id, used as the model id under the `combined` provider, e.g. `claude-sonnet-4-5`. */
  id: string
  name: string
  /** Members in routing priority order. */
  members: GroupMember[]
  /** Distinct provider ids, in priority order (aliases inside one provider count once). */
  providers: string[]
  /** What every member can take: limits are the minimum, capabilities the intersection. */
  limit: CatalogModel["limit"]
  capabilities: CatalogModel["capabilities"]
  /** Defined or reshaped by a user rule. */
  manual: boolean
  /** Per-group provider order from config, overriding `provider_priority`. */
  priority?: string[]
  /**
   * `combined_models.strategy` when not `priority`: `cost` orders the members at grouping; `round_robin` and
   * `least_limited` order the ready ones at each turn's routing.
   */
  strategy?: "cost" | "round_robin" | "least_limited"
}

export const FAILURE_REASONS = [
  "rate_limit",
  "quota",
  "overloaded",
  "server_error",
  "network",
  "timeout",
  "auth",
  "model_unavailable",
  "context_overflow",
  "invalid_request",
  "aborted",
  "unknown",
] as const
export type FailureReason = (typeof FAILURE_REASONS)[number]

/** Reasons that never move a request to another member, whatever the config says. */
export const NEVER_FAIL_OVER: readonly FailureReason[] = ["aborted", "invalid_request"]

/**
 * Reasons that move a request only when `failover_on` names them (never by default): a conversation too long for one
 * member goes on at a member with a larger window, or is compacted as stock OpenCode does.
 */
export const OPT_IN_FAIL_OVER: readonly FailureReason[] = ["context_overflow"]

/** Reasons that say nothing against the provider: they never cool it down. */
export const NO_COOLDOWN: readonly FailureReason[] = [...NEVER_FAIL_OVER, ...OPT_IN_FAIL_OVER]

/**
 * How far a failure reaches, which decides what it cools:
 * - `request`: this request only (a malformed body, a context overflow, a key that never left this machine): nothing
 *   is cooled, nothing is written to the shared store;
 * - `model`: this model at this provider (its aliases and region profiles count as the same member): only that
 *   member cools, the provider's other models stay in use;
 * - `credential`: every model this key or sign-in reaches (a refused key, an account out of credit): back when the
 *   credential changes or its reset passes;
 * - `endpoint`: the provider's service or the route to it (connection refused, DNS, a gateway's 502/503/504).
 */
export const FAILURE_SCOPES = ["request", "model", "credential", "endpoint"] as const
export type FailureScope = (typeof FAILURE_SCOPES)[number]

/**
 * The reach of each reason when the wire says nothing narrower or wider (each wire's reader in `wires/` may, for its
 * own bodies). Where a wire is silent the narrower reach is taken: a cooldown too narrow costs one more refused
 * request, one too wide sends work away from a provider that would have served it, for hours. Rate limits are per
 * model class at Anthropic and OpenAI; quota and auth belong to the account.
 */
export const DEFAULT_SCOPE: Readonly<Record<FailureReason, FailureScope>> = {
  rate_limit: "model",
  quota: "credential",
  overloaded: "model",
  server_error: "model",
  network: "endpoint",
  timeout: "model",
  auth: "credential",
  model_unavailable: "model",
  context_overflow: "request",
  invalid_request: "request",
  aborted: "request",
  unknown: "model",
}

/** A failure's reach: what its classification says, else the reason's default. */
export function scopeOf(error: Pick<ClassifiedError, "reason" | "scope">): FailureScope {
  return error.scope ?? DEFAULT_SCOPE[error.reason] ?? "model"
}

/**
 * Whether a failure stands for the provider's other models too (its credential or its endpoint), so a turn going down
 * the fallback chain does not try that provider again. A missing key is request-scoped for cooling (nothing was sent,
 * so nothing is shared), yet no model of that provider can be asked in this process either.
 */
export function reachesOtherModels(error: Pick<ClassifiedError, "reason" | "scope">): boolean {
  const scope = scopeOf(error)
  return scope === "credential" || scope === "endpoint" || error.reason === "auth"
}

/** The engine's reading of one failure. Carries no keys, headers or conversation text. */
export interface ClassifiedError {
  reason: FailureReason
  /** How far it reaches; the classifier always sets it (others may leave it to `DEFAULT_SCOPE`, see `scopeOf`). */
  scope?: FailureScope
  /** HTTP status when the failure had one. */
  statusCode?: number
  /** How long the provider asked us to wait (Retry-After, retry-after-ms, reset headers), in ms. */
  retryAfterMs?: number
  /** Absolute reset time from quota headers or bodies, epoch ms. */
  resetAt?: number
  /** Short, redacted, one line: what the user reads. */
  message: string
  /**
   * A refused request that names a thinking block's signature (`wires/thinking.ts`): the history carried reasoning
   * this model does not accept as its own. The engine resends the step once without it instead of ending the turn.
   */
  refusedReasoning?: true
  /** Provider error code from the body when present (`insufficient_quota`, `overloaded_error`, …). */
  code?: string
}
