/**
 * The one schema for `provider_priority` and `combined_models` in `opencode.json`. Types, validation messages and
 * the published JSON Schema (`config.schema.json`) all come from here.
 */
import { parseDuration } from "./duration.ts"
import { z } from "zod"
import { FAILURE_REASONS, NEVER_FAIL_OVER, NO_COOLDOWN, type FailureReason } from "./types.ts"
import { isRecord } from "./record.ts"

export { parseDuration } from "./duration.ts"

const DURATION_HINT = 'a duration such as "30s", "5m", "6h" or a number of milliseconds'

const Duration = z
  .union([z.number(), z.string()], { error: `expected ${DURATION_HINT}` })
  .transform((value, ctx) => {
    const ms = parseDuration(value)
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `expected ${DURATION_HINT}, got ${JSON.stringify(value)}` })
      return z.NEVER
    }
    return ms
  })
  .meta({ description: DURATION_HINT, examples: ["30s", "5m", "6h", 1500] })

const Reason = z.enum(FAILURE_REASONS, {
  error: (issue) => `unknown reason ${JSON.stringify(issue.input)}; use one of: ${FAILURE_REASONS.join(", ")}`,
})

/** `provider/model` with `*` globs, or a bare provider id meaning all of its models. */
const MemberPattern = z
  .string()
  .min(1, { error: 'expected "provider/model" (globs allowed, e.g. "openrouter/*") or a provider id' })

/** `provider/model`, where provider may be `combined` for a combined model. */
const ModelRef = z
  .string()
  .regex(/^[^/\s]+\/\S+$/, {
    error: 'expected "provider/model", e.g. "combined/gpt-5" or "openrouter/anthropic/claude-sonnet-4.5"',
  })

const FallbackModels = z
  .array(ModelRef, { error: 'expected a list of models, e.g. ["combined/gpt-5", "openrouter/openai/gpt-5"]' })
  .meta({
    description:
      "Models to go on with, in order, when every provider of the selected model is cooling down or has failed in this turn",
  })

/** How a combined model orders its members before routing skips the cooled ones. */
export const STRATEGIES = ["priority", "round_robin", "least_limited", "cost"] as const
export type Strategy = (typeof STRATEGIES)[number]
const StrategySetting = z.enum(STRATEGIES, { error: `expected one of: ${STRATEGIES.join(", ")}` }).meta({
  description:
    '"priority": provider_priority (or the group\'s priority) first, the rest alphabetically (default); "round_robin": each turn starts at the next healthy member, and keeps it for the turn; "least_limited": the member with the most left by the rate-limit headers last seen; "cost": cheapest first by the catalog\'s price at each provider, subscriptions (price 0) first, priority breaking ties',
})

const ManualGroup = z
  .strictObject({
    name: z.string().min(1).optional().meta({ description: "Display name of the combined model" }),
    members: z
      .array(MemberPattern)
      .optional()
      .meta({ description: "Define the group by hand: exactly these members (replaces automatic detection)" }),
    add: z.array(MemberPattern).optional().meta({ description: "Members to add to the automatically detected group" }),
    exclude: z.array(MemberPattern).optional().meta({ description: "Members to leave out of this group" }),
    priority: z
      .array(z.string().min(1))
      .optional()
      .meta({ description: "Provider order for this group; overrides provider_priority" }),
    strategy: StrategySetting.optional(),
  })
  .meta({ description: "A group by hand, or changes to the detected group with this id" })

const Cooldowns = z
  .strictObject(
    Object.fromEntries(
      FAILURE_REASONS.filter((reason) => !NO_COOLDOWN.includes(reason)).map((reason) => [
        reason,
        Duration.optional(),
      ]),
    ) as Record<Exclude<FailureReason, "aborted" | "context_overflow" | "invalid_request">, z.ZodOptional<typeof Duration>>,
  )
  .meta({ description: "Base cooldown per failure reason; a provider's Retry-After or reset time wins when given" })

export const STICKY_MODES = ["turn", "session", "off"] as const

const StickySetting = z
  .union(
    [
      z.enum(STICKY_MODES),
      z.strictObject({
        window: Duration.meta({ description: "How long after its last answer the member stays, across turns" }),
      }),
    ],
    { error: `expected one of: ${STICKY_MODES.join(", ")}, or { "window": "15m" }` },
  )
  .meta({
    description:
      '"turn": stay on the member that last answered until the turn ends (default); "session": stay until it fails; "off": every step starts at the top of the order; { "window": "15m" }: stay for that long after its last answer, across turns (its prompt cache), then start at the top again',
  })

