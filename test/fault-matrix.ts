/**
 * The fault matrix: every fault the simulator knows × each wire it happens on × where it happens, through each
 * provider's real SDK, driven by the engine through the one failover edge (`StepEdge`, via the driver).
 * `test/fault-matrix.test.ts` runs it through the SDKs this repository installs; `test/e2e/copilot-sdk.test.ts`
 * through OpenCode's own Copilot SDK, which only an OpenCode tree has. Each case asserts the decision, the final
 * text (one provider's, never two spliced), how many requests each provider got, that tools ran once, and what the
 * cooldown does to the next turn.
 */
import { describe, expect, test } from "bun:test"
import type { LanguageModelV3 } from "@ai-sdk/provider"
import { tool, type ModelMessage } from "ai"
import { z } from "zod"
import { resolveConfig, type ResolvedConfig } from "../packages/combined-models/src/config.ts"
import { startRehearsal } from "../packages/combined-models/src/driver/rehearsal.ts"
import { FAULT_CATALOG, faults, MODEL_REFUSALS, type SimFault, type CatalogWire as Wire, type Wire as SimWire } from "../packages/combined-models/src/simulator/index.ts"
import type { Group, MemberRef } from "../packages/combined-models/src/types.ts"
import { member, sonnetGroup } from "../packages/combined-models/test/fixtures.ts"

type Decision = "retry" | "switch" | "pass_through"

/** What the engine must do with each fault, and the reason it must read from it. */
type Expectation = { decision: Decision; reason: string }

/**
 * An overload inside the stream, first event or after text alike. Bedrock's serviceUnavailableException frame reads
 * as its HTTP twin, the 503 ServiceUnavailableException; OpenAI's is `response.failed` (the error on the response);
 * Gemini's is the {error} chunk @ai-sdk/google drops and the watcher surfaces.
 */
const STREAM_OVERLOADED: Partial<Record<Wire, Expectation>> = {
  anthropic: { decision: "retry", reason: "overloaded" },
  openai: { decision: "retry", reason: "overloaded" },
  openrouter: { decision: "retry", reason: "overloaded" },
  bedrock: { decision: "retry", reason: "server_error" },
  responses: { decision: "retry", reason: "overloaded" },
  google: { decision: "retry", reason: "overloaded" },
}
const EXPECTED: Record<string, Expectation | Partial<Record<Wire, Expectation>>> = {
  // Anthropic's reset header says 60 s: switch. OpenAI's x-ratelimit-reset says 2 s: wait it out on the same provider.
  // Bedrock's ThrottlingException names no wait at all: switch.
  "rate-limit": {
    anthropic: { decision: "switch", reason: "rate_limit" },
    openai: { decision: "retry", reason: "rate_limit" },
    bedrock: { decision: "switch", reason: "rate_limit" },
    // OpenRouter forwards Anthropic's body in metadata.raw, without its headers: no wait known, switch.
    openrouter: { decision: "switch", reason: "rate_limit" },
    responses: { decision: "retry", reason: "rate_limit" },
    // Gemini's RetryInfo says 17 s: longer than a same-member wait.
    google: { decision: "switch", reason: "rate_limit" },
  },
  "rate-limit-retry-after": { decision: "switch", reason: "rate_limit" },
  "rate-limit-retry-after-ms": { decision: "retry", reason: "rate_limit" },
  "insufficient-quota": { decision: "switch", reason: "quota" },
  "credit-balance-too-low": { decision: "switch", reason: "quota" },
  "insufficient-credits-402": { decision: "switch", reason: "quota" },
  "overloaded-529": { decision: "retry", reason: "overloaded" },
  "server-error-500": { decision: "retry", reason: "server_error" },
  // OpenAI's 503 body says "The engine is currently overloaded".
  // Bedrock's ServiceUnavailableException: "unable to process your request", a passing failure of the service.
  "unavailable-503": {
    anthropic: { decision: "retry", reason: "server_error" },
    openai: { decision: "retry", reason: "overloaded" },
    bedrock: { decision: "retry", reason: "server_error" },
    openrouter: { decision: "retry", reason: "server_error" },
    responses: { decision: "retry", reason: "overloaded" },
    google: { decision: "retry", reason: "server_error" },
  },
  "auth-401": { decision: "switch", reason: "auth" },
  // The openai-wire provider here is github-copilot, whose bare 403 is a known transient: a short cooldown, not
  // "until you sign in again". Anthropic's 403 is a real permission problem.
  "forbidden-403": {
    anthropic: { decision: "switch", reason: "auth" },
    openai: { decision: "switch", reason: "rate_limit" },
    // Bedrock's 403 AccessDeniedException names the model ("You don't have access to the model…"): that member only.
    bedrock: { decision: "switch", reason: "model_unavailable" },
    openrouter: { decision: "switch", reason: "auth" },
    // At OpenAI itself a 403 is a real permission problem.
    responses: { decision: "switch", reason: "auth" },
    google: { decision: "switch", reason: "auth" },
  },
  "context-length-400": { decision: "pass_through", reason: "context_overflow" },
  "stream-error-first-event": STREAM_OVERLOADED,
  "stream-error-after-text": STREAM_OVERLOADED,
  "cut-before-first-byte": { decision: "retry", reason: "network" },
  "cut-after-metadata": { decision: "retry", reason: "network" },
  "cut-after-text": { decision: "retry", reason: "network" },
  "hang-before-first-byte": { decision: "switch", reason: "timeout" },
  "hang-after-metadata": { decision: "switch", reason: "timeout" },
  "stall-after-text": { decision: "switch", reason: "timeout" },
  "truncate-after-text": { decision: "retry", reason: "network" },
  // In-stream errors carry no wait: a rate limit switches, a server error is retried once.
  // OpenAI's message says "Please try again in 2s": sat out on the same provider.
  "stream-rate-limit-after-text": {
    anthropic: { decision: "switch", reason: "rate_limit" },
    openai: { decision: "retry", reason: "rate_limit" },
    openrouter: { decision: "switch", reason: "rate_limit" },
    bedrock: { decision: "switch", reason: "rate_limit" },
    responses: { decision: "retry", reason: "rate_limit" },
    google: { decision: "switch", reason: "rate_limit" },
  },
  "stream-server-error-after-text": { decision: "retry", reason: "server_error" },
}

