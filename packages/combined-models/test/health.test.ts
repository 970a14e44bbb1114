import { describe, expect, test } from "bun:test"
import { DEFAULT_COOLDOWNS } from "../src/config.ts"
import {
  cooldownDuration,
  FORGET_AFTER_FACTOR,
  HealthRegistry,
  shortMessage,
  type CooldownEntry,
  type HealthRegistryOptions,
} from "../src/health.ts"
import { createMemoryHealthStore, parseHealthFile } from "../src/health-store.ts"
import type { ClassifiedError, FailureReason, MemberRef } from "../src/types.ts"

const SONNET_ANTHROPIC: MemberRef = { providerID: "anthropic", modelID: "claude-sonnet-4-5" }
const OPUS_ANTHROPIC: MemberRef = { providerID: "anthropic", modelID: "claude-opus-4-1" }
const SONNET_OPENROUTER: MemberRef = { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" }

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let now = start
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms
    },
    set: (at: number) => {
      now = at
    },
  }
}

function failure(reason: FailureReason, extra: Partial<ClassifiedError> = {}): ClassifiedError {
  return { reason, message: `${reason} happened`, ...extra }
}

function registry(clock = manualClock(), options: Partial<HealthRegistryOptions> = {}) {
  // random 0.5 = no jitter, so durations are exact.
  return { clock, health: new HealthRegistry({ cooldowns: DEFAULT_COOLDOWNS, clock: clock.now, random: () => 0.5, ...options }) }
}

describe("what gets recorded", () => {
  test.each(["aborted", "context_overflow", "invalid_request"] as const)("%s records nothing", (reason) => {
    const { health } = registry()
    expect(health.report(SONNET_ANTHROPIC, failure(reason))).toBeUndefined()
    expect(health.entries()).toEqual([])
    expect(health.cooldownOf(SONNET_ANTHROPIC)).toBeUndefined()
  })

  test("a rate limit cools that provider+model only", () => {
    const { health, clock } = registry()
    const entry = health.report(SONNET_ANTHROPIC, failure("rate_limit", { statusCode: 429 }))
    expect(entry).toEqual({
      providerID: "anthropic",
      modelID: "claude-sonnet-4-5",
      scope: "model",
      reason: "rate_limit",
      since: clock.now(),
      until: clock.now() + DEFAULT_COOLDOWNS.rate_limit,
      failures: 1,
      message: "rate_limit happened",
      statusCode: 429,
    })
    expect(health.cooldownOf(SONNET_ANTHROPIC)).toEqual(entry)
    expect(health.cooldownOf(OPUS_ANTHROPIC)).toBeUndefined()
    expect(health.cooldownOf(SONNET_OPENROUTER)).toBeUndefined()
  })

  test.each(["auth", "quota"] as const)("%s cools the whole provider", (reason) => {
    const { health } = registry()
    const entry = health.report(SONNET_ANTHROPIC, failure(reason))
    expect(entry?.modelID).toBe("*")
    expect(health.cooldownOf(SONNET_ANTHROPIC)).toEqual(entry)
    expect(health.cooldownOf(OPUS_ANTHROPIC)).toEqual(entry)
    expect(health.cooldownOf(SONNET_OPENROUTER)).toBeUndefined()
  })

  test("the longest active of model and provider entries wins", () => {
    const { health, clock } = registry()
    const quota = health.report(SONNET_ANTHROPIC, failure("quota", { retryAfterMs: 60_000 }))
    const rateLimit = health.report(SONNET_ANTHROPIC, failure("rate_limit", { retryAfterMs: 120_000 }))
    expect(health.cooldownOf(SONNET_ANTHROPIC)).toEqual(rateLimit)
    expect(health.cooldownOf(OPUS_ANTHROPIC)).toEqual(quota)
    clock.advance(90_000)
    expect(health.cooldownOf(OPUS_ANTHROPIC)).toBeUndefined()
    expect(health.cooldownOf(SONNET_ANTHROPIC)).toEqual(rateLimit)
    // An explicit `now` asks about another moment without moving the clock.
    expect(health.cooldownOf(OPUS_ANTHROPIC, clock.now() - 60_000)).toEqual(quota)
  })

  test("entries lists active ones, soonest-ending first", () => {
    const { health, clock } = registry()
    health.report(SONNET_ANTHROPIC, failure("server_error"))
    health.report(SONNET_OPENROUTER, failure("rate_limit"))
    health.report(OPUS_ANTHROPIC, failure("auth"))
    expect(health.entries().map((entry) => entry.reason)).toEqual(["rate_limit", "server_error", "auth"])
    clock.advance(45_000)
    expect(health.entries().map((entry) => entry.reason)).toEqual(["server_error", "auth"])
  })
})