/** `combined_models.accounts.<id>`: one more account of a provider, its own member with its own credential. */
export const ACCOUNT_ID = /^[a-z0-9][a-z0-9._-]*$/
export const Account = z
  .strictObject({
    provider: z
      .string({ error: 'expected the provider this is an account of, e.g. "anthropic"' })
      .min(1, { error: 'expected the provider this is an account of, e.g. "anthropic"' })
      .meta({ description: "The provider (its id in the catalog) whose models this account offers" }),
    name: z.string().min(1).optional().meta({ description: 'Display name (default: the provider\'s name and the account id, "Anthropic (anthropic-work)")' }),
    env: z
      .array(z.string().min(1))
      .optional()
      .meta({
        description:
          "Environment variables that hold this account's key (the provider's own are not inherited: they hold the first account's)",
      }),
  })
  .meta({ description: "One more account of a provider" })

const Accounts = z
  .record(
    z.string().regex(ACCOUNT_ID, {
      error: 'expected an account id of lower-case letters, digits, ".", "_" or "-" (it becomes a provider id), e.g. "anthropic-work"',
    }),
    Account,
  )
  .meta({
    description:
      'More accounts of a provider, each its own member with its own credential, quota and cooldowns, e.g. { "anthropic-work": { "provider": "anthropic" } }. Its credential comes as any provider\'s does: provider.<id>.options.apiKey ("{env:VAR}", "{file:path}"), env, or opencode auth login',
  })

/** `redis://[user:password@]host[:port][/db]`, `rediss://` for TLS. */
const RedisUrl = z.string().refine(
  (value) => {
    try {
      const url = new URL(value)
      return (url.protocol === "redis:" || url.protocol === "rediss:") && url.hostname !== ""
    } catch {
      return false
    }
  },
  { error: 'expected a Redis URL such as "redis://127.0.0.1:6379/0" ("rediss://" for TLS; "{env:REDIS_URL}" reads it from the environment)' },
)

const HealthStoreSetting = z
  .union(
    [
      z.literal("file"),
      z.strictObject({ redis: RedisUrl.meta({ description: "The Redis server every process shares cooldowns through" }) }),
    ],
    { error: 'expected "file" or { "redis": "redis://host:6379/0" }' },
  )
  .meta({
    description:
      'Where cooldowns are shared: "file" (default; every OpenCode process of this machine) or { "redis": url } (every machine that uses the same server, with the file as the fallback while it is unreachable)',
  })

export const CombinedModelsSettings = z
  .strictObject({
    enabled: z.boolean().optional().meta({ description: "Turn the combined provider on or off (default true)" }),
    min_providers: z
      .int({ error: "expected a whole number of providers, at least 1" })
      .min(1, { error: "expected at least 1" })
      .optional()
      .meta({ description: "Distinct providers a model needs to become a combined model (default 2)" }),
    groups: z.record(z.string().min(1), ManualGroup).optional().meta({
      description: "Groups by hand, keyed by the combined model id; a key that matches a detected group changes it",
    }),
    exclude: z
      .array(MemberPattern)
      .optional()
      .meta({ description: 'Members never used by any group: "provider/model" globs or whole providers' }),
    failover_on: z
      .array(Reason)
      .optional()
      .meta({
        description:
          'Failure reasons that move a request to the next member (aborted and invalid_request never do). "context_overflow" (not in the default) moves a conversation that no longer fits to a member or fallback model with a larger window, instead of compacting',
      }),
    cooldowns: Cooldowns.optional(),
    retries_before_failover: z
      .int({ error: "expected a whole number of retries" })
      .min(0, { error: "expected 0 or more" })
      .optional()
      .meta({ description: "Same-member retries before switching, only while the wait is short (default 1)" }),
    max_retry_wait: Duration.optional().meta({
      description: "Longest wait worth retrying the same member; a longer Retry-After switches at once (default 5s)",
    }),
    max_wait: Duration.optional().meta({
      description:
        "When every member is cooling down, wait this long at most for the soonest one before showing the error (default 60s)",
    }),
    fallback_models: FallbackModels.optional(),
    max_fallback_depth: z
      .int({ error: "expected a whole number of fallback steps" })
      .min(0, { error: "expected 0 or more" })
      .optional()
      .meta({ description: "How far down fallback_models a turn may go (default 2)" }),
    max_switches_per_turn: z
      .int({ error: "expected a whole number of switches" })
      .min(0, { error: "expected 0 or more" })
      .optional()
      .meta({
        description:
          "Provider switches allowed for one model in one turn before the error is shown (default 4); each model down fallback_models gets its own",
      }),
    sticky: StickySetting.optional(),
    strategy: StrategySetting.optional(),
    accounts: Accounts.optional(),
    health_store: HealthStoreSetting.optional(),
    picker: z
      .enum(["combined", "all"], { error: 'expected "combined" or "all"' })
      .optional()
      .meta({
        description:
          'The TUI model picker: "combined" lists a model several providers serve once, as its combined model (default); "all" lists every provider\'s entry too. The dialog toggles between them either way',
      }),
    timeouts: z
      .strictObject({
        first_byte: Duration.optional().meta({ description: "No response by then counts as a timeout (default 60s)" }),
        stall: Duration.optional().meta({
          description:
            "A stream silent this long counts as a timeout (default 120s: some reasoning models stream nothing while they think)",
        }),
      })
      .optional(),
  })
  .meta({ description: "Combined models: one model offered by several providers, with failover" })