function expected(name: string, wire: Wire, overrides: Through["overrides"] = {}) {
  const override = overrides[name]
  if (override) return override
  const entry = EXPECTED[name]
  if (!entry) throw new Error(`no expectation for fault ${name}: add it to EXPECTED`)
  const found = "decision" in entry ? (entry as Expectation) : (entry as Partial<Record<Wire, Expectation>>)[wire]
  if (!found) throw new Error(`no expectation for fault ${name} on ${wire}: add it to EXPECTED`)
  return found
}

/** The failing member first, then the healthy one. */
function quickConfig(priority: string[]): ResolvedConfig {
  const resolved = resolveConfig({
    provider_priority: priority,
    combined_models: { timeouts: { first_byte: "300ms", stall: "300ms" } },
  })
  if (!resolved.ok) throw new Error("test config invalid")
  return resolved.config
}

const PRIMARY: Record<Wire, string> = {
  anthropic: "anthropic",
  openai: "github-copilot",
  openrouter: "openrouter",
  bedrock: "amazon-bedrock",
  responses: "openai",
  google: "google",
}

/** The failing provider speaks the wire under test; OpenRouter is the healthy next member (Anthropic after OpenRouter). */
function groupFor(wire: Wire, through: Through): { group: Group; primary: string; next: string } {
  const primary = through.primary ?? PRIMARY[wire]
  const next = primary === "openrouter" ? "anthropic" : "openrouter"
  const sonnet = sonnetGroup()
  // OpenAI's Responses API serves OpenAI's models: GPT-5 at OpenAI and at OpenRouter.
  const group =
    wire === "responses"
      ? {
          ...sonnet,
          id: "gpt-5",
          name: "GPT-5",
          members: [member(primary, through.primary ? "gpt-5.2" : "gpt-5", 400_000), member("openrouter", "openai/gpt-5", 400_000)],
        }
      : wire === "google"
        ? {
            ...sonnet,
            id: "gemini-2.5-pro",
            name: "Gemini 2.5 Pro",
            members: [member("google", "gemini-2.5-pro", 1_048_576), member("openrouter", "google/gemini-2.5-pro", 1_048_576)],
          }
        : sonnet
  const members = group.members.filter((member) => member.providerID === primary || member.providerID === next)
  // Grouping orders members by priority; here the failing member comes first whatever the order of the fixture.
  members.sort((a, b) => Number(b.providerID === primary) - Number(a.providerID === primary))
  return { primary, next, group: { ...group, members, providers: [primary, next] } }
}

async function stage(wire: Wire, through: Through) {
  const { group, primary, next } = groupFor(wire, through)
  const delays: number[] = []
  const rehearsal = await startRehearsal({
    groups: [group],
    config: quickConfig([primary, next]),
    wire: (providerID) => (providerID === primary ? through.simWire : undefined),
    model: (target, baseURL, fetch) => (target.providerID === primary ? through.model?.(target, baseURL, wire, fetch) : undefined),
    // Retry waits are recorded, not slept: the decision is what matters, and tests stay fast.
    sleep: async (ms) => void delays.push(ms),
  })
  let toolRuns = 0
  const tools = {
    read_file: tool({
      description: "Read a file",
      inputSchema: z.object({ path: z.string() }),
      execute: async ({ path }) => {
        toolRuns++
        return { path, content: "file body" }
      },
    }),
  }
  return { rehearsal, group, primary, next, delays, tools, toolRuns: () => toolRuns }
}

