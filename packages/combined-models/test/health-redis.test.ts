/**
 * The Redis health store against a real `redis-server` on loopback: two "machines" (separate state directories,
 * separate clients) share cooldowns through it, and routing goes on when it dies, freezes or comes back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test"
import { RedisClient } from "bun"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DEFAULT_COOLDOWNS } from "../src/config.ts"
import { createFileHealthStore, parseHealthFile } from "../src/health-store.ts"
import { createRedisHealthStore, describeRedisUrl, type RedisHealthStore } from "../src/health-store-redis.ts"
import { HealthRegistry } from "../src/health.ts"
import { eventually, redisAvailable, startRedis, type TestRedis } from "./redis-server.ts"
import { settleStateFiles } from "../src/state-file.ts"

const skip = !redisAvailable
let redis: TestRedis
let dir: string
const stores: RedisHealthStore[] = []
const clients: RedisClient[] = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "combined-models-redis-"))
  if (!skip) redis = await startRedis()
})
afterAll(async () => {
  if (!skip) await redis.stop()
  rmSync(dir, { recursive: true, force: true })
})
afterEach(async () => {
  for (const store of stores.splice(0)) store.close()
  for (const client of clients.splice(0)) client.close()
  if (skip) return
  // Each test starts from a running, empty server.
  await redis.kill()
  await redis.start()
})

let machines = 0
/** One machine: its own state directory and health file, its own connection, the registry as OpenCode holds it. */
function machine(options: { url?: string; commandTimeoutMs?: number } = {}) {
  const file = join(dir, `machine-${++machines}`, "health.json")
  const problems: (string | undefined)[] = []
  const store = createRedisHealthStore({
    url: options.url ?? redis.url,
    local: createFileHealthStore(file),
    onProblem: (problem) => problems.push(problem),
    commandTimeoutMs: options.commandTimeoutMs ?? 500,
  })
  stores.push(store)
  const health = new HealthRegistry({ cooldowns: DEFAULT_COOLDOWNS, store, refreshIntervalMs: 0, writes: "immediate" })
  return { store, health, file, problems }
}

async function rawClient() {
  const client = new RedisClient(redis.url)
  await client.connect()
  clients.push(client)
  return client
}

async function storedValues(): Promise<Record<string, unknown>[]> {
  const client = await rawClient()
  const keys = ((await client.send("KEYS", ["combined-models:v1:cd:*"])) as string[]).sort()
  if (keys.length === 0) return []
  return ((await client.send("MGET", keys)) as string[]).map((value) => JSON.parse(value))
}

const anthropic = { providerID: "anthropic", modelID: "claude-sonnet-4-5" }
const rateLimited = { reason: "rate_limit" as const, message: "429 rate limited", statusCode: 429, retryAfterMs: 60_000 }