describe("how long", () => {
  test("Retry-After wins, even longer than the base, and is not capped", () => {
    const { health, clock } = registry(manualClock(), { maxCooldownMs: 60_000 })
    const entry = health.report(SONNET_ANTHROPIC, failure("rate_limit", { retryAfterMs: 7_200_000 }))
    expect(entry?.until).toBe(clock.now() + 7_200_000)
  })

  test("Retry-After shorter than the base is honoured too; a negative one floors at 0", () => {
    const { health, clock } = registry()
    expect(health.report(SONNET_ANTHROPIC, failure("overloaded", { retryAfterMs: 2_000 }))?.until).toBe(clock.now() + 2_000)
    // Zero wait: recorded (for counting) but nothing to cool.
    expect(health.report(SONNET_OPENROUTER, failure("overloaded", { retryAfterMs: -5 }))).toBeUndefined()
    expect(health.cooldownOf(SONNET_OPENROUTER)).toBeUndefined()
  })

  test("resetAt sets the end exactly, over retryAfterMs", () => {
    const { health, clock } = registry()
    const resetAt = clock.now() + 5 * 3_600_000
    const entry = health.report(SONNET_ANTHROPIC, failure("quota", { resetAt, retryAfterMs: 1_000 }))
    expect(entry?.until).toBe(resetAt)
  })

  test("quota without a reset: the base in hours, no growth", () => {
    const { health, clock } = registry()
    const first = health.report(SONNET_ANTHROPIC, failure("quota"))
    expect(first?.until).toBe(clock.now() + DEFAULT_COOLDOWNS.quota)
    clock.set(first!.until + 1)
    const second = health.report(SONNET_ANTHROPIC, failure("quota"))
    expect(second?.failures).toBe(2)
    expect(second!.until - second!.since).toBe(DEFAULT_COOLDOWNS.quota)
  })

  test("auth is bounded: 1 h by default, or the user's cooldown; never for ever", () => {
    const bounded = registry(manualClock())
    expect(bounded.health.report(SONNET_ANTHROPIC, failure("auth", { statusCode: 401 }))?.until).toBe(bounded.clock.now() + 3_600_000)
    const clock = manualClock()
    const finite = registry(clock, { cooldowns: { ...DEFAULT_COOLDOWNS, auth: 600_000 } }).health
    expect(finite.report(SONNET_ANTHROPIC, failure("auth"))?.until).toBe(clock.now() + 600_000)
  })

  test("transient failures grow ×2 per consecutive failure, capped", () => {
    const { health, clock } = registry(manualClock(), { maxCooldownMs: 200_000 })
    const lengths: number[] = []
    for (let i = 0; i < 5; i++) {
      const entry = health.report(SONNET_ANTHROPIC, failure("rate_limit"))!
      lengths.push(entry.until - entry.since)
      clock.set(entry.until + 1) // the member is retried once the cooldown ends, and fails again
    }
    expect(lengths).toEqual([30_000, 60_000, 120_000, 200_000, 200_000])
  })

  test("a configured base longer than the cap is kept", () => {
    const cooldowns = { ...DEFAULT_COOLDOWNS, server_error: 2 * 3_600_000 }
    const { health } = registry(manualClock(), { cooldowns })
    const entry = health.report(SONNET_ANTHROPIC, failure("server_error"))!
    expect(entry.until - entry.since).toBe(2 * 3_600_000)
  })

  test("jitter stays within ±20%", () => {
    const base = { error: failure("overloaded"), failures: 2, now: 0, cooldowns: DEFAULT_COOLDOWNS, maxCooldownMs: 3_600_000 }
    expect(cooldownDuration({ ...base, random: () => 0 })).toBe(48_000)
    expect(cooldownDuration({ ...base, random: () => 0.999999 })).toBeCloseTo(72_000, -1)
    expect(cooldownDuration({ ...base, random: () => 0.5 })).toBe(60_000)
    // A broken random source falls back to no jitter.
    expect(cooldownDuration({ ...base, random: () => Number.NaN })).toBe(60_000)
  })

  test("an unknown reason uses the unknown cooldown", () => {
    const { health, clock } = registry()
    const entry = health.report(SONNET_ANTHROPIC, { reason: "weird" as FailureReason, message: "?" })
    expect(entry?.reason).toBe("unknown")
    expect(entry?.until).toBe(clock.now() + DEFAULT_COOLDOWNS.unknown)
  })
})

