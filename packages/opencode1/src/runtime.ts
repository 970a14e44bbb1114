/**
 * The engine as OpenCode holds it: one runtime per OpenCode instance (a project directory, keyed the way upstream keys
 * its instance state), configured each time that instance builds its provider list and used by its sessions. Health
 * is one registry per process and state dir, shared by every instance: a cooldown belongs to the provider, not to
 * the project. This module knows OpenCode's plain data shapes (provider and model records), never its
 * services: the patch hunks pass data in and carry decisions out.
 */
import { RequestSizes, requestSizesPath } from "./request-size-store.ts"
import { credentialFingerprints, oauthProviders, type CredentialSources } from "./credentials.ts"
import { accountProblems } from "./accounts.ts"
import { buildGroups, createFileHealthStore, createRedisHealthStore, defaultHealthPath, DEFAULTS, describeRedisUrl, fromOpenCodeProviders, HealthRegistry, isRecord, resolveConfig, rotationPath, SharedLimits, takeRotation, stringList, takeStateFileNotices, type Access, type CatalogModel, type CatalogProvider, type ConfigProblem, type CooldownEntry, type Group, type HealthView, type LimitsView, type MemberRef, type RedisHealthStore, type ResolvedConfig, type SwitchRecord, appendSwitch, mergeSwitches, readSwitches, switchesPath } from "combined-models"

/** The virtual provider that holds the combined models. */
export const PROVIDER_ID = "combined"
export const PROVIDER_NAME = "Combined"

/** A provider as OpenCode's `Provider.Info`: only what we read is typed. */
export interface OpenCodeProvider {
  id: string
  name: string
  models: Record<string, OpenCodeModel>
  [key: string]: unknown
}

/** A model as OpenCode's `Provider.Model`: only what we read is typed. */
export interface OpenCodeModel {
  id: string
  providerID: string
  name: string
  [key: string]: unknown
}

/** One provider switch, kept for `opencode combined` and the status view. */
export type { SwitchRecord }

const MAX_SWITCHES_KEPT = 50

export class CombinedRuntime {
  config: ResolvedConfig = DEFAULTS
  groups = new Map<string, Group>()
  /** The loaded concrete models the latest configure read, by provider. */
  private catalog: readonly CatalogProvider[] = []
  private modelIndex: Map<string, CatalogModel> | undefined
  /**
   * Every loaded concrete model by `provider/model`: fallback chains may name one directly. Indexed on first use:
   * most sessions never name one, and indexing a full catalog costs more than grouping it.
   */
  get models(): ReadonlyMap<string, CatalogModel> {
    if (!this.modelIndex) {
      this.modelIndex = new Map()
      for (const provider of this.catalog)
        for (const model of provider.models) this.modelIndex.set(`${provider.id}/${model.modelID}`, model)
    }
    return this.modelIndex
  }
  access: Access = {}
  /** Config problems and warnings from the latest configure, for logs and the status view. */
  problems: ConfigProblem[] = []
  readonly switches: SwitchRecord[] = []
  health: HealthRegistry
  /** The provider state the latest configure read: disposing an older one leaves this runtime alone. */
  configuredFrom: object | undefined
  /** Each provider's credential fingerprint now: an auth or quota cooldown recorded for another one does not apply. */
  credentials = new Map<string, string>()
  /** Providers signed in with OAuth: a 401 is retried once after the plugin's token refresh. */
  oauth: ReadonlySet<string> = new Set()
  /** Health as this instance sees it: the shared registry, read with this instance's credentials. */
  readonly view: HealthView = {
    cooldownOf: (member, now): CooldownEntry | undefined =>
      this.health.cooldownOf(member, now, { credential: this.credentials.get(member.providerID) }),
  }
  /** The credential fingerprint a report or success of this provider is recorded with. */
  readonly credentialOf = (providerID: string) => this.credentials.get(providerID)

  /**
   * What the allowance a member draws on has left, by the latest response that spent it with this instance's
   * credential: this process's reading, else the latest another process of this machine wrote (the engine's
   * `SharedLimits`, one per state dir).
   */
  readonly limits: LimitsView = {
    headroomOf: (member, now) => this.sharedLimits.headroomOf(member, now, this.credentials.get(member.providerID)),
  }

  get sharedLimits(): SharedLimits {
    const key = this.stateDir ?? ""
    let limits = sharedLimits.get(key)
    if (!limits) sharedLimits.set(key, (limits = new SharedLimits(this.stateDir)))
    return limits
  }

  /**
   * A member provider's response to a request for `modelID` came back: keep what its rate-limit headers say of that
   * allowance (for read-ahead and `least_limited`), and write it next to the health file for `opencode combined`.
   */
  recordLimits(member: MemberRef, headers: Headers, now = Date.now()) {
    const credential = this.credentials.get(member.providerID)
    this.sharedLimits.record({ ...member, ...(credential !== undefined ? { credential } : {}) }, headers, now)
  }