/** The keys we add to `opencode.json`. Other keys belong to OpenCode and pass through untouched. */
export const CombinedModelsConfig = z
  .object({
    provider_priority: z
      .array(z.string().min(1, { error: "expected a provider id such as \"anthropic\"" }), {
        error: 'expected a list of provider ids, e.g. ["anthropic", "github-copilot"]',
      })
      .optional()
      .meta({ description: "Providers in the order combined models try them; unlisted providers follow alphabetically" }),
    combined_models: CombinedModelsSettings.optional(),
  })
  .meta({ title: "opencode-combined-models configuration" })

/**
 * `agent.<name>.fallback_models` in OpenCode's agent config (`"*"`: agents without their own). Validated here; the
 * key itself is declared in OpenCode's agent schema by the patch, so it is not published with our keys.
 */
const AgentFallbacks = z.record(
  z.string(),
  z.looseObject({ fallback_models: FallbackModels.optional() }, { error: "expected an agent object" }),
  { error: "expected an object of agents" },
)

export type CombinedModelsInput = z.input<typeof CombinedModelsConfig>
export type CombinedModelsSettingsInput = z.input<typeof CombinedModelsSettings>
export type ManualGroupConfig = z.output<typeof ManualGroup>
export type CooldownReason = keyof z.output<typeof Cooldowns>
export type AccountConfig = z.output<typeof Account>

/** Settings with every default filled in: what the engine reads. */
export interface ResolvedConfig {
  providerPriority: string[]
  enabled: boolean
  minProviders: number
  groups: Record<string, ManualGroupConfig>
  exclude: string[]
  failoverOn: FailureReason[]
  /** ms per reason; `auth` is 1 h by default, and ends sooner when the provider's credential changes. */
  cooldowns: Record<CooldownReason, number>
  retriesBeforeFailover: number
  maxRetryWaitMs: number
  maxSwitchesPerTurn: number
  maxWaitMs: number
  /** `combined_models.fallback_models`: the chain for agents with none of their own. */
  fallbackModels: string[]
  /** `agent.<name>.fallback_models`, `"*"` included. */
  agentFallbackModels: Record<string, string[]>
  maxFallbackDepth: number
  /** A mode, or how long (ms) the member that last answered stays across turns. */
  sticky: (typeof STICKY_MODES)[number] | { windowMs: number }
  timeouts: { firstByteMs: number; stallMs: number }
  /** `combined_models.strategy`; a group's own `strategy` wins. */
  strategy: Strategy
  /** OpenCode's own `compaction.reserved` (tokens kept free before it compacts), read for the context-window fallback. */
  compactionReserved?: number
  /** `combined_models.accounts`: more accounts of a provider, by account id. */
  accounts: Record<string, AccountConfig>
  /** Where cooldowns are shared beyond this process. */
  healthStore: { kind: "file" } | { kind: "redis"; url: string }
}

export const DEFAULT_COOLDOWNS: Record<CooldownReason, number> = {
  rate_limit: 30_000,
  quota: 6 * 3_600_000,
  overloaded: 30_000,
  server_error: 60_000,
  network: 30_000,
  timeout: 60_000,
  // Bounded: a token that expired, or a key fixed where this process cannot see it, must not shut a provider out for
  // ever. A changed credential ends it at once (the entry carries the failed credential's fingerprint).
  auth: 3_600_000,
  // A provider that does not serve this model to this account (not on the plan, not enabled, retired): the plan does not
  // change in a minute, so as long as a quota; a changed credential ends it at once.
  model_unavailable: 6 * 3_600_000,
  unknown: 30_000,
}