describe("consecutive failures", () => {
  test("a success after the cooldown resets the count", () => {
    const { health, clock } = registry()
    const first = health.report(SONNET_ANTHROPIC, failure("rate_limit"))!
    clock.set(first.until + 1)
    expect(health.report(SONNET_ANTHROPIC, failure("rate_limit"))?.failures).toBe(2)
    clock.advance(120_000)
    health.recordSuccess(SONNET_ANTHROPIC)
    clock.advance(1_000)
    expect(health.report(SONNET_ANTHROPIC, failure("rate_limit"))?.failures).toBe(1)
  })

  test(`a failure more than ${FORGET_AFTER_FACTOR}× the cooldown after it ended starts at 1`, () => {
    const { health, clock } = registry()
    const first = health.report(SONNET_ANTHROPIC, failure("rate_limit"))!
    const length = first.until - first.since
    clock.set(first.until + FORGET_AFTER_FACTOR * length) // just inside the window
    const second = health.report(SONNET_ANTHROPIC, failure("rate_limit"))!
    expect(second.failures).toBe(2)
    clock.set(second.until + FORGET_AFTER_FACTOR * (second.until - second.since) + 1)
    expect(health.report(SONNET_ANTHROPIC, failure("rate_limit"))?.failures).toBe(1)
  })

  test("a success that began before the cooldown does not lift it; one that began after does", () => {
    const { health, clock } = registry()
    const startedEarly = clock.now()
    clock.advance(100)
    const entry = health.report(SONNET_ANTHROPIC, failure("rate_limit"))!
    clock.advance(100)
    health.recordSuccess(SONNET_ANTHROPIC, { attemptStartedAt: startedEarly })
    expect(health.cooldownOf(SONNET_ANTHROPIC)).toEqual(entry)
    health.recordSuccess(SONNET_ANTHROPIC) // unknown start: says nothing about now
    expect(health.cooldownOf(SONNET_ANTHROPIC)).toEqual(entry)
    health.recordSuccess(SONNET_ANTHROPIC, { attemptStartedAt: clock.now() })
    expect(health.cooldownOf(SONNET_ANTHROPIC)).toBeUndefined()
  })

  test("a success on any model lifts a provider-wide quota entry recorded before it began", () => {
    const { health, clock } = registry()
    health.report(SONNET_ANTHROPIC, failure("quota"))
    clock.advance(1_000)
    health.recordSuccess(OPUS_ANTHROPIC, { attemptStartedAt: clock.now() })
    expect(health.cooldownOf(SONNET_ANTHROPIC)).toBeUndefined()
  })
})

