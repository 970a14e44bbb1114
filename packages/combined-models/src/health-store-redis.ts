/**
 * Cooldowns shared through Redis, for machines that share one account's limits (a team, CI runners): a rate limit one
 * machine was refused with is skipped by the others before they send a request.
 *
 * Same contract as the file store (health-store.ts), same merge (`mergeEntries`), and the file stays underneath:
 * - `load` never touches the network. It returns a mirror of Redis, kept fresh by publish/subscribe (a write anywhere
 *   reaches every mirror within a round trip; docs/benchmarks.md measures it against a read per decision), merged with
 *   the local file, so routing costs the same as with the file alone and never waits on Redis.
 * - `save` writes the file first (other processes of this machine see it at once, and it is what survives an outage)
 *   and queues the change for Redis. The queue drains in the background: per entry a read, the pure merge, and a
 *   compare-and-set script that writes (TTL: the cooldown's end) and publishes only if nobody changed the key in
 *   between, else the merge runs again on what is there. Waves across machines are deduplicated by the writer's
 *   `basis`, exactly as between processes.
 * - Unreachable, refused or slow (a command without an answer in `commandTimeoutMs`): the store says so once (the
 *   log, `opencode combined`), keeps serving the last mirror and the file, and reconnects with backoff. Back, it
 *   sends its own cooldowns Redis has not held (all of them to a restarted server), replays its queue (forgets
 *   included) and reloads the mirror; what Redis held and no longer holds was cleared elsewhere and leaves the file.
 *
 * What crosses machines: only what this store was asked to save, that is the cooldowns recorded by the OpenCode
 * projects whose config names this Redis server, in this process. The machine's health file is shared by every project
 * and process of the machine (a personal project on another account, a process whose config has no Redis): its other
 * entries, and their messages, stay on the machine. They still count here: `load` is the file and the mirror merged,
 * so a cooldown another process of this machine wrote to the file is honoured at once, Redis or not.
 *
 * Stored: one key per cooldown, `<prefix>:cd:<provider>|<slot>` (URI-encoded; the slot is the model id, `*@<fingerprint>`
 * for a credential's, `@endpoint`: `entrySlot`), whose value is the entry as the file
 * holds it (ids, reason, times, a redacted one-line message, a credential fingerprint, never a secret) and whose TTL
 * is its end; changes are published on `<prefix>:changes`.
 *
 * The client is Bun's built-in `RedisClient`: OpenCode runs on Bun, so it ships inside the binary with no dependency
 * added to upstream's workspace, speaks RESP3 with automatic pipelining, and has publish/subscribe. What it lacks
 * (a command timeout, reconnecting past its retry limit) is done here.
 */
import { RedisClient } from "bun"
import type { CooldownEntry } from "./health.ts"
import {
  entryKey,
  entrySlot,
  matchesForgetRule,
  mergeEntries,
  parseStoredEntry,
  slotKey,
  type ForgetRule,
  type HealthStore,
  type SaveOptions,
} from "./health-store.ts"

export interface RedisHealthStoreOptions {
  url: string
  /** The store underneath: written first, read always, the only one while Redis is away. */
  local: HealthStore
  clock?: () => number
  /** Called when the store's state changes: a message when Redis is unreachable, undefined when it is back. */
  onProblem?: (problem: string | undefined) => void
  /** Key namespace, so several teams can share one server. */
  prefix?: string
  /** How long a connection attempt or a command may take before Redis counts as unreachable. */
  commandTimeoutMs?: number
  /** How often the mirror is reloaded in full, in case a published change was missed. */
  resyncIntervalMs?: number
  /** How often `load` looks at the local file (the registry calls `load` on every decision). */
  localReadIntervalMs?: number
}

export interface RedisHealthStore extends HealthStore {
  readonly problem: string | undefined
  /** Connected and the mirror loaded. */
  readonly synced: boolean
  /** Resolves true once the mirror is loaded, false after `timeoutMs` without it (never rejects). */
  whenSynced(timeoutMs: number): Promise<boolean>
  /** Resolves when every queued change has reached Redis or failed (tests, a command about to exit). */
  drained(): Promise<void>
  close(): void
}