export const DEFAULT_FAILOVER_ON: FailureReason[] = [
  "rate_limit",
  "quota",
  "overloaded",
  "server_error",
  "network",
  "timeout",
  "auth",
  "model_unavailable",
]

export const DEFAULTS: ResolvedConfig = {
  providerPriority: [],
  enabled: true,
  minProviders: 2,
  groups: {},
  exclude: [],
  failoverOn: DEFAULT_FAILOVER_ON,
  cooldowns: DEFAULT_COOLDOWNS,
  retriesBeforeFailover: 1,
  maxRetryWaitMs: 5_000,
  maxSwitchesPerTurn: 4,
  maxWaitMs: 60_000,
  fallbackModels: [],
  agentFallbackModels: {},
  maxFallbackDepth: 2,
  sticky: "turn",
  timeouts: { firstByteMs: 60_000, stallMs: 120_000 },
  strategy: "priority",
  accounts: {},
  healthStore: { kind: "file" },
}

export interface ConfigProblem {
  /** Dotted path inside opencode.json, e.g. `combined_models.cooldowns.rate_limit`. */
  path: string
  message: string
}

export type ConfigResult =
  | { ok: true; config: ResolvedConfig; warnings: ConfigProblem[] }
  | { ok: false; errors: ConfigProblem[]; warnings: ConfigProblem[] }

const CONFIG_ERROR_MARKER = Symbol.for("combined-models.config-error")

/** Thrown only by `resolveConfigOrThrow`; OpenCode's config loader turns it into its own config error. */
export class CombinedModelsConfigError extends Error {
  readonly [CONFIG_ERROR_MARKER] = true
  override readonly name = "CombinedModelsConfigError"
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map((problem) => `${problem.path}: ${problem.message}`).join("\n"))
  }
  static isInstance(error: unknown): error is CombinedModelsConfigError {
    return typeof error === "object" && error !== null && CONFIG_ERROR_MARKER in error
  }
}

function describePath(path: PropertyKey[]): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === "number") return `${text}[${key}]`
    return text ? `${text}.${String(key)}` : String(key)
  }, "")
}

function issueToProblem(issue: z.core.$ZodIssue): ConfigProblem {
  const path = describePath(issue.path)
  if (issue.code === "unrecognized_keys") {
    const keys = issue.keys.map((key) => JSON.stringify(key)).join(", ")
    return {
      path: path || "(top level)",
      message: `unknown key${issue.keys.length > 1 ? "s" : ""} ${keys}; remove ${issue.keys.length > 1 ? "them" : "it"} or check the spelling against docs/configuration.md`,
    }
  }
  // A bad record key: the key's own check says what is wrong with it.
  if (issue.code === "invalid_key" && issue.issues[0]) return { path: path || "(top level)", message: issue.issues[0].message }
  return { path: path || "(top level)", message: issue.message }
}

/**
 * Validate the two keys out of a whole `opencode.json` object and fill in defaults. `configuredProviders`, when
 * given, turns unknown ids in `provider_priority` into warnings that list the configured ones; it never fails.
 */
