/** Plain-data fixtures shared by the engine's unit tests. */
import { DEFAULTS, type ResolvedConfig } from "../src/config.ts"
import type { CooldownEntry, HealthView } from "../src/health.ts"
import { initialState, transition, type FailoverAction, type FailoverContext, type FailoverEvent, type FailoverState } from "../src/machine.ts"
import type { Group, GroupMember, MemberRef } from "../src/types.ts"

export function member(providerID: string, modelID: string, context = 200_000, input?: number): GroupMember {
  return {
    providerID,
    modelID,
    name: "Claude Sonnet 4.5",
    limit: { context, output: 64_000, ...(input === undefined ? {} : { input }) },
    cost: { input: 3, output: 15 },
    capabilities: {
      reasoning: true,
      toolCall: true,
      attachment: true,
      temperature: true,
      input: ["text", "image"],
      output: ["text"],
    },
    joined: { kind: "identity", key: "claude-sonnet-4-5", detail: "test" },
  }
}

/** The user's story: anthropic, then Copilot (smaller window), Bedrock (two region profiles), OpenRouter. */
export function sonnetGroup(): Group {
  const members = [
    member("anthropic", "claude-sonnet-4-5"),
    member("anthropic", "claude-sonnet-4-5-20250929"),
    member("github-copilot", "claude-sonnet-4.5", 200_000, 168_000),
    member("amazon-bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    member("amazon-bedrock", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    member("openrouter", "anthropic/claude-sonnet-4.5", 1_000_000),
  ]
  return {
    id: "claude-sonnet-4-5",
    name: "Claude Sonnet 4.5",
    members,
    providers: ["anthropic", "github-copilot", "amazon-bedrock", "openrouter"],
    limit: { context: 200_000, input: 168_000, output: 64_000 },
    capabilities: members[0]!.capabilities,
    manual: false,
  }
}

export function config(overrides: Partial<ResolvedConfig> = {}): ResolvedConfig {
  return { ...DEFAULTS, providerPriority: ["anthropic", "github-copilot", "amazon-bedrock", "openrouter"], ...overrides }
}

/** A fixed view of health: the machine only reads, so plain entries are all it needs. */
export function healthOf(entries: CooldownEntry[] = []): HealthView {
  return {
    cooldownOf(target: MemberRef, now: number) {
      return entries
        .filter(
          (entry) =>
            entry.providerID === target.providerID &&
            (entry.modelID === "*" || entry.modelID === target.modelID) &&
            entry.until > now,
        )
        .sort((a, b) => b.until - a.until)[0]
    },
  }
}

export function cooling(providerID: string, modelID: string, until: number, reason: CooldownEntry["reason"] = "rate_limit"): CooldownEntry {
  return { providerID, modelID, reason, since: 0, until, failures: 1, message: "test" }
}

/** Feed the machine events in order: the final state and every action, in order. */
export function playEvents(events: FailoverEvent[], ctx: FailoverContext, from: FailoverState = initialState(ctx.group.id)) {
  const actions: FailoverAction[] = []
  let state = from
  for (const event of events) {
    const next = transition(state, event, ctx)
    state = next.state
    actions.push(...next.actions)
  }
  return { state, actions }
}