describe("two machines that share only a Redis URL", () => {
  test.skipIf(skip)("a cooldown one records is seen by the other's next decision, with the cooldown's end as its TTL", async () => {
    const a = machine()
    const b = machine()
    expect(await a.store.whenSynced(5_000)).toBe(true)
    expect(await b.store.whenSynced(5_000)).toBe(true)
    expect(b.health.cooldownOf(anthropic)).toBeUndefined()

    const entry = a.health.report(anthropic, rateLimited, { attemptStartedAt: Date.now() })!
    await a.store.drained()
    expect(await eventually(() => b.health.cooldownOf(anthropic) !== undefined)).toBe(true)
    expect(b.health.cooldownOf(anthropic)).toMatchObject({ reason: "rate_limit", until: entry.until, since: entry.since })
    // B's own file knows nothing of it: the cooldown came through Redis.
    expect(await settledFile(b.file)).toEqual([])

    const client = await rawClient()
    const ttl = Number(await client.send("PTTL", ["combined-models:v1:cd:anthropic|claude-sonnet-4-5"]))
    expect(ttl).toBeGreaterThan(50_000)
    expect(ttl).toBeLessThanOrEqual(60_000)
  })

  test.skipIf(skip)("a recovery on one machine clears the cooldown on the other, in its file too", async () => {
    const a = machine()
    const b = machine()
    await Promise.all([a.store.whenSynced(5_000), b.store.whenSynced(5_000)])
    b.health.report(anthropic, rateLimited, { attemptStartedAt: Date.now() })
    await b.store.drained()
    expect(await eventually(() => a.health.cooldownOf(anthropic) !== undefined)).toBe(true)
    expect(await settledFile(b.file)).toHaveLength(1)

    a.health.recordSuccess(anthropic, { attemptStartedAt: Date.now() })
    await a.store.drained()
    expect(await eventually(() => b.health.cooldownOf(anthropic) === undefined)).toBe(true)
    expect(await storedValues()).toEqual([])
    // The file B falls back to would otherwise bring the cooldown back the moment Redis went away.
    expect(await eventually(() => readFileSafe(b.file).length === 0)).toBe(true)
  })

  test.skipIf(skip)("new credentials on one machine clear the provider's account-wide cooldowns on every machine", async () => {
    const a = machine()
    const b = machine()
    await Promise.all([a.store.whenSynced(5_000), b.store.whenSynced(5_000)])
    const account = { providerID: "anthropic", modelID: "*" }
    b.health.report(account, { reason: "quota", message: "402 out of credits", statusCode: 402 }, { credential: "aaaaaaaaaaaaaaaa" })
    b.health.report({ providerID: "openai", modelID: "*" }, { reason: "quota", message: "429 quota", statusCode: 429 }, { credential: "bbbbbbbbbbbbbbbb" })
    await b.store.drained()
    expect(await eventually(() => a.health.cooldownOf(account) !== undefined)).toBe(true)

    a.health.clearProvider("anthropic")
    await a.store.drained()
    expect(await eventually(() => b.health.cooldownOf(account) === undefined)).toBe(true)
    // Another provider's account is not touched.
    expect((await storedValues()).map((entry) => entry.providerID)).toEqual(["openai"])
  })

  test.skipIf(skip)("a failure of a wave another machine recorded first, unheard of here, joins that wave instead of counting again", async () => {
    const b = machine()
    await b.store.whenSynced(5_000)
    // Machine A's entry, written without a message (as if B's subscriber had missed it): B's mirror lacks it.
    const now = Date.now()
    const recordedElsewhere = { providerID: "anthropic", modelID: "claude-sonnet-4-5", reason: "overloaded", since: now - 1_000, until: now + 20_000, failures: 3, message: "529 overloaded", statusCode: 529 }
    const client = await rawClient()
    await client.send("SET", ["combined-models:v1:cd:anthropic|claude-sonnet-4-5", JSON.stringify(recordedElsewhere), "PX", "20000"])
    expect(b.health.cooldownOf(anthropic)).toBeUndefined()

    b.health.report(anthropic, { reason: "overloaded", message: "529 overloaded", statusCode: 529, retryAfterMs: 40_000 }, { attemptStartedAt: now - 2_000 })
    await b.store.drained()
    const stored = await storedValues()
    expect(stored).toHaveLength(1)
    // The wave's start and count stay; its end is the later of the two.
    expect(stored[0]).toMatchObject({ since: recordedElsewhere.since, failures: 3 })
    expect(stored[0]!.until as number).toBeGreaterThan(recordedElsewhere.until)
  })

  test.skipIf(skip)("nothing but the entry is stored: ids, reason, times, the redacted message, a fingerprint", async () => {
    const a = machine()
    await a.store.whenSynced(5_000)
    a.health.report({ providerID: "anthropic", modelID: "*" }, { reason: "auth", message: "401 invalid x-api-key", statusCode: 401 }, { credential: "0123456789abcdef" })
    await a.store.drained()
    const [stored] = await storedValues()
    expect(Object.keys(stored!).sort()).toEqual(["credential", "failures", "message", "modelID", "providerID", "reason", "scope", "since", "statusCode", "until"])
    expect(stored!.credential).toBe("0123456789abcdef")
    // One key per credential: two keys of one provider cool apart across machines too.
    const client = await rawClient()
    expect(await client.send("KEYS", ["combined-models:v1:cd:*"])).toEqual(["combined-models:v1:cd:anthropic|*%400123456789abcdef"])
  })

  test.skipIf(skip)("an entry written before scopes (the credential's under <provider>|*) is read as the credential's", async () => {
    const client = await rawClient()
    const old = { providerID: "anthropic", modelID: "*", reason: "auth", since: Date.now(), until: Date.now() + 60_000, failures: 1, message: "old", credential: "0123456789abcdef" }
    await client.send("SET", ["combined-models:v1:cd:anthropic|*", JSON.stringify(old), "PX", "60000"])
    const a = machine()
    expect(await a.store.whenSynced(5_000)).toBe(true)
    expect(a.health.cooldownOf({ providerID: "anthropic", modelID: "claude-opus-4-1" })).toMatchObject({ message: "old", credential: "0123456789abcdef" })
  })

  test.skipIf(skip)("damaged values in Redis are skipped, not trusted", async () => {
    const client = await rawClient()
    await client.send("SET", ["combined-models:v1:cd:anthropic|x", "not json"])
    await client.send("SET", ["combined-models:v1:cd:openai|y", JSON.stringify({ providerID: "openai", modelID: "y", reason: "nonsense", since: 1, until: Date.now() + 60_000 })])
    const a = machine()
    expect(await a.store.whenSynced(5_000)).toBe(true)
    expect(a.health.entries()).toEqual([])
  })
})

