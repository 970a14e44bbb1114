/**
 * A lock between processes for one small file's read-merge-write: a directory next to it, created with `mkdir`, which
 * is atomic on every platform OpenCode runs on (Windows included) and needs no native module. The holder writes its
 * pid and time inside; a lock whose holder is gone (no such pid) or that is older than `staleMs` is taken over, so a
 * crash mid-write never blocks the store for good.
 *
 * Why not upstream's `EffectFlock`: it is tuned for package installs (60 s stale, 100 ms first retry, 5 min timeout)
 * and lives in OpenCode's core, which the engine does not import; a health write holds the lock for well under a
 * millisecond, so waits here are counted in milliseconds.
 *
 * Two ways to wait: `acquireFileLock` with timers (the state-file writer, everything while OpenCode runs), and the
 * blocking `withFileLock`, only for the last writes at exit, when no event loop will run again.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"

export interface FileLockOptions {
  /** Give up after this long (default 500 ms); the caller keeps its write for later. */
  timeoutMs?: number
  /** A lock older than this is a crashed holder's (default 5 s). */
  staleMs?: number
  clock?: () => number
  /** A lock this process holds counts as stale (at exit: a write the event loop will never finish held it). */
  takeOwn?: boolean
}

const lockTimeoutMarker = Symbol.for("combined-models.file-lock-timeout")

/** Another process held the lock for longer than the caller would wait. */
export class FileLockTimeoutError extends Error {
  readonly [lockTimeoutMarker] = true
  override readonly name = "FileLockTimeoutError"

  constructor(readonly lockPath: string) {
    super(`could not lock ${lockPath} in time (another process holds it)`)
  }

  static isInstance(error: unknown): error is FileLockTimeoutError {
    return typeof error === "object" && error !== null && lockTimeoutMarker in error
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4))
/** Blocks this thread for `ms` without spinning the CPU: only where no event loop will run again (exit). */
export function sleepSync(ms: number) {
  Atomics.wait(sleeper, 0, 0, ms)
}

function holderGone(lockDir: string, now: number, staleMs: number, takeOwn = false): boolean {
  let owner: { pid?: unknown; at?: unknown } | undefined
  try {
    owner = JSON.parse(readFileSync(join(lockDir, "owner"), "utf8"))
  } catch {
    // Not written yet (the holder is between mkdir and write) or damaged: judge by the directory's age.
  }
  if (takeOwn && owner?.pid === process.pid) return true
  if (owner && typeof owner.pid === "number" && owner.pid !== process.pid) {
    try {
      process.kill(owner.pid, 0)
    } catch (error) {
      if ((error as { code?: string }).code === "ESRCH") return true
    }
  }
  // Gone meanwhile: the holder released it; not stale (another process may be creating it again right now).
  const at = owner && typeof owner.at === "number" ? owner.at : statSync(lockDir, { throwIfNoEntry: false })?.mtimeMs
  return at !== undefined && now - at > staleMs
}

/** One try at the lock: taken (with its owner file written), or why not ("held": by a live holder, not stale). */
function tryTake(lockDir: string, clock: () => number, staleMs: number, takeOwn: boolean): string | "held" {
  for (;;) {
    try {
      mkdirSync(lockDir)
      break
    } catch (error) {
      if ((error as { code?: string }).code !== "EEXIST") throw error
    }
    if (!holderGone(lockDir, clock(), staleMs, takeOwn)) return "held"
    // Taken over by renaming it away first: of several processes that judged it stale, one rename succeeds.
    const stale = `${lockDir}.stale.${process.pid}.${Math.random().toString(36).slice(2)}`
    try {
      renameSync(lockDir, stale)
      rmSync(stale, { recursive: true, force: true })
    } catch {
      // Another process took it over (or its holder released it) first.
    }
  }
  const owner = JSON.stringify({ pid: process.pid, at: clock(), token: Math.random().toString(36).slice(2) })
  try {
    writeFileSync(join(lockDir, "owner"), owner)
  } catch (error) {
    rmSync(lockDir, { recursive: true, force: true })
    throw error
  }
  return owner
}

/** Only our own lock goes: one held past `staleMs` may have been taken over by another process meanwhile. */
function release(lockDir: string, owner: string) {
  let current: string | undefined
  try {
    current = readFileSync(join(lockDir, "owner"), "utf8")
  } catch {
    current = undefined
  }
  if (current === owner) rmSync(lockDir, { recursive: true, force: true })
}

/**
 * Tries at the lock for `path` (`<path>.lock`), shared by both ways to wait: each try takes the lock (its release), or
 * says how long to pause before the next (1–2 ms at first, doubling to 16–32 ms, jittered); past the deadline it throws
 * FileLockTimeoutError.
 */
function lockTries(path: string, options: FileLockOptions): () => { release: () => void } | { pauseMs: number } {
  const clock = options.clock ?? Date.now
  const staleMs = options.staleMs ?? 5_000
  const lockDir = `${path}.lock`
  const deadline = clock() + (options.timeoutMs ?? 500)
  let delay = 1
  return () => {
    const owner = tryTake(lockDir, clock, staleMs, options.takeOwn ?? false)
    if (owner !== "held") return { release: () => release(lockDir, owner) }
    if (clock() >= deadline) throw new FileLockTimeoutError(lockDir)
    const pauseMs = delay + Math.random() * delay
    delay = Math.min(delay * 2, 16)
    return { pauseMs }
  }
}

/**
 * Takes the lock for `path` (`<path>.lock`), waiting with timers (the thread runs on meanwhile), and resolves with its
 * release. Rejects with FileLockTimeoutError when it cannot get it in time.
 */
export async function acquireFileLock(path: string, options: FileLockOptions = {}): Promise<() => void> {
  const tryLock = lockTries(path, options)
  for (;;) {
    const step = tryLock()
    if ("release" in step) return step.release
    await Bun.sleep(step.pauseMs)
  }
}

/**
 * Runs `fn` holding the lock for `path`, waiting for it by blocking the thread: only for the last writes at exit.
 * Throws FileLockTimeoutError when it cannot get it in time.
 */
export function withFileLock<T>(path: string, fn: () => T, options: FileLockOptions = {}): T {
  const tryLock = lockTries(path, options)
  for (;;) {
    const step = tryLock()
    if ("pauseMs" in step) {
      sleepSync(step.pauseMs)
      continue
    }
    try {
      return fn()
    } finally {
      step.release()
    }
  }
}