describe("waves of concurrent failures", () => {
  test("20 concurrent sessions failing on one member: one entry, failures 1, all finish", async () => {
    // Every clock read moves time on, so sessions really do start and fail at different moments.
    let now = 5_000_000
    const tick = () => now++
    const health = new HealthRegistry({ cooldowns: DEFAULT_COOLDOWNS, clock: tick, random: () => 0.5 })
    const yieldTurn = async (times: number) => {
      for (let i = 0; i < times; i++) await Promise.resolve()
    }
    const outcomes: string[] = []
    const session = async (index: number) => {
      await yieldTurn(index % 3) // staggered starts
      if (health.cooldownOf(SONNET_ANTHROPIC)) {
        outcomes.push("skipped") // a session that starts after the wave never sends to the cooled member
        return
      }
      const attemptStartedAt = tick()
      await yieldTurn(5 + (index % 7)) // the request is in flight
      health.report(SONNET_ANTHROPIC, failure("rate_limit", { statusCode: 429 }), { attemptStartedAt })
      outcomes.push("failed")
    }
    await Promise.all(Array.from({ length: 20 }, (_, index) => session(index)))
    expect(outcomes).toHaveLength(20)
    expect(outcomes.filter((outcome) => outcome === "failed").length).toBeGreaterThan(1)
    const entries = health.entries()
    expect(entries).toHaveLength(1)
    expect(entries[0]?.failures).toBe(1)
  })

  test("reports without attemptStartedAt while cooled are the same wave", () => {
    const { health } = registry()
    const first = health.report(SONNET_ANTHROPIC, failure("rate_limit"))
    for (let i = 0; i < 10; i++) expect(health.report(SONNET_ANTHROPIC, failure("rate_limit"))).toBe(first)
    expect(health.entries()).toHaveLength(1)
  })

  test("a wave report with a longer Retry-After extends until, without escalating", () => {
    const { health, clock } = registry()
    const attemptStartedAt = clock.now()
    clock.advance(10)
    const first = health.report(SONNET_ANTHROPIC, failure("rate_limit"))!
    clock.advance(10)
    const extended = health.report(SONNET_ANTHROPIC, failure("rate_limit", { retryAfterMs: 90_000 }), { attemptStartedAt })!
    expect(extended.failures).toBe(1)
    expect(extended.since).toBe(first.since)
    expect(extended.until).toBe(clock.now() + 90_000)
    // A shorter one does not shorten it.
    const kept = health.report(SONNET_ANTHROPIC, failure("rate_limit", { retryAfterMs: 1_000 }), { attemptStartedAt })
    expect(kept).toBe(extended)
  })

  test("a failure of an attempt that began after the cooldown escalates", () => {
    const { health, clock } = registry()
    const first = health.report(SONNET_ANTHROPIC, failure("rate_limit"))!
    clock.advance(1_000)
    const second = health.report(SONNET_ANTHROPIC, failure("rate_limit"), { attemptStartedAt: clock.now() })!
    expect(second.failures).toBe(2)
    expect(second.since).toBe(clock.now())
    expect(second.until).toBe(clock.now() + 60_000)
    expect(second.until).toBeGreaterThan(first.until)
    expect(health.entries()).toHaveLength(1)
  })
})

describe("clearing and listening", () => {
  test("clearProvider drops auth and quota only, for that provider", () => {
    const { health } = registry()
    health.report(SONNET_ANTHROPIC, failure("auth"))
    health.report(SONNET_ANTHROPIC, failure("rate_limit"))
    health.report(SONNET_OPENROUTER, failure("quota"))
    health.clearProvider("anthropic")
    expect(health.entries().map((entry) => `${entry.providerID}/${entry.modelID}:${entry.reason}`).sort()).toEqual([
      "anthropic/claude-sonnet-4-5:rate_limit",
      "openrouter/*:quota",
    ])
    health.clear()
    expect(health.entries()).toEqual([])
  })

  test("subscribers hear every change; unsubscribe stops that; a throwing one harms nobody", () => {
    const { health } = registry()
    const heard: CooldownEntry[][] = []
    health.subscribe(() => {
      throw new Error("broken status line")
    })
    const unsubscribe = health.subscribe((entries) => heard.push(entries))
    health.report(SONNET_ANTHROPIC, failure("rate_limit"))
    health.report(SONNET_OPENROUTER, failure("auth"))
    health.clear()
    unsubscribe()
    health.report(SONNET_ANTHROPIC, failure("rate_limit"))
    expect(heard.map((entries) => entries.length)).toEqual([1, 2, 0])
  })

  test("entries are frozen snapshots", () => {
    const { health } = registry()
    const entry = health.report(SONNET_ANTHROPIC, failure("rate_limit"))!
    expect(Object.isFrozen(entry)).toBe(true)
  })
})