describe("what crosses machines: this store's own cooldowns, not the machine's whole health file", () => {
  /** Another process of the same machine whose project has no Redis: it writes the same health file, nothing else. */
  function fileOnlyNeighbour(file: string) {
    return new HealthRegistry({ cooldowns: DEFAULT_COOLDOWNS, store: createFileHealthStore(file), writes: "immediate" })
  }
  const personal = { providerID: "openai", modelID: "gpt-5" }
  const personalFailure = { reason: "rate_limit" as const, message: "429 on /home/someone/personal-project", statusCode: 429, retryAfterMs: 60_000 }

  test.skipIf(skip)("on first connect the file's other entries stay on the machine; they still count here, and so do new ones", async () => {
    const file = join(dir, `machine-${++machines}`, "health.json")
    // Before the Redis store exists: another project's cooldown, with its message, in the machine's file.
    fileOnlyNeighbour(file).report(personal, personalFailure, { attemptStartedAt: Date.now() })
    expect(await settledFile(file)).toHaveLength(1)

    const store = createRedisHealthStore({ url: redis.url, local: createFileHealthStore(file), commandTimeoutMs: 500, localReadIntervalMs: 0 })
    stores.push(store)
    const health = new HealthRegistry({ cooldowns: DEFAULT_COOLDOWNS, store, refreshIntervalMs: 0, writes: "immediate" })
    expect(await store.whenSynced(5_000)).toBe(true)
    await store.drained()
    expect(await storedValues()).toEqual([])
    // Honoured on this machine all the same.
    expect(health.cooldownOf(personal)?.reason).toBe("rate_limit")

    // Synced, a file-only process of this machine records another: seen here, not sent.
    const other = { providerID: "openai", modelID: "gpt-5-mini" }
    fileOnlyNeighbour(file).report(other, personalFailure, { attemptStartedAt: Date.now() })
    await settleStateFiles()
    expect(health.cooldownOf(other)?.reason).toBe("rate_limit")

    // This store's own cooldown is what crosses.
    health.report(anthropic, rateLimited, { attemptStartedAt: Date.now() })
    await store.drained()
    expect((await storedValues()).map((entry) => `${entry.providerID}/${entry.modelID}`)).toEqual(["anthropic/claude-sonnet-4-5"])

    // A restarted, empty server gets back this store's own cooldown, and only that.
    await redis.kill()
    await redis.start()
    expect(await eventually(() => store.synced, 15_000)).toBe(true)
    expect(await eventually(async () => (await storedValues()).length === 1)).toBe(true)
    await store.drained()
    expect((await storedValues()).map((entry) => entry.providerID)).toEqual(["anthropic"])
    expect(JSON.stringify(await storedValues())).not.toContain("personal-project")
  }, 30_000)
})