interface QueuedSave {
  entries: CooldownEntry[]
  forget: readonly ForgetRule[]
  basis: ReadonlyMap<string, number | null> | undefined
}

export const DEFAULT_REDIS_PREFIX = "combined-models:v1"
const MAX_QUEUED_SAVES = 1_000
const CAS_ATTEMPTS = 20
const RECONNECT_MIN_MS = 250
const RECONNECT_MAX_MS = 30_000
const HEARTBEAT_MS = 1_000

/**
 * Compare-and-set: KEYS[1] the entry's key; ARGV[1] the value the merge was computed from ("" for none), ARGV[2] the
 * new value ("" deletes), ARGV[3] its TTL in ms ("" for none), ARGV[4] the channel. Returns 1 when written. The
 * message is `<key>\n<new value>`, or `<key>\n-<deleted value>` for a deletion: a receiver holding a newer failure
 * for that key keeps it.
 */
const COMPARE_AND_SET = `
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  if current then redis.call('DEL', KEYS[1]) end
elseif ARGV[3] == '' then
  redis.call('SET', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
if ARGV[2] == '' then
  redis.call('PUBLISH', ARGV[4], KEYS[1] .. '\\n-' .. (current or ''))
else
  redis.call('PUBLISH', ARGV[4], KEYS[1] .. '\\n' .. ARGV[2])
end
return 1`

/** The URL without its credentials, for messages: `redis://host:6379/0`. */
export function describeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url)
    return `${parsed.protocol}//${parsed.host}${parsed.pathname === "/" ? "" : parsed.pathname}`
  } catch {
    return "(an unreadable Redis URL)"
  }
}

export class RedisTimeoutError extends Error {
  override readonly name = "RedisTimeoutError"
  static isInstance(error: unknown): error is RedisTimeoutError {
    return error instanceof Error && error.name === "RedisTimeoutError"
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisTimeoutError(`${what} got no answer in ${ms} ms`)), ms)
    timer.unref?.()
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** A literal for SCAN's MATCH: its glob characters escaped. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&")
}

function serializeEntry(entry: CooldownEntry): string {
  return JSON.stringify({ ...entry, until: Number.isFinite(entry.until) ? entry.until : null })
}

function parseValue(value: unknown): CooldownEntry | undefined {
  if (typeof value !== "string" || value === "") return undefined
  try {
    return parseStoredEntry(JSON.parse(value))
  } catch {
    return undefined
  }
}

/**
 * Close a client; a subscribed one is unsubscribed first: Bun 1.3 keeps the process alive after `close()` on a
 * client still in subscriber mode, so a command that is done would never exit.
 */