describe("odd input never throws", () => {
  test("garbage members, errors and options", () => {
    const { health } = registry()
    const odd = [undefined, null, 42, "x", {}, { providerID: "" , modelID: "m" }, { providerID: "p" }] as unknown as MemberRef[]
    for (const member of odd) {
      expect(health.report(member, failure("rate_limit"))).toBeUndefined()
      expect(health.cooldownOf(member)).toBeUndefined()
      health.recordSuccess(member)
    }
    expect(health.report(SONNET_ANTHROPIC, null as unknown as ClassifiedError)).toBeUndefined()
    const entry = health.report(SONNET_ANTHROPIC, {
      reason: "rate_limit",
      message: 12 as unknown as string,
      retryAfterMs: Number.NaN,
      resetAt: Number.POSITIVE_INFINITY,
      statusCode: Number.NaN,
    })
    expect(entry?.until).toBe(entry!.since + DEFAULT_COOLDOWNS.rate_limit)
    expect(entry?.message).toBe("")
    expect(entry && "statusCode" in entry).toBe(false)
    health.clearProvider(undefined as unknown as string)
    health.subscribe(undefined as never)()
    expect(() => new HealthRegistry(undefined as never).entries()).not.toThrow()
  })

  test("a store that throws degrades to memory", () => {
    const health = new HealthRegistry({
      cooldowns: DEFAULT_COOLDOWNS,
      store: {
        load: () => {
          throw new Error("disk on fire")
        },
        save: () => {
          throw new Error("disk on fire")
        },
      },
    })
    expect(health.report(SONNET_ANTHROPIC, failure("rate_limit"))).toBeDefined()
    expect(health.cooldownOf(SONNET_ANTHROPIC)).toBeDefined()
  })

  test("messages are kept short, on one line, without keys", () => {
    const message = shortMessage(`bad key sk-ant-api03-abcdefghijklmnopqrstuvwxyz\nAuthorization: Bearer abc.def.ghi ${"x".repeat(500)}`)
    expect(message).not.toContain("abcdefghijklmnop")
    expect(message).not.toContain("abc.def.ghi")
    expect(message).not.toContain("\n")
    expect(message.length).toBeLessThanOrEqual(200)
  })
})

describe("with a store", () => {
  test("two registries on one memory store see each other's cooldowns and clears", () => {
    const clock = manualClock()
    const store = createMemoryHealthStore({ clock: clock.now })
    const options = { cooldowns: DEFAULT_COOLDOWNS, clock: clock.now, random: () => 0.5, store, refreshIntervalMs: 1_000, writes: "immediate" as const }
    const first = new HealthRegistry(options)
    const second = new HealthRegistry(options)
    const entry = first.report(SONNET_ANTHROPIC, failure("auth"))
    // Throttled: the second looked at the store at construction and will look again after refreshIntervalMs.
    expect(second.cooldownOf(SONNET_ANTHROPIC)).toBeUndefined()
    clock.advance(1_000)
    expect(second.cooldownOf(SONNET_ANTHROPIC)).toEqual(entry)
    second.clearProvider("anthropic")
    clock.advance(1_000)
    expect(first.cooldownOf(SONNET_ANTHROPIC)).toBeUndefined()
  })

  test("a wave split across two processes still makes one entry", () => {
    const clock = manualClock()
    const store = createMemoryHealthStore({ clock: clock.now })
    const options = { cooldowns: DEFAULT_COOLDOWNS, clock: clock.now, random: () => 0.5, store, writes: "immediate" as const }
    const first = new HealthRegistry(options)
    const second = new HealthRegistry(options)
    const attemptStartedAt = clock.now()
    clock.advance(50)
    first.report(SONNET_ANTHROPIC, failure("rate_limit"), { attemptStartedAt })
    clock.advance(5)
    // Reports re-read the store at once, so the second process sees the wave and does not escalate.
    expect(second.report(SONNET_ANTHROPIC, failure("rate_limit"), { attemptStartedAt })?.failures).toBe(1)
    expect(store.load()).toHaveLength(1)
  })
})