  /**
   * What this process measured OpenCode sending besides the conversation (system prompt, tool definitions), per agent
   * and selection, else what another process of this machine measured (`requests.json`): a session's first step is
   * sized by it.
   */
  get requestSizes(): RequestSizes {
    const key = this.stateDir ?? ""
    let sizes = requestSizes.get(key)
    if (!sizes) requestSizes.set(key, (sizes = new RequestSizes(this.stateDir ? requestSizesPath(this.stateDir) : undefined)))
    return sizes
  }

  /**
   * `round_robin`: where the next turn of this group starts, counted over every session of every process of this
   * machine (the state dir's `rotation.json`; `opencode run` is a process a turn), in memory without a state dir.
   */
  nextRotation(groupID: string): number {
    if (this.stateDir) return takeRotation(rotationPath(this.stateDir), groupID)
    const turn = rotations.get(groupID) ?? 0
    rotations.set(groupID, turn + 1)
    return turn
  }

  constructor(options: { stateDir?: string; clock?: () => number } = {}) {
    this.health = this.newHealth(options.stateDir, options.clock)
  }

  /** Where switches persist; set with the health file, from the same state dir. */
  private switchesFile: string | undefined
  /** What the current registry was built from: a provider reload with the same inputs keeps it, streaks and all. */
  private healthInputs: string | undefined
  /** The key under which instances share this runtime's registry; undefined for a registry of its own (a test clock). */
  healthKey: string | undefined

  /** The Redis store under the registry, when `health_store` asks for one; undefined for the file alone. */
  get redisStore(): RedisHealthStore | undefined {
    if (this.healthKey === undefined) return this.ownRedis
    const key = redisStoreKey(this.stateDir, this.config.healthStore)
    return key === undefined ? undefined : sharedRedis.get(key)
  }
  private stateDir: string | undefined
  private ownRedis: RedisHealthStore | undefined

  /** Store problems and recoveries not yet logged: the next step's route carries them to OpenCode's log, once. */
  takeStoreNotices(): string[] {
    const key = (this.healthKey !== undefined && redisStoreKey(this.stateDir, this.config.healthStore)) || ""
    const notices = storeNotices.get(key) ?? []
    storeNotices.delete(key)
    // State-file writes dropped after their bounded retries, said once (the process's, whichever instance routes next).
    return [...notices, ...takeStateFileNotices()]
  }

  private newHealth(stateDir: string | undefined, clock?: () => number) {
    this.stateDir = stateDir
    const storeSetting = this.config.healthStore
    const inputs = healthInputs(stateDir, this.config)
    this.healthInputs = inputs
    if (stateDir) this.switchesFile = switchesPath(stateDir)
    const build = () => {
      const file = stateDir ? createFileHealthStore(defaultHealthPath(stateDir), { clock }) : undefined
      // One Redis store (its connections, mirror and queue) per state dir and server, whatever the cooldown table:
      // registries built for other tables share it.
      const redisKey = redisStoreKey(stateDir, storeSetting)
      const makeRedis = () =>
        file && storeSetting.kind === "redis"
          ? createRedisHealthStore({ url: storeSetting.url, local: file, clock, onProblem: (problem) => noteStoreProblem(clock ? "" : redisKey!, storeSetting.url, problem) })
          : undefined
      let redis: RedisHealthStore | undefined
      if (clock) {
        this.ownRedis?.close()
        this.ownRedis = redis = makeRedis()
      } else if (redisKey) {
        redis = sharedRedis.get(redisKey) ?? makeRedis()
        if (redis) sharedRedis.set(redisKey, redis)
      }
      return new HealthRegistry({
        cooldowns: this.config.cooldowns,
        clock,
        store: redis ?? file,
        // Reading the Redis store is reading memory: every decision sees what was published.
        ...(redis ? { refreshIntervalMs: 0 } : {}),
      })
    }
    // A test clock makes a registry of its own; OpenCode's instances share one per state dir and cooldown table.
    this.healthKey = clock ? undefined : inputs
    if (clock) return build()
    let shared = sharedHealth.get(inputs)
    if (!shared) sharedHealth.set(inputs, (shared = build()))
    return shared
  }

