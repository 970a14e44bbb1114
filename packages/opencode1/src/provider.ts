/**
 * The virtual `combined` provider inside OpenCode's provider state. It exists only in lists (`opencode models`, the
 * TUI picker, `GET /provider`): `getModel("combined", id)` hands out a concrete member's own model, so the SDK,
 * pricing, limits and the assistant message all see a real provider and nothing downstream needs to know.
 */
import { routedRefusal, routedTimeouts } from "./session.ts"
import type { CredentialSources } from "./credentials.ts"
import {
  DEFAULT_INSTANCE,
  disposeRuntime,
  PROVIDER_ID,
  PROVIDER_NAME,
  runtime,
  type CombinedRuntime,
  type OpenCodeModel,
  type OpenCodeProvider,
} from "./runtime.ts"
import { isAllowed, isRecord, memberFetch, pick, type Access, type Group, type MemberRef, type Modality, type ResolvedConfig } from "combined-models"

/**
 * The SDK a combined model reports. It is never loaded (no combined model reaches `getLanguage`: `getModel` resolves a
 * member first), and if resolution ever fell through it must fail here, not fetch a package: a bare name like
 * `combined-models` is one OpenCode would install from the npm registry. A `file://` entry OpenCode imports as it
 * is, and this path does not exist.
 */
export const COMBINED_NPM = "file:///combined-models/virtual-provider/never-loaded.js"

const OPENCODE_MODALITIES: readonly Modality[] = ["text", "audio", "image", "video", "pdf"]

/** OpenCode's modality flags (`{ text, audio, image, video, pdf }`) from the engine's list. */
function modalityFlags(list: readonly Modality[]): Record<Modality, boolean> {
  return Object.fromEntries(OPENCODE_MODALITIES.map((modality) => [modality, list.includes(modality)])) as Record<
    Modality,
    boolean
  >
}

function modelOf(providers: Record<string, OpenCodeProvider>, ref: { providerID: string; modelID: string }) {
  return providers[ref.providerID]?.models[ref.modelID]
}

/** Variants every member offers, with the first member's settings: a variant one member lacks cannot be promised. */
function sharedVariants(models: readonly OpenCodeModel[]): Record<string, unknown> | undefined {
  const [first, ...rest] = models
  if (!first || !isRecord(first.variants)) return undefined
  const shared = Object.entries(first.variants).filter(([name]) =>
    rest.every((model) => isRecord(model.variants) && name in model.variants),
  )
  return Object.fromEntries(shared)
}

/**
 * One group as OpenCode's `Provider.Model`. Every field its schema requires is present, or `toPublicInfo` would
 * silently drop the model from every HTTP list. It promises what every member can do: the group's minimum limits and
 * shared capabilities. Cost and release date are the first member's, the one that serves when all are healthy.
 */
export function combinedModelInfo(group: Group, providers: Record<string, OpenCodeProvider>): OpenCodeModel {
  const models = group.members.flatMap((member) => modelOf(providers, member) ?? [])
  const first = models[0]
  const firstMember = group.members[0]
  const cost = isRecord(first?.cost)
    ? first.cost
    : {
        input: firstMember?.cost?.input ?? 0,
        output: firstMember?.cost?.output ?? 0,
        cache: { read: firstMember?.cost?.cacheRead ?? 0, write: firstMember?.cost?.cacheWrite ?? 0 },
      }
  const variants = sharedVariants(models)
  return {
    id: group.id,
    providerID: PROVIDER_ID,
    api: { id: group.id, url: "", npm: COMBINED_NPM },
    name: group.name,
    capabilities: {
      temperature: group.capabilities.temperature,
      reasoning: group.capabilities.reasoning,
      attachment: group.capabilities.attachment,
      toolcall: group.capabilities.toolCall,
      input: modalityFlags(group.capabilities.input),
      output: modalityFlags(group.capabilities.output),
      interleaved: false,
    },
    cost,
    limit: { ...group.limit },
    status: "active",
    // For the TUI, which sees only what the server sends (`GET /config/providers`): the members in priority order.
    // Never sent to a provider SDK: `getModel("combined", …)` hands out a member's own model, never this one.
    options: { members: group.members.map((member) => ({ providerID: member.providerID, modelID: member.modelID })) },
    headers: {},
    release_date: typeof first?.release_date === "string" ? first.release_date : (firstMember?.releaseDate ?? ""),
    ...(variants ? { variants } : {}),
  }
}