const user = (content: string): ModelMessage[] => [{ role: "user", content }]
const PARTIAL = "A partial answer that"

/**
 * Which SDK serves the failing member: by default the one `startRehearsal` picks for the wire; a `Through` puts
 * another in front (OpenCode's Copilot SDK), on the simulator wire it speaks, with its own measured readings.
 */
export interface Through {
  label?: string
  /** The wires to run (default: every wire a fault is catalogued on). */
  wires?: readonly Wire[]
  /** The failing member's provider id (default: the wire's usual one). */
  primary?: string
  /** The simulator wire the failing provider speaks (default: the rehearsal's for its id). */
  simWire?: SimWire
  /** `fetch`: the member fetch OpenCode's adapter would install (timeouts, stream watchers). */
  model?: (member: MemberRef, baseURL: string, wire: Wire, fetch: typeof globalThis.fetch) => LanguageModelV3 | undefined
  /** Expectations that differ for this SDK, by fault name. */
  overrides?: Record<string, Expectation>
}

export function faultMatrix(through: Through = {}) {
  describe(`fault matrix${through.label ? ` through ${through.label}` : ""}`, () => {
    for (const entry of FAULT_CATALOG) {
      for (const wire of entry.wires.filter((candidate) => !through.wires || through.wires.includes(candidate))) {
        const want = expected(entry.name, wire, through.overrides)

        test(`${entry.name} on ${wire} (${entry.at}) → ${want.decision}`, async () => {
          const { rehearsal, group, primary, next } = await stage(wire, through)
          await using _ = rehearsal
          const session = rehearsal.session(group.id)
          rehearsal.sim.script(primary, [{ text: PARTIAL, fault: entry.fault }])

          const result = await session.runTurn({ messages: user("hi") })
          const failed = result.steps.find((step) => step.outcome === "failed")
          expect(failed?.error?.reason).toBe(want.reason as never)
          expect(failed?.member.providerID).toBe(primary)

          const served = want.decision === "switch" ? next : primary
          if (want.decision === "pass_through") {
            expect(result.status).toBe("failed")
            expect(rehearsal.sim.requests(next)).toHaveLength(0)
            expect(rehearsal.sim.requests(primary)).toHaveLength(1)
            expect(rehearsal.health.entries()).toEqual([])
            return
          }
          expect(result.status).toBe("answered")
          expect(result.servedBy?.providerID).toBe(served)
          // One provider's answer, whole: the failed attempt's partial text is gone.
          expect(result.text).toBe(`Hello from ${served}.`)
          expect(rehearsal.sim.requests(primary)).toHaveLength(want.decision === "retry" ? 2 : 1)
          expect(rehearsal.sim.requests(next)).toHaveLength(want.decision === "switch" ? 1 : 0)

          // The next turn: a member that was switched away from is skipped without a request; one that recovered
          // on retry serves again.
          const before = { primary: rehearsal.sim.requests(primary).length, next: rehearsal.sim.requests(next).length }
          const second = await session.runTurn({ messages: user("again") })
          expect(second.servedBy?.providerID).toBe(served)
          expect(rehearsal.sim.requests(primary).length - before.primary).toBe(want.decision === "switch" ? 0 : 1)
        })

        if (want.decision === "pass_through") continue
        test(`${entry.name} on ${wire}, in the step after a completed tool call → ${want.decision}, the tool ran once`, async () => {
          const { rehearsal, group, primary, next, tools, toolRuns } = await stage(wire, through)
          await using _ = rehearsal
          const session = rehearsal.session(group.id)
          rehearsal.sim.script(primary, [
            { toolCall: { name: "read_file", input: { path: "README.md" }, id: "call_matrix_1" } },
            { text: PARTIAL, fault: entry.fault },
          ])

          const result = await session.runTurn({ messages: user("read it"), tools })
          expect(toolRuns()).toBe(1)
          expect(result.status).toBe("answered")
          const served = want.decision === "switch" ? next : primary
          expect(result.servedBy?.providerID).toBe(served)
          expect(result.text).toBe(`Hello from ${served}.`)
          // Whoever served the last step was given the tool's result.
          const last = rehearsal.sim.requests(served).at(-1)
          expect(JSON.stringify(last?.body)).toContain("file body")
        })
      }
    }
  })

  if (through.label) return

  describe("a failure after a tool call in the same step continues from the result", () => {
    const cases: [string, SimFault][] = [
      ["cut", faults.cut("after-tool-call")],
      ["stall", faults.hang("after-tool-call")],
      ["overloaded event", { kind: "stream-error", at: "after-tool-call", error: "overloaded" }],
    ]
    for (const wire of ["anthropic", "openai"] as const) {
      for (const [name, fault] of cases) {
        test(`${name} on ${wire}`, async () => {
          const { rehearsal, group, primary, tools, toolRuns } = await stage(wire, through)
          await using _ = rehearsal
          // No same-member retry, so the continuation goes to the next provider.
          const session = rehearsal.session(group.id)
          rehearsal.sim.script(primary, [
            { text: "Let me look.", toolCall: { name: "read_file", input: { path: "a.ts" }, id: "call_same_step" }, fault },
            { fault: faults.rateLimit({ retryAfter: 60 }) },
          ])
          const result = await session.runTurn({ messages: user("read a.ts"), tools })
          expect(toolRuns()).toBe(1)
          const settled = result.decisions.filter((action) => ["retry", "replay", "continue"].includes(action.type))
          expect(settled[0]?.type).toBe(name === "stall" ? "continue" : "retry")
          expect(result.status).toBe("answered")
          expect(result.servedBy?.providerID).toBe("openrouter")
          // The text before the tool call stays with it; the answer after comes from one provider.
          expect(result.text).toBe("Let me look.Hello from openrouter.")
          const body = JSON.stringify(rehearsal.sim.requests("openrouter").at(-1)?.body)
          expect(body).toContain("file body")
          expect(body).toContain("call_same_step")
        })
      }
    }
  })

  describe("a refusal that names one model fails over and cools that member alone, on each wire that sends one", () => {
    for (const refusal of MODEL_REFUSALS) {
      const wire: Wire = refusal.wire === "copilot" ? "openai" : refusal.wire
      const reason = refusal.name === "gemini-per-model-daily-quota" ? "quota" : "model_unavailable"
      test(`${refusal.name} (${refusal.provider}) → switch, ${reason}, model-scoped`, async () => {
        const { rehearsal, group, primary, next } = await stage(wire, { ...through, primary: refusal.provider, simWire: refusal.wire })
        await using _ = rehearsal
        const session = rehearsal.session(group.id)
        rehearsal.sim.script(primary, [{ text: PARTIAL, fault: refusal.fault }])

        const result = await session.runTurn({ messages: user("hi") })
        const failed = result.steps.find((step) => step.outcome === "failed")
        expect(failed?.error).toMatchObject({ reason, scope: "model" })
        expect(result.servedBy?.providerID).toBe(next)
        expect(result.text).toBe(`Hello from ${next}.`)
        // No same-member retry: the refusal will not change in seconds.
        expect(rehearsal.sim.requests(primary)).toHaveLength(1)

        // Cooled: that member, for long; another model of the same provider is not.
        const failedMember = failed!.member
        const [entry] = rehearsal.health.entries()
        expect(entry).toMatchObject({ providerID: primary, modelID: failedMember.modelID, scope: "model" })
        expect(entry!.until - entry!.since).toBeGreaterThanOrEqual(reason === "quota" ? 40_000 : 3_600_000)
        expect(rehearsal.health.cooldownOf({ providerID: primary, modelID: "another-model" })).toBeUndefined()

        // The next turn skips the refused member without asking it.
        const second = await session.runTurn({ messages: user("again") })
        expect(second.servedBy?.providerID).toBe(next)
        expect(rehearsal.sim.requests(primary)).toHaveLength(1)
      })
    }
  })

  describe("abort never fails over", () => {
    for (const wire of ["anthropic", "openai"] as const) {
      test(`user abort mid-stream on ${wire}`, async () => {
        const { rehearsal, group, primary } = await stage(wire, through)
        await using _ = rehearsal
        const session = rehearsal.session(group.id)
        rehearsal.sim.script(primary, [{ text: "a long answer that goes on and on and on", chunkDelayMs: 40 }])
        const controller = new AbortController()
        const result = await session.runTurn({
          messages: user("hi"),
          abortSignal: controller.signal,
          onEvent: (event) => {
            if (event.type === "text") controller.abort()
          },
        })
        expect(result.status).toBe("aborted")
        expect(rehearsal.sim.requests("openrouter")).toHaveLength(0)
        expect(rehearsal.health.entries()).toEqual([])
        expect(result.decisions.some((action) => ["replay", "continue", "retry", "cool_down"].includes(action.type))).toBe(false)
      })

      test(`user abort while the provider hangs on ${wire}`, async () => {
        const { rehearsal, group, primary } = await stage(wire, through)
        await using _ = rehearsal
        const session = rehearsal.session(group.id)
        rehearsal.sim.script(primary, [{ fault: faults.hang("before-first-byte") }])
        const result = await session.runTurn({ messages: user("hi"), abortSignal: AbortSignal.timeout(100) })
        expect(result.status).toBe("aborted")
        expect(rehearsal.sim.requests("openrouter")).toHaveLength(0)
        expect(rehearsal.health.entries()).toEqual([])
      })
    }
  })
}