describe("a cooldown cleared on this machine while Redis was away", () => {
  test.skipIf(skip)("is not sent again to a restarted server: another process of the machine cleared it in the file", async () => {
    const a = machine()
    expect(await a.store.whenSynced(5_000)).toBe(true)
    a.health.report(anthropic, rateLimited, { attemptStartedAt: Date.now() - 10 })
    await a.store.drained()
    expect(await settledFile(a.file)).toHaveLength(1)

    // The server goes away. Another process of this machine (its project has no Redis) gets an answer from the member,
    // after the cooldown was recorded: it clears it in the machine's file.
    await redis.kill()
    expect(await eventually(() => !a.store.synced, 15_000)).toBe(true)
    const neighbour = new HealthRegistry({ cooldowns: DEFAULT_COOLDOWNS, store: createFileHealthStore(a.file), writes: "immediate" })
    expect(neighbour.cooldownOf(anthropic)?.reason).toBe("rate_limit")
    neighbour.recordSuccess(anthropic, { attemptStartedAt: Date.now() })
    expect(await settledFile(a.file)).toEqual([])

    // Back, empty: nothing of it is sent, so no machine skips the member that answered.
    await redis.start()
    expect(await eventually(() => a.store.synced, 15_000)).toBe(true)
    await a.store.drained()
    expect(await storedValues()).toEqual([])
  }, 30_000)
})

