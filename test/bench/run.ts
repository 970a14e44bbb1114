/**
 * `bun run bench`: grouping on the real catalog (median time, peak memory) and the engine's overhead per failover
 * decision on loopback with the real AI SDK providers (p50, p99). Writes the results into docs/benchmarks.md.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { RedisClient } from "bun"
import { join } from "node:path"
import { classify } from "../../packages/combined-models/src/classify.ts"
import { DEFAULT_COOLDOWNS, resolveConfig } from "../../packages/combined-models/src/config.ts"
import { createFileHealthStore } from "../../packages/combined-models/src/health-store.ts"
import { createRedisHealthStore } from "../../packages/combined-models/src/health-store-redis.ts"
import { redisAvailable, startRedis } from "../../packages/combined-models/test/redis-server.ts"
import { startRehearsal } from "../../packages/combined-models/src/driver/rehearsal.ts"
import { CombinedRuntime } from "../../packages/opencode1/src/runtime.ts"
import { HealthRegistry } from "../../packages/combined-models/src/health.ts"
import { initialState, transition } from "../../packages/combined-models/src/machine.ts"
import { faults } from "../../packages/combined-models/src/simulator/index.ts"
import { sonnetGroup } from "../../packages/combined-models/test/fixtures.ts"
import { openCodeProviders } from "./opencode-providers.ts"

const root = join(import.meta.dir, "../..")
const catalogPath = process.env.COMBINED_MODELS_CATALOG ?? join(root, "../shared/fixtures/models-dev-2026-07-02.json")

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}
const fmt = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`)

const rows: string[] = []
const log = (line: string) => {
  console.log(line)
  rows.push(line)
}

// 1. Grouping on the real catalog.
if (!existsSync(catalogPath)) {
  log(`- grouping: skipped, no catalog at ${catalogPath} (set COMBINED_MODELS_CATALOG)`)
} else {
  const raw = JSON.parse(await Bun.file(catalogPath).text())
  // The pass the provider hunk runs at provider load, on the catalog as OpenCode's provider state holds it.
  const providers = openCodeProviders(raw) as never
  const times: number[] = []
  let groups = 0
  for (let run = 0; run < 25; run++) {
    // Each pass starts from a collected heap, as a provider load does: garbage of the previous pass is not its cost.
    Bun.gc(true)
    const start = performance.now()
    groups = new CombinedRuntime().configure({ config: {}, providers }).groups.length
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  const child = Bun.spawnSync(["bun", join(import.meta.dir, "grouping-memory.ts"), catalogPath])
  const memory = JSON.parse(child.stdout.toString()) as { firstPassMs: number; rssBeforeKB: number; rssPeakKB: number; maxRssAfterKB: number }
  const models = Object.values(raw as Record<string, { models: object }>).reduce((n, p) => n + Object.keys(p.models).length, 0)
  log(`| grouping at provider load, real catalog (${Object.keys(raw).length} providers, ${models} models → ${groups} groups) | median ${fmt(times[Math.floor(times.length / 2)]!)}, p90 ${fmt(percentile(times, 90))} (25 runs); first pass of a fresh process ${fmt(memory.firstPassMs)} |`)
  log(`| grouping, memory | RSS +${((memory.rssPeakKB - memory.rssBeforeKB) / 1024).toFixed(1)} MiB during the first pass; process peak ${(memory.maxRssAfterKB / 1024).toFixed(0)} MiB with the parsed catalog |`)
}

// 2. The engine alone: classify + transition + cooldown for one failure, no I/O.
{
  const resolved = resolveConfig({ provider_priority: ["anthropic", "github-copilot", "amazon-bedrock", "openrouter"] })
  if (!resolved.ok) throw new Error("bench config invalid")
  const group = sonnetGroup()
  const health = new HealthRegistry({ cooldowns: resolved.config.cooldowns })
  const context = { group, health, config: resolved.config }
  const apiError = Object.assign(new Error("Too Many Requests"), {
    name: "AI_APICallError",
    statusCode: 429,
    responseHeaders: { "retry-after": "30" },
    responseBody: '{"type":"error","error":{"type":"rate_limit_error","message":"rate limited"}}',
  })
  const member = { providerID: "anthropic", modelID: "claude-sonnet-4-5" }
  const samples: number[] = []
  for (let run = 0; run < 20_000; run++) {
    health.clear()
    let state = transition(initialState(group.id), { type: "step_requested", at: run }, context).state
    state = transition(state, { type: "step_started", at: run, member }, context).state
    const start = performance.now()
    const error = classify(apiError, { now: run })
    const { actions } = transition(state, { type: "step_failed", at: run, error }, context)
    for (const action of actions) if (action.type === "cool_down") health.report(action.member, action.error, { attemptStartedAt: run })
    samples.push(performance.now() - start)
  }
  samples.sort((a, b) => a - b)
  log(`| engine decision alone (classify + transition + cooldown), 20,000 runs | p50 ${fmt(percentile(samples, 50))}, p99 ${fmt(percentile(samples, 99))} |`)
}

// Hostile input: error bodies of megabytes must not stall the session (no catastrophic regex backtracking).
{
  const { redact } = await import("../../packages/combined-models/src/redact.ts")
  const body = "sk-ant-api03-AbC123dEf456GhI789 ".repeat(100_000)
  const huge = `{"error":{"message":"${"x".repeat(5_000_000)}"}}`
  const time = (run: () => unknown) => {
    const samples: number[] = []
    for (let i = 0; i < 5; i++) {
      const start = performance.now()
      run()
      samples.push(performance.now() - start)
    }
    return samples.sort((a, b) => a - b)[2]!
  }
  log(`| redact a 3.3 MB body full of keys | median ${fmt(time(() => redact(body)))} (5 runs) |`)
  log(`| classify an error with a 5 MB body | median ${fmt(time(() => classify({ statusCode: 500, responseBody: huge })))} (5 runs) |`)
}

// 3. Failure reaching the engine → next request leaving, real providers on loopback.
{
  const resolved = resolveConfig({ provider_priority: ["anthropic", "github-copilot"] })
  if (!resolved.ok) throw new Error("bench config invalid")
  const full = sonnetGroup()
  const group = { ...full, members: full.members.filter((m) => m.providerID === "anthropic" || m.providerID === "github-copilot") }
  let lastRequestAt = 0
  const timedFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    lastRequestAt = performance.now()
    return fetch(input, init)
  }) as typeof fetch
  await using stage = await startRehearsal({ groups: [group], config: resolved.config, fetch: timedFetch })
  const session = stage.session(group.id)
  const handoff: number[] = []
  for (let run = 0; run < 300; run++) {
    stage.health.clear()
    stage.sim.script("anthropic", [{ fault: faults.rateLimit({ retryAfter: 30 }) }])
    let detectedAt = 0
    await session.runTurn({
      messages: [{ role: "user", content: "bench" }],
      onEvent: (event) => {
        if (event.type === "failure") detectedAt = event.detectedAt
      },
    })
    // Two requests a turn: the 429, then the failover. The last request out is the failover's.
    if (detectedAt && lastRequestAt > detectedAt) handoff.push(lastRequestAt - detectedAt)
  }
  handoff.sort((a, b) => a - b)
  log(`| failure off the stream → next request leaving (real AI SDK clients, loopback), ${handoff.length} failovers | p50 ${fmt(percentile(handoff, 50))}, p99 ${fmt(percentile(handoff, 99))} |`)
}

// 4. The Redis health store, against a real redis-server on loopback: a routing decision, and how fresh it is.
if (!redisAvailable) {
  log("- Redis health store: skipped, no redis-server on PATH")
} else {
  const redis = await startRedis()
  const dir = mkdtempSync(join(tmpdir(), "combined-models-bench-redis-"))
  const machine = (name: string) => {
    const store = createRedisHealthStore({ url: redis.url, local: createFileHealthStore(join(dir, name, "health.json")) })
    return { store, health: new HealthRegistry({ cooldowns: DEFAULT_COOLDOWNS, store, refreshIntervalMs: 0, writes: "immediate" }) }
  }
  const a = machine("a")
  const b = machine("b")
  try {
    await Promise.all([a.store.whenSynced(5_000), b.store.whenSynced(5_000)])
    // A routing decision reads the mirror; twenty cooldowns stored, as a busy team might have.
    for (let index = 0; index < 20; index++)
      a.health.report({ providerID: `provider-${index}`, modelID: "m" }, { reason: "rate_limit", message: "429", retryAfterMs: 600_000 })
    await a.store.drained()
    const member = { providerID: "anthropic", modelID: "claude-sonnet-4-5" }
    const decisions: number[] = []
    for (let run = 0; run < 20_000; run++) {
      const start = performance.now()
      b.health.cooldownOf(member)
      decisions.push(performance.now() - start)
    }
    decisions.sort((x, y) => x - y)
    log(`| routing decision with the Redis store (mirror read, 20 cooldowns stored), 20,000 runs | p50 ${fmt(percentile(decisions, 50))}, p99 ${fmt(percentile(decisions, 99))} |`)

    // Freshness by publish/subscribe: from A's report to B's next decision seeing it.
    const spread: number[] = []
    for (let run = 0; run < 200; run++) {
      const probe = { providerID: "probe", modelID: `m${run}` }
      const start = performance.now()
      a.health.report(probe, { reason: "rate_limit", message: "429", retryAfterMs: 600_000 })
      while (!b.health.cooldownOf(probe)) await new Promise((resolve) => setImmediate(resolve))
      spread.push(performance.now() - start)
    }
    spread.sort((x, y) => x - y)
    log(`| a cooldown recorded on one machine → seen by the other's next decision (publish/subscribe), 200 runs | p50 ${fmt(percentile(spread, 50))}, p99 ${fmt(percentile(spread, 99))} |`)

    // The alternative: read Redis on every decision (one MGET of the member's two keys), what each step would wait.
    const client = new RedisClient(redis.url)
    await client.connect()
    const reads: number[] = []
    for (let run = 0; run < 2_000; run++) {
      const start = performance.now()
      await client.send("MGET", ["combined-models:v1:cd:anthropic|claude-sonnet-4-5", "combined-models:v1:cd:anthropic|*"])
      reads.push(performance.now() - start)
    }
    client.close()
    reads.sort((x, y) => x - y)
    log(`| the alternative: a Redis read on every decision (MGET of the member's keys, loopback), 2,000 runs | p50 ${fmt(percentile(reads, 50))}, p99 ${fmt(percentile(reads, 99))} |`)
  } finally {
    a.store.close()
    b.store.close()
    await redis.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

// 5. Limits read ahead: a scripted session against a provider with a token budget per minute.
{
  const { readAheadSession } = await import("../read-ahead.ts")
  const without = await readAheadSession({ readAhead: false })
  const ahead = await readAheadSession({ readAhead: true })
  const served = (run: typeof ahead) => `anthropic ${run.servedBy.anthropic ?? 0}, github-copilot ${run.servedBy["github-copilot"] ?? 0}`
  log(`| read-ahead: 429s over a ${ahead.turns}-turn session, anthropic at 6,000 tokens/min, a turn every 10 s | without read-ahead ${without.refusals} (turns served: ${served(without)}); with it ${ahead.refusals} (${served(ahead)}; ${ahead.movedAhead} moves ahead, back ${ahead.cameBack} times after the reset) |`)
  const freshWithout = await readAheadSession({ readAhead: false, newSessions: true })
  const freshAhead = await readAheadSession({ readAhead: true, newSessions: true })
  log(`| read-ahead, each turn a new session (about 2,700 tokens of system prompt and tools a request), ${freshAhead.turns} turns, anthropic at 6,000 tokens/min, a turn every 10 s | without read-ahead ${freshWithout.refusals} (turns served: ${served(freshWithout)}); with it ${freshAhead.refusals} (${served(freshAhead)}; ${freshAhead.movedAhead} sessions started elsewhere, back ${freshAhead.cameBack} times after the reset) |`)
}

const doc = join(root, "docs/benchmarks.md")
const text = existsSync(doc) ? await Bun.file(doc).text() : ""
const begin = "<!-- bench:begin -->"
const end = "<!-- bench:end -->"
const table = [begin, `Measured ${new Date().toISOString().slice(0, 10)}, bun ${Bun.version}, ${navigator.hardwareConcurrency} cores.`, "", "| what | result |", "|---|---|", ...rows.filter((row) => row.startsWith("|")), end].join("\n")
if (text.includes(begin) && text.includes(end)) {
  await Bun.write(doc, text.replace(new RegExp(`${begin}[\\s\\S]*${end}`), table))
  console.log(`\nwrote ${doc}`)
} else {
  console.log(`\n${doc} has no bench markers; results not written`)
}