describe("invariants under any sequence of events", () => {
  test("never throws; entries are active, one per key, soonest-ending first", async () => {
    const fc = await import("fast-check")
    const members = [SONNET_ANTHROPIC, OPUS_ANTHROPIC, SONNET_OPENROUTER]
    const event = fc.oneof(
      fc.record({
        kind: fc.constant("report" as const),
        member: fc.constantFrom(...members),
        reason: fc.constantFrom(...(["rate_limit", "quota", "auth", "overloaded", "aborted", "timeout"] as const)),
        retryAfterMs: fc.option(fc.integer({ min: -1_000, max: 10_000_000 }), { nil: undefined }),
        startedAgo: fc.option(fc.integer({ min: 0, max: 120_000 }), { nil: undefined }),
      }),
      fc.record({ kind: fc.constant("success" as const), member: fc.constantFrom(...members), startedAgo: fc.integer({ min: 0, max: 120_000 }) }),
      fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 3_600_000 }) }),
      fc.record({ kind: fc.constant("clearProvider" as const), providerID: fc.constantFrom("anthropic", "openrouter") }),
    )
    fc.assert(
      fc.property(fc.array(event, { maxLength: 60 }), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (events, draw) => {
        const clock = manualClock()
        const health = new HealthRegistry({ cooldowns: DEFAULT_COOLDOWNS, clock: clock.now, random: () => draw })
        for (const step of events) {
          if (step.kind === "advance") clock.advance(step.ms)
          else if (step.kind === "clearProvider") health.clearProvider(step.providerID)
          else if (step.kind === "success") health.recordSuccess(step.member, { attemptStartedAt: clock.now() - step.startedAgo })
          else {
            const attemptStartedAt = step.startedAgo === undefined ? undefined : clock.now() - step.startedAgo
            const entry = health.report(step.member, failure(step.reason, { retryAfterMs: step.retryAfterMs }), { attemptStartedAt })
            if (entry) expect(health.cooldownOf(step.member)?.until).toBeGreaterThanOrEqual(entry.until)
          }
          const entries = health.entries()
          const keys = entries.map((entry) => `${entry.providerID}\u0000${entry.modelID}`)
          expect(new Set(keys).size).toBe(keys.length)
          for (const [index, entry] of entries.entries()) {
            expect(entry.until).toBeGreaterThan(clock.now())
            expect(entry.failures).toBeGreaterThanOrEqual(1)
            if (index > 0) expect(entry.until).toBeGreaterThanOrEqual(entries[index - 1]!.until)
          }
        }
      }),
      { numRuns: 300 },
    )
  })
})