function closeClient(client: RedisClient | undefined, channel?: string) {
  if (!client) return
  const close = () => {
    try {
      client.close()
    } catch {
      // Already closed.
    }
  }
  if (channel === undefined || !client.connected) return close()
  const timer = setTimeout(close, 200)
  timer.unref?.()
  client
    .unsubscribe(channel)
    .catch(() => undefined)
    .finally(() => {
      clearTimeout(timer)
      close()
    })
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

export function createRedisHealthStore(options: RedisHealthStoreOptions): RedisHealthStore {
  const clock = options.clock ?? Date.now
  const prefix = options.prefix ?? DEFAULT_REDIS_PREFIX
  const channel = `${prefix}:changes`
  const keyPrefix = `${prefix}:cd:`
  const commandTimeoutMs = options.commandTimeoutMs ?? 1_000
  const resyncIntervalMs = options.resyncIntervalMs ?? 30_000
  const localReadIntervalMs = options.localReadIntervalMs ?? 250
  const where = describeRedisUrl(options.url)

  const redisKey = (entry: Pick<CooldownEntry, "providerID" | "modelID" | "scope" | "credential">) => slotRedisKey(entry.providerID, entrySlot(entry))
  const slotRedisKey = (providerID: string, slot: string) => `${keyPrefix}${encodeURIComponent(providerID)}|${encodeURIComponent(slot)}`

  /** What Redis holds, by entry key, as last seen. */
  let mirror = new Map<string, CooldownEntry>()
  /**
   * What this store's own saves recorded, by entry key (latest per key, active): the only entries it sends to Redis on
   * its own, on a reconnect or to a restarted server. The health file's other entries are other projects' and processes'.
   */
  let own = new Map<string, CooldownEntry>()
  /** Per entry key, the `since` of the entry Redis was last seen to hold: what a reconnect need not send again. */
  let knownInRedis = new Map<string, number>()
  /** The server's `run_id` when last connected: a new one is a restarted (empty) server. */
  let serverRunId: string | undefined
  let mirrorVersion = 0
  let merged: { local: CooldownEntry[]; version: number; entries: CooldownEntry[] } | undefined
  let local: CooldownEntry[] = []
  let localReadAt = Number.NEGATIVE_INFINITY

  let problem: string | undefined
  let synced = false
  let closed = false
  let commands: RedisClient | undefined
  let subscriber: RedisClient | undefined
  let reconnectDelay = RECONNECT_MIN_MS
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined
  let resyncTimer: ReturnType<typeof setInterval> | undefined
  const queue: QueuedSave[] = []
  let draining: Promise<void> | undefined
  const syncWaiters = new Set<(synced: boolean) => void>()

  const report = (next: string | undefined) => {
    if (next === problem) return
    problem = next
    try {
      options.onProblem?.(next)
    } catch {
      // A logger that throws must not take health down with it.
    }
  }

  const readLocal = (force = false) => {
    const now = clock()
    if (!force && now - localReadAt < localReadIntervalMs) return
    localReadAt = now
    try {
      local = options.local.load()
    } catch {
      // The local store reports its own problems; the last read stands.
    }
  }

  const setMirror = (key: string, entry: CooldownEntry | undefined) => {
    const held = mirror.get(key)
    if (entry ? held === entry : held === undefined) return
    if (entry) mirror.set(key, entry)
    else mirror.delete(key)
    mirrorVersion++
  }

  const send = (command: string, args: string[]): Promise<unknown> => {
    const client = commands
    if (!client) return Promise.reject(new Error("not connected"))
    return withTimeout(client.send(command, args), commandTimeoutMs, `${command} to ${where}`)
  }

  /** Redis went away: say so once, serve the mirror and the file, try again later. */
  const lost = (error: unknown) => {
    if (closed) return
    // A connection that never got to sync (refused commands, a server that drops us at once) backs off; one that
    // was working retries soon.
    const wasSynced = synced
    synced = false
    closeClient(commands)
    closeClient(subscriber, channel)
    commands = undefined
    subscriber = undefined
    if (resyncTimer) clearInterval(resyncTimer)
    resyncTimer = undefined
    // Said once an outage: the reason may change from attempt to attempt ("refused", "closed"), the news does not.
    if (problem === undefined)
      report(`Redis at ${where} is unreachable (${errorText(error)}); cooldowns are shared through this machine's health file until it is back`)
    for (const waiter of syncWaiters) waiter(false)
    syncWaiters.clear()
    if (reconnectTimer) return
    const delay = wasSynced ? RECONNECT_MIN_MS : reconnectDelay
    reconnectDelay = Math.min(RECONNECT_MAX_MS, reconnectDelay * 2)
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined
      void connect()
    }, delay)
    reconnectTimer.unref?.()
  }

  /** Messages that arrived while a full reload was on its way: applied again after it, being newer than what it read. */
  let heardDuringReload: string[] | undefined
  const onMessage = (message: string) => {
    heardDuringReload?.push(message)
    applyMessage(message)
  }
  const applyMessage = (message: string) => {
    const newline = message.indexOf("\n")
    if (newline === -1) return
    const key = message.slice(0, newline)
    if (!key.startsWith(keyPrefix)) return
    const value = message.slice(newline + 1)
    const deleted = value.startsWith("-")
    const entry = parseValue(deleted ? value.slice(1) : value)
    const [provider, slot] = key.slice(keyPrefix.length).split("|")
    if (provider === undefined || slot === undefined) return
    let id: string
    try {
      // The entry's own key where it came along: one written under a key from before scopes (`<provider>|*` for a
      // credential's) is held here under the key it has now.
      id = entry ? entryKey(entry) : slotKey(decodeURIComponent(provider), decodeURIComponent(slot))
    } catch {
      return
    }
    if (deleted) {
      if (entry) knownInRedis.delete(id)
      removeFromMirror(id, entry)
      return
    }
    if (entry) knownInRedis.set(id, entry.since)
    setMirror(id, entry && entry.until > clock() ? entry : undefined)
  }

  /**
   * Redis no longer holds `cleared` (undefined: whatever it held): drop it here and in the file, unless what is held
   * here is a newer failure (recorded after what was cleared; its own write is on its way).
   */
  const removeFromMirror = (id: string, cleared: CooldownEntry | undefined) => {
    const held = mirror.get(id)
    if (held && cleared && held.since > cleared.since) return
    setMirror(id, undefined)
    const gone = cleared ?? held
    if (gone) forgetLocally(gone)
  }

  /** Stored keys of this namespace that match a glob (every one by default). */
  const scanKeys = async (pattern = `${globEscape(keyPrefix)}*`): Promise<string[]> => {
    const keys: string[] = []
    let cursor = "0"
    do {
      const [next, batch] = (await send("SCAN", [cursor, "MATCH", pattern, "COUNT", "500"])) as [string, string[]]
      cursor = String(next)
      keys.push(...batch)
    } while (cursor !== "0")
    return keys
  }

  const reloadMirror = async () => {
    const heard: string[] = []
    heardDuringReload = heard
    let keys: string[]
    let values: unknown[]
    try {
      keys = await scanKeys()
      values = keys.length ? ((await send("MGET", keys)) as unknown[]) : []
    } finally {
      if (heardDuringReload === heard) heardDuringReload = undefined
    }
    const next = new Map<string, CooldownEntry>()
    const now = clock()
    for (const value of values) {
      const entry = parseValue(value)
      if (entry && entry.until > now) next.set(entryKey(entry), entry)
    }
    // Active here, gone there: cleared elsewhere while a published change was missed.
    for (const [key, held] of mirror) if (!next.has(key) && held.until > now && synced) forgetLocally(held)
    mirror = next
    knownInRedis = new Map([...next].map(([id, entry]) => [id, entry.since]))
    mirrorVersion++
    for (const message of heard) applyMessage(message)
  }

  /** One key changed from what Redis holds now, retried while another writer gets there first. */
  const writeKey = async (key: string, change: (stored: CooldownEntry | undefined) => CooldownEntry | undefined) => {
    for (let attempt = 1; attempt <= CAS_ATTEMPTS; attempt++) {
      const current = await send("GET", [key])
      const currentText = typeof current === "string" ? current : ""
      const stored = parseValue(currentText)
      const next = change(stored)
      const nextText = next ? serializeEntry(next) : ""
      if (nextText === currentText) return
      const ttl = next && Number.isFinite(next.until) ? String(Math.max(1, Math.ceil(next.until - clock()))) : ""
      const written = await send("EVAL", [COMPARE_AND_SET, "1", key, currentText, nextText, ttl, channel])
      if (Number(written) !== 1) continue
      if (next) {
        knownInRedis.set(entryKey(next), next.since)
        setMirror(entryKey(next), next)
      } else if (stored) {
        knownInRedis.delete(entryKey(stored))
        removeFromMirror(entryKey(stored), stored)
      }
      return
    }
  }

  const pushSave = async (save: QueuedSave) => {
    for (const rule of save.forget)
      for (const key of await keysOf(rule))
        await writeKey(key, (stored) => (stored && matchesForgetRule(stored, rule) ? undefined : stored))
    for (const entry of save.entries) {
      const id = entryKey(entry)
      const known = save.basis?.get(id)
      const basis = known === undefined ? undefined : new Map([[id, known]])
      await writeKey(redisKey(entry), (stored) => mergeEntries(stored ? [stored] : [], [entry], { now: clock(), basis })[0])
    }
  }

  /** The keys a forget rule can touch: one key for one slot or model, a provider's keys for a provider's, else every key. */
  const keysOf = (rule: ForgetRule): Promise<string[]> => {
    if (rule.providerID !== undefined && rule.slot !== undefined) return Promise.resolve([slotRedisKey(rule.providerID, rule.slot)])
    if (rule.providerID !== undefined && rule.modelID !== undefined && rule.modelID !== "*")
      return Promise.resolve([slotRedisKey(rule.providerID, rule.modelID)])
    if (rule.providerID !== undefined) return scanKeys(`${globEscape(`${keyPrefix}${encodeURIComponent(rule.providerID)}|`)}*`)
    return scanKeys()
  }

  /**
   * Another machine cleared a cooldown (a success, new credentials, a reset): clear it in the file too, so the file
   * this machine falls back to does not bring it back while Redis is away. Only what was recorded up to the cleared
   * entry goes: a newer failure recorded here stays.
   */
  const forgetLocally = (cleared: CooldownEntry) => {
    readLocal(true)
    const id = entryKey(cleared)
    const mine = own.get(id)
    if (mine && mine.since <= cleared.since) own.delete(id)
    // Most processes never held it in their file: no locked write for nothing.
    if (!local.some((entry) => entryKey(entry) === id && entry.since <= cleared.since)) return
    try {
      options.local.save([], { forget: [{ providerID: cleared.providerID, slot: entrySlot(cleared), sinceAtMost: cleared.since }] })
    } catch {
      // The file reports its own problems; Redis holds the truth while it is reachable.
    } finally {
      readLocal(true)
    }
  }

  const drain = (): Promise<void> => {
    if (draining) return draining
    draining = (async () => {
      while (queue.length && commands && !closed) {
        try {
          await pushSave(queue[0]!)
          queue.shift()
        } catch (error) {
          lost(error)
          return
        }
      }
    })().finally(() => {
      draining = undefined
    })
    return draining
  }

  const connect = async () => {
    if (closed) return
    let client: RedisClient | undefined
    let sub: RedisClient | undefined
    try {
      client = new RedisClient(options.url, {
        connectionTimeout: commandTimeoutMs,
        autoReconnect: false,
        enableOfflineQueue: false,
      })
      await withTimeout(client.connect(), commandTimeoutMs, `connecting to ${where}`)
      sub = await withTimeout(client.duplicate(), commandTimeoutMs, `connecting to ${where}`)
      await withTimeout(sub.subscribe(channel, onMessage), commandTimeoutMs, `subscribing at ${where}`)
      if (closed) {
        closeClient(client)
        closeClient(sub, channel)
        return
      }
      commands = client
      subscriber = sub
      const onClose = (error: Error) => {
        if (commands === client || subscriber === sub) lost(error ?? new Error("connection closed"))
      }
      client.onclose = onClose
      sub.onclose = onClose
      // Back, or first: this store's own cooldowns that Redis has not held go first (recorded while it could not hear,
      // or lost with a restarted server), then its queued changes in order, forgets included. An entry Redis held and
      // no longer holds was cleared elsewhere: not sent again. Nor is one the machine's file no longer holds: another
      // process of this machine cleared it meanwhile (the member answered it). The file's other entries are not this
      // store's to send.
      const info = String(await send("INFO", ["server"]))
      const runId = /run_id:(\w+)/.exec(info)?.[1]
      const sameServer = serverRunId !== undefined && runId === serverRunId
      serverRunId = runId
      readLocal(true)
      const knownBefore = sameServer ? knownInRedis : new Map<string, number>()
      const now = clock()
      const inFile = new Map(local.map((entry) => [entryKey(entry), entry.since]))
      for (const [id, entry] of own) if ((inFile.get(id) ?? Number.NEGATIVE_INFINITY) < entry.since) own.delete(id)
      const unsent = [...own.values()].filter((entry) => entry.until > now && knownBefore.get(entryKey(entry)) !== entry.since)
      if (unsent.length) queue.unshift({ entries: unsent, forget: [], basis: undefined })
      await drain()
      if (!commands) return
      await reloadMirror()
      if (closed || commands !== client) return
      if (sameServer)
        for (const entry of local) {
          const id = entryKey(entry)
          if (knownBefore.get(id) === entry.since && !mirror.has(id) && entry.until > clock()) forgetLocally(entry)
        }
      synced = true
      reconnectDelay = RECONNECT_MIN_MS
      report(undefined)
      for (const waiter of syncWaiters) waiter(true)
      syncWaiters.clear()
      // A PING a second: a server that died or froze while nothing was being written is noticed within a second or
      // two even when its socket never reports the close; a full reload now and then catches a missed message.
      let beats = 0
      const reloadEvery = Math.max(1, Math.round(resyncIntervalMs / HEARTBEAT_MS))
      resyncTimer = setInterval(() => {
        if (!commands || draining) return
        const beat = ++beats % reloadEvery === 0 ? reloadMirror() : send("PING", [])
        beat.catch(lost)
      }, HEARTBEAT_MS)
      resyncTimer.unref?.()
    } catch (error) {
      if (commands !== client) {
        closeClient(client)
        closeClient(sub, channel)
      }
      lost(error)
    }
  }

  void connect()

  return {
    get problem() {
      return problem
    },
    get synced() {
      return synced
    },
    load() {
      // The file (this machine: every process and project, with or without Redis) and the mirror (every machine
      // through Redis; what it held when it went away still ends on time), the later failure per key.
      readLocal()
      if (merged && merged.local === local && merged.version === mirrorVersion) return merged.entries
      const entries = mergeEntries(local, [...mirror.values()], { now: clock() })
      merged = { local, version: mirrorVersion, entries }
      return entries
    },
    save(entries: CooldownEntry[], saveOptions: SaveOptions = {}) {
      // The mirror learns at once, so a forget is not undone by a copy still on its way out.
      const forget = saveOptions.forget ?? []
      const now = clock()
      const next = mergeEntries([...mirror.values()], entries, { now, forget, basis: saveOptions.basis })
      mirror = new Map(next.map((entry) => [entryKey(entry), entry]))
      mirrorVersion++
      own = new Map(mergeEntries([...own.values()], entries, { now, forget, basis: saveOptions.basis }).map((entry) => [entryKey(entry), entry]))
      queue.push({ entries, forget, basis: saveOptions.basis })
      // The oldest go, never the head: it may be on its way. `own` keeps every entry; a reconnect sends them.
      if (queue.length > MAX_QUEUED_SAVES) queue.splice(1, queue.length - MAX_QUEUED_SAVES)
      if (commands) void drain()
      try {
        options.local.save(entries, saveOptions)
      } finally {
        readLocal(true)
      }
    },
    whenSynced(timeoutMs: number) {
      if (synced) return Promise.resolve(true)
      // Known to be away: a provider load (each reload too) must not wait on every one of them.
      if (closed || problem !== undefined) return Promise.resolve(false)
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          syncWaiters.delete(done)
          resolve(false)
        }, timeoutMs)
        timer.unref?.()
        const done = (value: boolean) => {
          clearTimeout(timer)
          resolve(value)
        }
        syncWaiters.add(done)
      })
    },
    async drained() {
      while (queue.length && commands && !closed) await drain()
    },
    close() {
      closed = true
      if (reconnectTimer) clearTimeout(reconnectTimer)
      if (resyncTimer) clearInterval(resyncTimer)
      closeClient(commands)
      closeClient(subscriber, channel)
      commands = undefined
      subscriber = undefined
      for (const waiter of syncWaiters) waiter(false)
      syncWaiters.clear()
    },
  }
}