describe("Redis unreachable, slow, back", () => {
  test.skipIf(skip)("unreachable from the start: routing goes on from the file, the problem is said once, nothing throws", async () => {
    const dead = `redis://127.0.0.1:${redis.port + 1}/0`
    const a = machine({ url: dead })
    expect(await a.store.whenSynced(300)).toBe(false)
    expect(await eventually(() => a.problems.length > 0)).toBe(true)
    expect(a.problems[0]).toContain(`Redis at ${describeRedisUrl(dead)} is unreachable`)
    expect(a.problems[0]).toContain("health file")
    // Known to be away: a provider load does not wait on it again (this would time the test out).
    expect(await a.store.whenSynced(60_000)).toBe(false)
    a.health.report(anthropic, rateLimited, { attemptStartedAt: Date.now() })
    expect(a.health.cooldownOf(anthropic)?.reason).toBe("rate_limit")
    expect(await settledFile(a.file)).toHaveLength(1)
    // Reconnect attempts follow; the problem is not said again for each.
    await Bun.sleep(800)
    expect(a.problems.filter((problem) => problem !== undefined)).toHaveLength(1)
  })

  test.skipIf(skip)("killed mid-run, back empty: what was recorded meanwhile reaches the other machine", async () => {
    const a = machine()
    const b = machine()
    await Promise.all([a.store.whenSynced(5_000), b.store.whenSynced(5_000)])
    const before = { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" }
    a.health.report(before, rateLimited, { attemptStartedAt: Date.now() })
    await a.store.drained()
    expect(await eventually(() => b.health.cooldownOf(before) !== undefined)).toBe(true)

    await redis.kill()
    expect(await eventually(() => a.problems.some((problem) => problem?.includes("unreachable")))).toBe(true)
    // What B learned before stays until it ends; A records a new failure into its file.
    expect(b.health.cooldownOf(before)).toBeDefined()
    a.health.report(anthropic, rateLimited, { attemptStartedAt: Date.now() })
    expect(a.health.cooldownOf(anthropic)).toBeDefined()
    expect(b.health.cooldownOf(anthropic)).toBeUndefined()

    await redis.start()
    expect(await eventually(() => a.store.synced && b.store.synced, 15_000)).toBe(true)
    expect(a.problems.at(-1)).toBeUndefined()
    expect(await eventually(() => b.health.cooldownOf(anthropic) !== undefined)).toBe(true)
  }, 30_000)

  test.skipIf(skip)("a restarted, empty server gets the cooldowns back from the machines' files", async () => {
    const a = machine()
    const b = machine()
    await Promise.all([a.store.whenSynced(5_000), b.store.whenSynced(5_000)])
    a.health.report(anthropic, rateLimited, { attemptStartedAt: Date.now() })
    await a.store.drained()
    expect(await eventually(() => b.health.cooldownOf(anthropic) !== undefined)).toBe(true)

    await redis.kill()
    await redis.start()
    expect(await eventually(() => a.store.synced && b.store.synced, 15_000)).toBe(true)
    expect(await eventually(async () => (await storedValues()).length === 1)).toBe(true)
    expect(b.health.cooldownOf(anthropic)).toBeDefined()
  }, 30_000)

  test.skipIf(skip)("a clear of an older failure does not take away a newer one recorded here", async () => {
    const a = machine()
    await a.store.whenSynced(5_000)
    const older = { ...anthropic, reason: "rate_limit", since: Date.now() - 5_000, until: Date.now() + 55_000, failures: 1, message: "429" }
    a.health.report(anthropic, rateLimited, { attemptStartedAt: Date.now() })
    await a.store.drained()
    // Another machine cleared the failure it knew, older than this one's, and said so.
    const client = await rawClient()
    await client.send("PUBLISH", ["combined-models:v1:changes", `combined-models:v1:cd:anthropic|claude-sonnet-4-5\n-${JSON.stringify(older)}`])
    await Bun.sleep(200)
    expect(a.health.cooldownOf(anthropic)?.reason).toBe("rate_limit")
    expect(await settledFile(a.file)).toHaveLength(1)
  })

  test.skipIf(skip)("frozen (accepts, never answers): the store gives up on it within its command timeout and comes back", async () => {
    const a = machine({ commandTimeoutMs: 300 })
    await a.store.whenSynced(5_000)
    redis.freeze()
    try {
      a.health.report(anthropic, rateLimited, { attemptStartedAt: Date.now() })
      // The decision is made from memory while the write hangs.
      expect(a.health.cooldownOf(anthropic)).toBeDefined()
      expect(await eventually(() => a.problems.some((problem) => problem?.includes("is unreachable")))).toBe(true)
    } finally {
      redis.thaw()
    }
    expect(await eventually(() => a.store.synced, 15_000)).toBe(true)
    expect(await eventually(async () => (await storedValues()).length === 1)).toBe(true)
  }, 30_000)
})

/** The file as another process would read it once this one's writes have landed. */
async function settledFile(file: string) {
  await settleStateFiles()
  return readFileSafe(file)
}

function readFileSafe(file: string) {
  try {
    return parseHealthFile(readFileSync(file, "utf8")).entries
  } catch {
    return []
  }
}

describe("as OpenCode holds it", () => {
  test.skipIf(skip)("health_store picks Redis for the instance's registry; its problems reach the log once and opencode combined", async () => {
    const { CombinedRuntime, resetRuntime } = await import("../../opencode1/src/runtime.ts")
    const { renderCombinedStatus, combinedStatus } = await import("../../opencode1/src/command.ts")
    const { addCombinedProvider } = await import("../../opencode1/src/provider.ts")
    const { ocModel, ocProvider } = await import("../../opencode1/test/opencode-fixtures.ts")
    resetRuntime(new CombinedRuntime())
    // A dropped state-file write that another test file left behind is the process's notice, not this store's.
    ;(await import("../src/state-file.ts")).takeStateFileNotices()
    try {
      const providers = {
        anthropic: ocProvider("anthropic", "Anthropic", [ocModel("anthropic", "claude-sonnet-4-5")]),
        "github-copilot": ocProvider("github-copilot", "GitHub Copilot", [ocModel("github-copilot", "claude-sonnet-4.5")]),
      }
      const dead = `redis://:secret-password@127.0.0.1:${redis.port + 1}/0`
      const combined = addCombinedProvider({ providers, config: { combined_models: { health_store: { redis: dead } } }, stateDir: join(dir, "oc-state") })
      await combined.ready()
      const status = combinedStatus(providers)
      expect(status.healthStore).toMatchObject({ kind: "redis", synced: false })
      const text = renderCombinedStatus(status)
      expect(text).toContain(`Health store: Redis at redis://127.0.0.1:${redis.port + 1}/0 is unreachable`)
      // The password never shows.
      expect(text).not.toContain("secret-password")
      const { runtime } = await import("../../opencode1/src/runtime.ts")
      const notices = runtime().takeStoreNotices()
      expect(notices).toHaveLength(1)
      expect(notices[0]).toStartWith("combined-models: Redis at ")
      expect(runtime().takeStoreNotices()).toEqual([])
      // Another project with its own cooldown table shares the one store (its connections), not a second pair.
      const other = runtime("/another/project")
      other.configure({ config: { combined_models: { health_store: { redis: dead }, cooldowns: { rate_limit: "5m" } } }, providers, stateDir: join(dir, "oc-state") })
      expect(other.redisStore).toBe(runtime().redisStore!)
      expect(other.health).not.toBe(runtime().health)
    } finally {
      resetRuntime()
    }
  })
})