describe("a refused credential", () => {
  const KEY_A = "aaaaaaaaaaaaaaaa"
  const KEY_B = "bbbbbbbbbbbbbbbb"

  test("keeps out only the processes that hold that credential; a changed one is back at once", () => {
    const { health } = registry()
    health.report(SONNET_ANTHROPIC, failure("auth", { statusCode: 401 }), { credential: KEY_A })
    expect(health.cooldownOf(SONNET_ANTHROPIC, undefined, { credential: KEY_A })?.reason).toBe("auth")
    expect(health.cooldownOf(SONNET_ANTHROPIC, undefined, { credential: KEY_B })).toBeUndefined()
    // A caller that cannot tell which credential it holds is kept out: the entry is bounded anyway.
    expect(health.cooldownOf(SONNET_ANTHROPIC)?.reason).toBe("auth")
  })

  test("a model's own cooldown still applies under a new credential", () => {
    const { health } = registry()
    health.report(SONNET_ANTHROPIC, failure("rate_limit", { statusCode: 429 }), { credential: KEY_A })
    expect(health.cooldownOf(SONNET_ANTHROPIC, undefined, { credential: KEY_B })?.reason).toBe("rate_limit")
  })

  test("a new credential's failure is a new entry, not part of the old one's wave", () => {
    const { health, clock } = registry()
    const first = health.report(SONNET_ANTHROPIC, failure("auth", { statusCode: 401 }), { credential: KEY_A })!
    clock.advance(1_000)
    const second = health.report(SONNET_ANTHROPIC, failure("auth", { statusCode: 401 }), { attemptStartedAt: first.since - 1, credential: KEY_B })!
    expect(second.credential).toBe(KEY_B)
    expect(second.since).toBe(clock.now())
  })

  test("an answer with a new credential does not clear the old credential's entry", () => {
    const { health, clock } = registry()
    health.report(SONNET_ANTHROPIC, failure("auth", { statusCode: 401 }), { credential: KEY_A })
    clock.advance(1_000)
    health.recordSuccess(SONNET_ANTHROPIC, { attemptStartedAt: clock.now(), credential: KEY_B })
    expect(health.cooldownOf(SONNET_ANTHROPIC, undefined, { credential: KEY_A })?.reason).toBe("auth")
    health.recordSuccess(SONNET_ANTHROPIC, { attemptStartedAt: clock.now(), credential: KEY_A })
    expect(health.cooldownOf(SONNET_ANTHROPIC, undefined, { credential: KEY_A })).toBeUndefined()
  })

  test("an endless entry from an older health file ends after the auth cooldown", () => {
    const clock = manualClock()
    const store = createMemoryHealthStore({ clock: clock.now })
    const since = clock.now()
    store.save([
      { providerID: "anthropic", modelID: "*", reason: "auth", since, until: Number.POSITIVE_INFINITY, failures: 1, message: "401" },
    ])
    const { health } = registry(clock, { store })
    expect(health.cooldownOf(SONNET_ANTHROPIC)?.until).toBe(since + DEFAULT_COOLDOWNS.auth)
    clock.advance(DEFAULT_COOLDOWNS.auth)
    expect(health.cooldownOf(SONNET_ANTHROPIC)).toBeUndefined()
  })
})

