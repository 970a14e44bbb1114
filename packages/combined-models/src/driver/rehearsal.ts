/**
 * A stage for rehearsing failover: the loopback simulator plays every provider of the given groups, each member is
 * reached through the real AI SDK client for its wire, and sessions run on the engine.
 */
import { createAmazonBedrock } from "@ai-sdk/amazon-bedrock"
import { createAnthropic } from "@ai-sdk/anthropic"
import { createGoogleGenerativeAI } from "@ai-sdk/google"
import { createOpenAI } from "@ai-sdk/openai"
import { createOpenRouter } from "@openrouter/ai-sdk-provider"
import { createOpenAICompatible } from "@ai-sdk/openai-compatible"
import type { LanguageModelV3 } from "@ai-sdk/provider"
import type { ResolvedConfig } from "../config.ts"
import { HealthRegistry } from "../health.ts"
import { LimitsTable } from "../limits.ts"
import { describeFailure, formatDuration, label } from "../label.ts"
import { startSimulator, type Simulator, type Wire } from "../simulator/index.ts"
import type { Group, MemberRef } from "../types.ts"
import { memberFetch } from "../wires/index.ts"
import { CombinedSession, type DriverEvent } from "./index.ts"

/** The SDK package each wire's client is, for `fetchForSdk`. */
const SDK_OF_WIRE: Record<Wire, string> = {
  anthropic: "@ai-sdk/anthropic",
  openai: "@ai-sdk/openai-compatible",
  openrouter: "@openrouter/ai-sdk-provider",
  bedrock: "@ai-sdk/amazon-bedrock",
  responses: "@ai-sdk/openai",
  google: "@ai-sdk/google",
  copilot: "@ai-sdk/github-copilot",
}

/** Providers that speak Anthropic's Messages API (the rest of `wireFor` falls back to chat completions). */
const ANTHROPIC_WIRE = /^(anthropic|google-vertex-anthropic)$|anthropic/

/** The wire a provider's real SDK speaks: Bedrock's ConverseStream, Anthropic's Messages, or chat completions. */
export function wireFor(providerID: string): Wire {
  if (providerID === "amazon-bedrock") return "bedrock"
  if (providerID === "openrouter") return "openrouter"
  // OpenAI's own models go through @ai-sdk/openai's Responses API, as OpenCode sends them.
  if (providerID === "openai") return "responses"
  if (providerID === "google") return "google"
  return ANTHROPIC_WIRE.test(providerID) ? "anthropic" : "openai"
}

export interface RehearsalOptions {
  groups: Group[]
  config: ResolvedConfig
  clock?: () => number
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Wraps every request the AI SDK clients send; benchmarks time requests with it. */
  fetch?: typeof fetch
  /** The provider an account is of (`combined_models.accounts`): the account speaks its provider's wire. */
  providerOf?: (providerID: string) => string | undefined
  /** The simulator wire a provider speaks, where not the usual one (`wireFor`). */
  wire?: (providerID: string) => Wire | undefined
  /** Whether routing reads the members' rate-limit headers ahead (default true, as in OpenCode); the benchmark's baseline turns it off. */
  readAhead?: boolean
  /** A client of your own for a member; `fetch` is the one OpenCode's adapter would give it (timeouts, watchers). */
  model?: (member: MemberRef, baseURL: string, fetch: typeof globalThis.fetch) => LanguageModelV3 | undefined
}

export interface Rehearsal extends AsyncDisposable {
  sim: Simulator
  health: HealthRegistry
  /** What each simulated provider's rate-limit headers said, as OpenCode's adapter keeps it. */
  limits: LimitsTable
  model(member: MemberRef): LanguageModelV3
  session(groupID: string): CombinedSession
  stop(): Promise<void>
}

