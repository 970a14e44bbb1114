/**
 * One process of the shared-store stress test: reports, forgets and reads cooldowns on one health file for a while,
 * through the registry exactly as OpenCode holds it (deferred writes), then prints which of its keys it left active.
 * argv: <file> <index> <start epoch ms> <duration ms> <wave attempt start epoch ms> [<redis url>]
 * With a Redis URL the file is this process's own (a machine of its own) and Redis is what the writers share.
 */
import { DEFAULT_COOLDOWNS } from "../../src/config.ts"
import { createFileHealthStore } from "../../src/health-store.ts"
import { createRedisHealthStore } from "../../src/health-store-redis.ts"
import { HealthRegistry } from "../../src/health.ts"

const [file, indexText, startText, durationText, waveText, redisUrl] = process.argv.slice(2)
const index = Number(indexText)
const startAt = Number(startText)
const until = startAt + Number(durationText)
const waveStartedAt = Number(waveText)
const MODELS = 10

const fileStore = createFileHealthStore(file!, { onProblem: (problem) => process.stderr.write(`problem: ${problem}\n`) })
const redis = redisUrl
  ? createRedisHealthStore({ url: redisUrl, local: fileStore, onProblem: (problem) => problem && process.stderr.write(`problem: ${problem}\n`) })
  : undefined
if (redis && !(await redis.whenSynced(10_000))) throw new Error(`Redis at ${redisUrl} did not sync`)
const store = redis ?? fileStore
const health = new HealthRegistry({ cooldowns: DEFAULT_COOLDOWNS, store, refreshIntervalMs: 0 })
const active = new Map<string, boolean>()
const provider = `p${index}`

while (Date.now() < startAt) await Bun.sleep(1)
let round = 0
// At least a few rounds, however late this process started on a loaded machine.
while (Date.now() < until || round < 6) {
  const modelID = `m${round % MODELS}`
  const member = { providerID: provider, modelID }
  health.report(member, { reason: "rate_limit", message: "429", statusCode: 429, retryAfterMs: 3_600_000 }, { attemptStartedAt: Date.now() })
  active.set(modelID, true)
  if (round % 3 === 0) {
    await Bun.sleep(0)
    health.recordSuccess(member, { attemptStartedAt: Date.now() })
    active.set(modelID, false)
  }
  // Every process fails in the same overload wave: attempts that all began at waveStartedAt.
  if (round % 5 === 0) health.report({ providerID: "shared", modelID: "wave" }, { reason: "overloaded", message: "529" }, { attemptStartedAt: waveStartedAt })
  // Another process's keys, read as routing would.
  health.cooldownOf({ providerID: `p${(index + 1) % 20}`, modelID })
  round++
  // Let the deferred writes of this round go out, as the event loop does between steps.
  await Bun.sleep(Math.random() * 3)
}
health.flush({ final: true })
if (redis) {
  await redis.drained()
  redis.close()
}
process.stdout.write(JSON.stringify({ provider, rounds: round, active: [...active].filter(([, on]) => on).map(([id]) => id) }) + "\n")