describe("stored per scope: the member, the credential, the endpoint", () => {
  const BEDROCK_SONNET: MemberRef = { providerID: "amazon-bedrock", modelID: "us.anthropic.claude-sonnet-4-5-20250929-v1:0" }
  const BEDROCK_HAIKU: MemberRef = { providerID: "amazon-bedrock", modelID: "us.anthropic.claude-haiku-4-5-20251001-v1:0" }

  test("a model-scoped refusal cools that member alone, for cooldowns.model_unavailable, and belongs to its credential", () => {
    const { health, clock } = registry()
    const entry = health.report(BEDROCK_SONNET, failure("model_unavailable", { scope: "model", statusCode: 403 }), { credential: "aaaa1111" })
    expect(entry).toMatchObject({ modelID: BEDROCK_SONNET.modelID, scope: "model", credential: "aaaa1111" })
    expect(entry!.until).toBe(clock.now() + DEFAULT_COOLDOWNS.model_unavailable)
    expect(health.cooldownOf(BEDROCK_HAIKU)).toBeUndefined()
    // Another credential (another account, maybe another plan) is not kept out; a credential change ends it.
    expect(health.cooldownOf(BEDROCK_SONNET, undefined, { credential: "bbbb2222" })).toBeUndefined()
    health.clearProvider("amazon-bedrock")
    expect(health.cooldownOf(BEDROCK_SONNET)).toBeUndefined()
  })

  test("  paired: the same reason reported for the credential keeps every model of the provider out", () => {
    const { health } = registry()
    health.report(BEDROCK_SONNET, failure("auth", { scope: "credential", statusCode: 403 }), { credential: "aaaa1111" })
    expect(health.cooldownOf(BEDROCK_HAIKU)).toMatchObject({ scope: "credential", modelID: "*" })
  })

  test("a request-scoped failure (a key missing here) cools nothing and writes nothing to the shared store", () => {
    const clock = manualClock()
    const store = createMemoryHealthStore({ clock: clock.now })
    const { health } = registry(clock, { store, writes: "immediate" })
    expect(health.report(SONNET_ANTHROPIC, failure("auth", { scope: "request" }))).toBeUndefined()
    expect(health.entries()).toEqual([])
    expect(store.load()).toEqual([])
  })

  test("two credentials of one provider cool apart: each has its own entry", () => {
    const clock = manualClock()
    const store = createMemoryHealthStore({ clock: clock.now })
    const { health } = registry(clock, { store, writes: "immediate" })
    health.report(SONNET_ANTHROPIC, failure("quota", { scope: "credential" }), { credential: "aaaa1111" })
    health.report(SONNET_ANTHROPIC, failure("quota", { scope: "credential" }), { credential: "bbbb2222" })
    expect(store.load().map((entry) => entry.credential).sort()).toEqual(["aaaa1111", "bbbb2222"])
    expect(health.cooldownOf(OPUS_ANTHROPIC, undefined, { credential: "cccc3333" })).toBeUndefined()
    expect(health.cooldownOf(OPUS_ANTHROPIC, undefined, { credential: "aaaa1111" })).toMatchObject({ credential: "aaaa1111" })
  })

  test("an endpoint failure keeps the provider's other models out too, for the reason's short cooldown", () => {
    const { health, clock } = registry()
    health.report(SONNET_ANTHROPIC, failure("network", { scope: "endpoint" }))
    expect(health.cooldownOf(OPUS_ANTHROPIC)).toMatchObject({ scope: "endpoint", reason: "network", until: clock.now() + DEFAULT_COOLDOWNS.network })
    // An answer from any model of the provider proves the endpoint is back.
    clock.advance(1)
    health.recordSuccess(OPUS_ANTHROPIC, { attemptStartedAt: clock.now() })
    expect(health.cooldownOf(SONNET_ANTHROPIC)).toBeUndefined()
  })

  test("entries written before scopes read as they were meant: '*' the credential's, a model id the member's", () => {
    const clock = manualClock()
    const old = [
      { providerID: "anthropic", modelID: "*", reason: "auth", since: clock.now(), until: clock.now() + 60_000, failures: 1, message: "old auth" },
      { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5", reason: "rate_limit", since: clock.now(), until: clock.now() + 60_000, failures: 1, message: "old 429" },
    ]
    const parsed = parseHealthFile(JSON.stringify({ version: 1, entries: old })).entries
    const store = createMemoryHealthStore({ clock: clock.now })
    store.save(parsed)
    const { health } = registry(clock, { store })
    expect(health.cooldownOf(OPUS_ANTHROPIC)).toMatchObject({ message: "old auth" })
    expect(health.cooldownOf(SONNET_OPENROUTER)).toMatchObject({ message: "old 429" })
    expect(health.cooldownOf({ providerID: "openrouter", modelID: "openai/gpt-5" })).toBeUndefined()
  })

  test("a damaged scope does not widen an entry: a member's entry marked as the credential's stays the member's", () => {
    const clock = manualClock()
    const damaged = { providerID: "anthropic", modelID: "claude-sonnet-4-5", scope: "credential", reason: "rate_limit", since: clock.now(), until: clock.now() + 60_000, failures: 1, message: "x" }
    const unknown = { ...damaged, modelID: "claude-opus-4-1", scope: "galaxy" }
    const { entries, problem } = parseHealthFile(JSON.stringify({ version: 1, entries: [damaged, unknown] }))
    expect(problem).toBeUndefined()
    const store = createMemoryHealthStore({ clock: clock.now })
    store.save(entries)
    const { health } = registry(clock, { store })
    expect(health.cooldownOf({ providerID: "anthropic", modelID: "claude-haiku-4-5" })).toBeUndefined()
    expect(health.cooldownOf(OPUS_ANTHROPIC)).toMatchObject({ modelID: "claude-opus-4-1" })
  })
})