  /**
   * Build the groups from OpenCode's loaded providers (after its own filtering, so only usable providers and models
   * are in) and the raw `opencode.json` object. Never throws: bad config leaves the defaults and reports problems.
   */
  configure(input: {
    config: unknown
    providers: Record<string, OpenCodeProvider> | OpenCodeProvider[]
    stateDir?: string
    clock?: () => number
    /** The auth store and environment OpenCode read: whose credential each provider holds now. */
    credentials?: CredentialSources
  }): { groups: Group[]; problems: ConfigProblem[] } {
    this.configuredFrom = input.providers
    const list = Array.isArray(input.providers) ? input.providers : Object.values(input.providers)
    const real = list.filter((provider) => provider.id !== PROVIDER_ID)
    const raw = isRecord(input.config) ? input.config : {}
    const resolved = resolveConfig(raw, { configuredProviders: real.map((provider) => provider.id) })
    this.problems = [...(resolved.ok ? resolved.warnings : [...resolved.errors, ...resolved.warnings]), ...accountProblems(input.config)]
    this.config = resolved.ok ? resolved.config : DEFAULTS
    if (input.stateDir !== undefined && healthInputs(input.stateDir, this.config) !== this.healthInputs)
      this.health = this.newHealth(input.stateDir, input.clock)
    this.access = accessFrom(raw, real)
    this.credentials = credentialFingerprints(real, input.credentials)
    this.oauth = oauthProviders(input.credentials)

    this.groups.clear()
    this.catalog = []
    this.modelIndex = undefined
    if (!this.config.enabled) return { groups: [], problems: this.problems }
    const catalog = fromOpenCodeProviders(real)
    this.catalog = catalog.providers
    const { groups, problems } = buildGroups(catalog.providers, this.config)
    for (const group of groups) this.groups.set(group.id, group)
    this.problems.push(...problems)
    return { groups, problems: this.problems }
  }

  recordSwitch(record: SwitchRecord) {
    this.switches.push(record)
    if (this.switches.length > MAX_SWITCHES_KEPT) this.switches.splice(0, this.switches.length - MAX_SWITCHES_KEPT)
    // Persisted for `opencode combined`, which runs in a process of its own.
    if (this.switchesFile) appendSwitch(this.switchesFile, record, MAX_SWITCHES_KEPT)
  }

  /** The latest switches of every process (the file) and this one (memory), oldest first. */
  latestSwitches(): SwitchRecord[] {
    const stored = this.switchesFile ? readSwitches(this.switchesFile) : []
    return mergeSwitches(stored, this.switches, MAX_SWITCHES_KEPT)
  }
}

/** OpenCode loads only enabled providers with credentials; these sets let routing check again at every step. */
function accessFrom(config: Record<string, unknown>, providers: OpenCodeProvider[]): Access {
  const enabled = stringList(config.enabled_providers)
  const disabled = stringList(config.disabled_providers)
  return {
    connected: new Set(providers.map((provider) => provider.id)),
    ...(enabled ? { enabled: new Set(enabled) } : {}),
    ...(disabled ? { disabled: new Set(disabled) } : {}),
  }
}

/** The instance key of a process that runs one instance (the CLI's own commands, tests). */
export const DEFAULT_INSTANCE = ""

const runtimes = new Map<string, CombinedRuntime>()
const sharedLimits = new Map<string, SharedLimits>()
const requestSizes = new Map<string, RequestSizes>()
const rotations = new Map<string, number>()
const sharedHealth = new Map<string, HealthRegistry>()
const sharedRedis = new Map<string, RedisHealthStore>()
const storeNotices = new Map<string, string[]>()

function noteStoreProblem(key: string, url: string, problem: string | undefined) {
  const notices = storeNotices.get(key) ?? []
  notices.push(`combined-models: ${problem ?? `Redis at ${describeRedisUrl(url)} is reachable again; cooldowns are shared through it`}`)
  storeNotices.set(key, notices.slice(-10))
}

/** What a registry is built from: a provider reload with the same inputs keeps it, streaks and all. */
function healthInputs(stateDir: string | undefined, config: ResolvedConfig): string {
  return JSON.stringify([stateDir, config.cooldowns, config.healthStore])
}

/** One Redis store per state dir and server, whatever the cooldown table; undefined for the file store. */
function redisStoreKey(stateDir: string | undefined, setting: ResolvedConfig["healthStore"]): string | undefined {
  return setting.kind === "redis" ? JSON.stringify([stateDir, setting.url]) : undefined
}

/**
 * The runtime of one OpenCode instance, by its directory (upstream's `InstanceState` key). `opencode serve` and the
 * desktop app hold several projects in one process: each routes by its own config, priority and chains.
 */
export function runtime(instance: string = DEFAULT_INSTANCE): CombinedRuntime {
  let found = runtimes.get(instance)
  if (!found) runtimes.set(instance, (found = new CombinedRuntime()))
  return found
}

/**
 * The instance's provider state was disposed: its runtime goes, unless a newer provider state of that instance (a
 * reload, built before the old one's finalizer ran) configured it since.
 */
export function disposeRuntime(instance: string, providers: object) {
  if (runtimes.get(instance)?.configuredFrom === providers) runtimes.delete(instance)
}

/** Tests start from a clean runtime (and no shared health). */
export function resetRuntime(next?: CombinedRuntime) {
  runtimes.clear()
  sharedHealth.clear()
  for (const store of sharedRedis.values()) store.close()
  sharedRedis.clear()
  storeNotices.clear()
  for (const limits of sharedLimits.values()) limits.clear()
  sharedLimits.clear()
  requestSizes.clear()
  rotations.clear()
  if (!next) return
  runtimes.set(DEFAULT_INSTANCE, next)
  if (next.healthKey !== undefined) sharedHealth.set(next.healthKey, next.health)
}