/** OpenCode's `Provider.Info` for the combined provider; undefined without groups (an empty provider crashes lists). */
export function combinedProviderInfo(
  groups: readonly Group[],
  providers: Record<string, OpenCodeProvider>,
): OpenCodeProvider | undefined {
  if (groups.length === 0) return undefined
  return {
    id: PROVIDER_ID,
    name: PROVIDER_NAME,
    source: "custom",
    env: [],
    options: {},
    models: Object.fromEntries(groups.map((group) => [group.id, combinedModelInfo(group, providers)])),
  }
}

/**
 * What one OpenCode instance's provider state was grouped into. Keyed by that instance's `providers` record, so a
 * server holding several projects resolves each against its own providers, while health stays process-wide.
 */
interface InstanceGroups {
  groups: Map<string, Group>
  access: Access
  config: ResolvedConfig
  runtime: CombinedRuntime
}

const byProviders = new WeakMap<object, InstanceGroups>()
const warned = new Set<string>()

/**
 * The provider hunk's entry point, run once per built provider state after OpenCode's own filtering. Configures the
 * process runtime from the final providers and the loaded config, inserts `providers.combined` when there is at least
 * one group, and returns the config warnings not logged before in this process (one log line each, not one per
 * instance or reload).
 */
export function addCombinedProvider<P extends OpenCodeProvider>(input: {
  providers: Record<string, P>
  config: unknown
  stateDir?: string
  /** The OpenCode instance (its directory) whose provider state this is. */
  instance?: string
  /** The auth store and environment the provider layer read (`Auth.all()`, `Env.all()`). */
  credentials?: CredentialSources
}): { warnings: string[]; dispose: () => void; ready: () => Promise<void> } {
  const { providers } = input
  const instance = input.instance ?? DEFAULT_INSTANCE
  const rt = runtime(instance)
  const { groups, problems } = rt.configure({
    config: input.config,
    providers,
    stateDir: input.stateDir,
    credentials: input.credentials,
  })
  byProviders.set(providers, { groups: new Map(rt.groups), access: rt.access, config: rt.config, runtime: rt })
  const provider = combinedProviderInfo(groups, providers)
  if (provider) (providers as Record<string, OpenCodeProvider>)[PROVIDER_ID] = provider
  watchMemberStreams(providers, groups, hasFallbackChains(rt.config), (member, headers) => rt.recordLimits(member, headers))
  const warnings = problems
    .map((problem) => `combined-models: ${problem.path}: ${problem.message}`)
    .filter((warning) => !warned.has(warning))
  for (const warning of warnings) warned.add(warning)
  return { warnings, dispose: () => disposeRuntime(instance, providers), ready: () => healthReady(rt) }
}

/**
 * How long a provider load waits, once, for a Redis health store's first sync: routing itself reads memory and never
 * waits, so without this a process's first step would not know what other machines recorded. Resolves at once for
 * the file store, a synced store, or Redis refusing the connection; never rejects.
 */
export const FIRST_SYNC_WAIT_MS = 500

async function healthReady(rt: CombinedRuntime): Promise<void> {
  await rt.redisStore?.whenSynced(FIRST_SYNC_WAIT_MS)
}

/**
 * Each member provider's `fetch`, around whatever fetch it had (`memberFetch`):
 * - the stream watcher of each SDK that drops failures from the stream (Bedrock's exception frames at the pin):
 *   OpenCode then sees the provider's own error where the SDK would have ended the stream as if it had finished;
 * - `combined_models.timeouts`, for requests routed through the engine only (`routedTimeouts`): the same provider
 *   serving a concrete selection keeps stock OpenCode's behaviour, no timeout added.
 * It changes nothing on a healthy stream.
 */