export async function startRehearsal(options: RehearsalOptions): Promise<Rehearsal> {
  const sim = await startSimulator()
  const providers = new Set(options.groups.flatMap((group) => group.members.map((member) => member.providerID)))
  const wireOf = (providerID: string) => wireFor(options.providerOf?.(providerID) ?? providerID)
  for (const providerID of providers) sim.addProvider(providerID, options.wire?.(providerID) ?? wireOf(providerID))
  const health = new HealthRegistry({ cooldowns: options.config.cooldowns, clock: options.clock })
  const limits = new LimitsTable()
  const rotations = new Map<string, number>()
  const now = options.clock ?? Date.now

  const model = (member: MemberRef): LanguageModelV3 => {
    const baseURL = sim.baseURL(member.providerID)
    const wire = wireOf(member.providerID)
    // The SDK's fetch as OpenCode's adapter gives it to a member: failover's timeouts (every rehearsal request is
    // routed through the engine), and watched where that SDK drops stream errors.
    const fetch = memberFetch({
      npm: SDK_OF_WIRE[wire],
      inner: options.fetch,
      timeoutsFor: () => options.config.timeouts,
      onResponse: (response) => {
        if (response.ok) limits.record(member, response.headers, now())
      },
    })
    const given = options.model?.(member, baseURL, fetch)
    if (given) return given
    const apiKey = "rehearsal"
    switch (wire) {
      case "bedrock":
        // A Bedrock API key (bearer token), as OpenCode sends it; no SigV4 signing against a loopback.
        return createAmazonBedrock({ baseURL, region: "us-east-1", apiKey, fetch })(member.modelID)
      case "anthropic":
        return createAnthropic({ baseURL, apiKey, fetch })(member.modelID)
      case "openrouter":
        return createOpenRouter({ baseURL, apiKey, fetch }).chat(member.modelID)
      case "google":
        return createGoogleGenerativeAI({ baseURL, apiKey, fetch })(member.modelID)
      case "responses":
        return createOpenAI({ baseURL, apiKey, fetch }).responses(member.modelID)
      default:
        return createOpenAICompatible({ name: member.providerID, baseURL, apiKey, fetch }).chatModel(member.modelID)
    }
  }
  const session = (groupID: string) => {
    const group = options.groups.find((candidate) => candidate.id === groupID)
    if (!group) throw new Error(`no combined group "${groupID}"; known: ${options.groups.map((g) => g.id).join(", ")}`)
    const nextRotation = () => {
      const turn = rotations.get(group.id) ?? 0
      rotations.set(group.id, turn + 1)
      return turn
    }
    return new CombinedSession({
      group,
      config: options.config,
      health,
      model,
      clock: options.clock,
      sleep: options.sleep,
      ...(options.readAhead === false ? {} : { limits }),
      nextRotation,
    })
  }
  const stop = () => sim.stop()
  return { sim, health, limits, model, session, stop, [Symbol.asyncDispose]: stop }
}

/** The symbols `describeEvent` prints, in one line: printed before a demo or rehearsal plays. */
export const EVENT_KEY =
  "key: → step sent · ✗ failure (the cause) · ↪ failover's move · ⚙ tool call · ✓ done · " +
  "[replay] step sent again from its start · [continue] step goes on from its tools' results"

/** One line per thing worth seeing, for the demo and `rehearse`. Text deltas are returned bare for live printing. */
export function describeEvent(event: DriverEvent, group: Pick<Group, "name">): string | undefined {
  switch (event.type) {
    case "step":
      return `\n  → ${label(group, event.member)}${event.mode === "fresh" ? "" : ` [${event.mode}]`}: `
    case "text":
      return event.delta
    case "tool":
      return event.status === "called" ? `\n    ⚙ ${event.toolName} (${event.toolCallId})` : `\n    ✓ ${event.toolName} done`
    case "failure":
      return `\n  ✗ ${describeFailure(event.member.providerID, event.error)}${event.error.statusCode ? ` [${event.error.statusCode}]` : ""}: ${event.error.message}`
    case "decision": {
      const action = event.action
      switch (action.type) {
        case "cool_down":
          return undefined
        case "use":
          // A move before anything failed: read ahead past a member near its limit, or down the chain.
          return action.notice ? `\n  ↪ ${action.notice}` : undefined
        case "retry":
        case "replay":
        case "continue":
        case "wait":
          return `\n  ↪ ${action.notice}${action.type === "continue" ? " (tool results kept)" : ""}`
        case "surface":
          return `\n  ✗ ${action.message.split("\n").join("\n    ")}`
        default:
          return undefined
      }
    }
  }
}

/** The health table printed after a rehearsal: who is cooling down, why, and for how long. */
export function describeHealth(health: HealthRegistry, now: number): string[] {
  const entries = health.entries(now)
  if (entries.length === 0) return ["  every provider healthy"]
  return entries.map(
    (entry) =>
      `  ${entry.providerID}/${entry.modelID === "*" ? "*" : entry.modelID}: ${entry.reason.replace("_", " ")}, ${Number.isFinite(entry.until) ? `${formatDuration(entry.until - now)} left` : "until re-authenticated"}`,
  )
}
