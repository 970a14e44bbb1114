/**
 * Two patched OpenCode processes that share only a Redis URL (`combined_models.health_store`, read through OpenCode's
 * own `{env:REDIS_URL}` substitution) share cooldowns: each its own state directory (another machine), one real
 * `redis-server` on loopback. Needs OPENCODE_SRC or OPENCODE_PREPARED (see harness.ts) and redis-server; without them
 * every test here is skipped by name.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { faults, startSimulator, type Simulator } from "../../packages/combined-models/src/simulator/index.ts"
import { redisAvailable, startRedis, type TestRedis } from "../../packages/combined-models/test/redis-server.ts"
import { createEnv, describeRun, e2e, mainRequests, scriptMain, type Env } from "./harness.ts"

const skip = !e2e.enabled || !redisAvailable
const TURN_MS = 90_000

describe("two machines sharing one Redis", () => {
  let redis: TestRedis
  let sim: Simulator
  let first: Env
  let second: Env

  beforeAll(async () => {
    if (skip) return
    redis = await startRedis()
    sim = await startSimulator()
    const config = { combined_models: { health_store: { redis: "{env:REDIS_URL}" } } }
    const env = { REDIS_URL: redis.url }
    first = await createEnv({ simulator: sim, config, env })
    second = await createEnv({ simulator: sim, config, env })
    scriptMain(sim, "anthropic", Array.from({ length: 4 }, () => ({ fault: faults.rateLimit({ retryAfter: 600 }) })))
    scriptMain(sim, "github-copilot", [{ text: "Copilot answered the first machine." }, { text: "Copilot answered the second machine." }, { text: "Copilot, with Redis gone." }])
  }, TURN_MS)
  afterAll(async () => {
    await first?.dispose()
    await second?.dispose()
    await sim?.stop()
    await redis?.stop()
  })

  test.skipIf(skip)(
    "the second skips the provider the first saw rate-limited, without sending it a request, and says why",
    async () => {
      const one = await first.run("Say something.", { timeoutMs: 60_000 })
      expect(one.code, describeRun(one)).toBe(0)
      expect(one.stdout).toContain("Copilot answered the first machine.")
      expect(mainRequests(sim, "anthropic")).toHaveLength(1)

      const two = await second.run("Say something too.", { timeoutMs: 60_000 })
      expect(two.code, describeRun(two)).toBe(0)
      expect(two.stdout).toContain("Copilot answered the second machine.")
      // The second machine's file never heard of the 429: only Redis carried it.
      expect(mainRequests(sim, "anthropic")).toHaveLength(1)
      expect(mainRequests(sim, "github-copilot")).toHaveLength(2)

      const status = await second.opencode(["combined"], { timeoutMs: 60_000 })
      expect(status.code, describeRun(status)).toBe(0)
      expect(status.stdout).toMatch(/anthropic\/claude-sonnet-4-5.*cooling/)
      expect(status.stdout).toContain(`Health store: Redis at redis://127.0.0.1:${redis.port}/0`)
    },
    TURN_MS * 2,
  )

  test.skipIf(skip)(
    "Redis gone: the turn still fails over, and opencode combined says the file is in use",
    async () => {
      await redis.kill()
      const three = await second.run("Once more.", { timeoutMs: 60_000 })
      expect(three.code, describeRun(three)).toBe(0)
      const status = await second.opencode(["combined"], { timeoutMs: 60_000 })
      expect(status.code, describeRun(status)).toBe(0)
      expect(status.stdout).toContain("is unreachable")
      expect(status.stdout).toContain("health file")
    },
    TURN_MS * 2,
  )
})