export function watchMemberStreams(
  providers: Record<string, OpenCodeProvider>,
  groups: readonly Group[],
  chains = false,
  recordLimits?: (member: MemberRef, headers: Headers) => void,
) {
  // With a fallback chain, any concrete selection is routed through the engine too: its failures must read as well.
  const watched = chains ? Object.keys(providers).filter((id) => id !== PROVIDER_ID) : memberProviderIds(groups)
  for (const id of watched) {
    const provider = providers[id]
    if (!provider) continue
    const npms = Object.values(provider.models).map((model) => (model.api as { npm?: string } | undefined)?.npm)
    const options = (provider.options ??= {}) as Record<string, unknown>
    options.fetch = memberFetch({
      npm: npms,
      inner: options.fetch as typeof globalThis.fetch | undefined,
      timeoutsFor: ({ headers }) => routedTimeouts(id, headers),
      refuse: ({ headers }) => routedRefusal(id, headers),
      ...(recordLimits
        ? {
            onResponse: (response: Response, request: { model: string | undefined }) => {
              // A refusal's headers go to its cooldown, through the classifier. Without the model the request named,
              // the headers cannot say whose allowance they describe.
              if (response.ok && request.model) recordLimits({ providerID: id, modelID: request.model }, response.headers)
            },
          }
        : {}),
    })
  }
}

/** The providers that serve some member of these groups, each once. */
function memberProviderIds(groups: readonly Group[]): string[] {
  return [...new Set(groups.flatMap((group) => group.members.map((member) => member.providerID)))]
}

/** Whether any `fallback_models` chain is configured (global, per agent, or `"*"`). */
function hasFallbackChains(config: ResolvedConfig): boolean {
  return config.fallbackModels.length > 0 || Object.values(config.agentFallbackModels).some((chain) => chain.length > 0)
}

function instanceGroups(providers: Record<string, OpenCodeProvider>): InstanceGroups {
  const known = byProviders.get(providers)
  if (known) return known
  const rt = runtime()
  return { groups: rt.groups, access: rt.access, config: rt.config, runtime: rt }
}

/** The runtime that grouped this provider state (its instance's). */
export function runtimeOf(providers: Record<string, OpenCodeProvider>): CombinedRuntime {
  return instanceGroups(providers).runtime
}

/** The groups behind one provider state's `combined` provider, by group id (members in priority order). */
export function combinedGroupsOf(providers: Record<string, OpenCodeProvider>): ReadonlyMap<string, Group> {
  return instanceGroups(providers).groups
}

/** Members that this instance can actually call, in priority order. */
function loadedMembers(group: Group, providers: Record<string, OpenCodeProvider>, access: Access) {
  return group.members.filter((member) => modelOf(providers, member) && isAllowed(member.providerID, access))
}

/**
 * `getModel("combined", groupID)` without session context: the first member by priority that is allowed and not
 * cooling down, else the first allowed member (the request then fails or succeeds on its own; a session's failover
 * takes it from there). Undefined for an unknown group id, so OpenCode reports its usual model-not-found error.
 */
export function resolveCombinedModel<M extends OpenCodeModel>(
  providers: Record<string, OpenCodeProvider & { models: Record<string, M> }>,
  groupID: string,
  now: number = Date.now(),
): M | undefined {
  const { groups, access, config, runtime: rt } = instanceGroups(providers)
  const group = groups.get(groupID)
  if (!group) return undefined
  const members = loadedMembers(group, providers, access)
  // Read ahead too: a compaction or title request is a step like any other for the provider's allowance.
  const picked = pick({ ...group, members }, rt.view, config, {}, { now, access, limits: rt.limits })
  const member = picked.kind === "member" ? picked.member : members[0]
  return member ? providers[member.providerID]?.models[member.modelID] : undefined
}

/**
 * The provider whose small model titles a combined session: `getSmallModel("combined")` gets no group id, so this is
 * the first provider in priority order among all groups' members that is allowed and not cooled as a whole (auth,
 * quota: a rate limit on the big model says nothing about the small one), else the first allowed one.
 */
export function combinedSmallModelProvider(providers: Record<string, OpenCodeProvider>, now: number = Date.now()) {
  const { groups, access, config, runtime: rt } = instanceGroups(providers)
  const members = [...groups.values()].flatMap((group) => loadedMembers(group, providers, access))
  const ranked = [...new Set([...config.providerPriority, ...members.map((member) => member.providerID)])].filter(
    (providerID) => members.some((member) => member.providerID === providerID),
  )
  const health = rt.view
  return ranked.find((providerID) => !health.cooldownOf({ providerID, modelID: "*" }, now)) ?? ranked[0]
}