export function resolveConfig(raw: unknown, options: { configuredProviders?: readonly string[] } = {}): ConfigResult {
  const parsed = CombinedModelsConfig.safeParse(raw ?? {})
  const agents = AgentFallbacks.optional().safeParse(isRecord(raw) ? raw.agent : undefined)
  const agentErrors = agents.success ? [] : agents.error.issues.map((issue) => issueToProblem({ ...issue, path: ["agent", ...issue.path] }))
  if (!parsed.success || !agents.success)
    return { ok: false, errors: [...(parsed.success ? [] : parsed.error.issues.map(issueToProblem)), ...agentErrors], warnings: [] }
  const input = parsed.data
  const settings = input.combined_models ?? {}
  const warnings: ConfigProblem[] = []

  const priority = input.provider_priority ?? []
  if (options.configuredProviders) {
    const known = new Set(options.configuredProviders)
    const listed = [...known].sort().join(", ") || "(none)"
    priority.forEach((id, index) => {
      if (!known.has(id))
        warnings.push({
          path: `provider_priority[${index}]`,
          message: `provider "${id}" is not configured; it is ignored. Configured providers: ${listed}`,
        })
    })
  }
  const duplicates = priority.filter((id, index) => priority.indexOf(id) !== index)
  for (const id of new Set(duplicates))
    warnings.push({ path: "provider_priority", message: `provider "${id}" is listed more than once; the first place counts` })

  if (settings.strategy === "round_robin" && settings.sticky !== undefined && settings.sticky !== "turn" && settings.sticky !== "off")
    warnings.push({
      path: "combined_models.sticky",
      message: 'with strategy "round_robin" a member that stays across turns wins over the rotation while it is healthy; use "turn" (the default) to go round',
    })

  const failoverOn = settings.failover_on ?? DEFAULT_FAILOVER_ON
  failoverOn.forEach((reason, index) => {
    if (NEVER_FAIL_OVER.includes(reason))
      warnings.push({
        path: `combined_models.failover_on[${index}]`,
        message: `"${reason}" never fails over (another provider would fail the same way, or the user asked to stop); it is ignored`,
      })
  })

  return {
    ok: true,
    warnings,
    config: {
      providerPriority: [...new Set(priority)],
      enabled: settings.enabled ?? DEFAULTS.enabled,
      minProviders: settings.min_providers ?? DEFAULTS.minProviders,
      groups: settings.groups ?? {},
      exclude: settings.exclude ?? [],
      failoverOn: failoverOn.filter((reason) => !NEVER_FAIL_OVER.includes(reason)),
      cooldowns: { ...DEFAULT_COOLDOWNS, ...definedOnly(settings.cooldowns ?? {}) },
      retriesBeforeFailover: settings.retries_before_failover ?? DEFAULTS.retriesBeforeFailover,
      maxRetryWaitMs: settings.max_retry_wait ?? DEFAULTS.maxRetryWaitMs,
      maxSwitchesPerTurn: settings.max_switches_per_turn ?? DEFAULTS.maxSwitchesPerTurn,
      maxWaitMs: settings.max_wait ?? DEFAULTS.maxWaitMs,
      fallbackModels: settings.fallback_models ?? [],
      agentFallbackModels: Object.fromEntries(
        Object.entries(agents.data ?? {}).flatMap(([name, agent]) => (agent.fallback_models ? [[name, agent.fallback_models]] : [])),
      ),
      maxFallbackDepth: settings.max_fallback_depth ?? DEFAULTS.maxFallbackDepth,
      sticky:
        settings.sticky === undefined ? DEFAULTS.sticky : typeof settings.sticky === "string" ? settings.sticky : { windowMs: settings.sticky.window },
      timeouts: {
        firstByteMs: settings.timeouts?.first_byte ?? DEFAULTS.timeouts.firstByteMs,
        stallMs: settings.timeouts?.stall ?? DEFAULTS.timeouts.stallMs,
      },
      strategy: settings.strategy ?? DEFAULTS.strategy,
      accounts: settings.accounts ?? {},
      ...compactionReserved(raw),
      healthStore:
        settings.health_store === undefined || settings.health_store === "file"
          ? DEFAULTS.healthStore
          : { kind: "redis", url: settings.health_store.redis },
    },
  }
}

export function resolveConfigOrThrow(raw: unknown, options: { configuredProviders?: readonly string[] } = {}) {
  const result = resolveConfig(raw, options)
  if (!result.ok) throw new CombinedModelsConfigError(result.errors)
  return result
}

/** The fallback chain for an agent: its own, else the `"*"` agent's, else `combined_models.fallback_models`. */
export function fallbackChainFor(config: Pick<ResolvedConfig, "fallbackModels" | "agentFallbackModels">, agent?: string): string[] {
  return (agent !== undefined ? config.agentFallbackModels[agent] : undefined) ?? config.agentFallbackModels["*"] ?? config.fallbackModels
}

/** OpenCode's `compaction.reserved`, when it is a number of tokens; OpenCode validates the key itself. */
function compactionReserved(raw: unknown): { compactionReserved?: number } {
  const compaction = isRecord(raw) ? raw.compaction : undefined
  const reserved = isRecord(compaction) ? compaction.reserved : undefined
  return typeof reserved === "number" && Number.isFinite(reserved) && reserved >= 0 ? { compactionReserved: reserved } : {}
}

function definedOnly<T extends object>(value: T): { [K in keyof T]-?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as never
}

/** The published JSON Schema for our keys in `opencode.json`; `config.schema.json` is this, committed. */
export function configJsonSchema() {
  return z.toJSONSchema(CombinedModelsConfig, { io: "input", target: "draft-2020-12" })
}
