/**
 * The one writer of the small files under `<state>/combined-models/` (health, switches, rate-limit readings, request
 * sizes, round_robin's counter). Several OpenCode processes share them, so every write is a read-modify-write under
 * the file's lock (`file-lock.ts`), and none of it happens on the caller's path:
 *
 * - `updateStateFile` queues a change (a function of the file's current text) and returns at once. A background drain
 *   takes the lock without blocking the thread (it waits with timers), reads the file, applies every change queued for
 *   it in order, writes a temp file, flushes it to disk and renames it in, so a reader never sees half a file and a
 *   writer never loses another process's update.
 * - A write that cannot land (the lock held too long, a full disk, a directory in the way) is tried again a bounded
 *   number of times with growing pauses, then dropped; what was dropped is said once in the log (`takeStateFileNotices`)
 *   until a write to that file lands again. The caller's own memory keeps what it had: health stays in the process.
 * - When the process exits, what is still queued is written synchronously (nothing else runs then), waiting a bounded
 *   time for another process's lock; `settleStateFiles` lets a command about to exit, and the tests, wait for the
 *   queue instead.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs"
import { open, mkdir, readFile, rename, unlink } from "node:fs/promises"
import { dirname, join } from "node:path"
import { FileLockTimeoutError, acquireFileLock, sleepSync, withFileLock } from "./file-lock.ts"

/** A state file's path: `<state>/combined-models/<name>`, where the health file (`health.json`) is too. */
export function stateFilePath(stateDir: string, name: string): string {
  return join(stateDir, "combined-models", name)
}

/** A state file's text as it is now; undefined when it is missing or unreadable (every reader takes that as empty). */
export function readStateFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8")
  } catch {
    return undefined
  }
}

/**
 * A change to a file: from its current text (undefined: no such file or unreadable) to the next (undefined: leave it
 * as it is). It runs under the lock, on whatever another process wrote last, so it must be a pure merge.
 */
export type StateFileChange = (current: string | undefined) => string | undefined

export interface StateFileUpdate {
  change: StateFileChange
  /** What the change holds, for the log when it is dropped ("a rate-limit reading", "2 cooldown changes"). */
  what: string
  /** Called once: true when the change is in the file, false when it was dropped. */
  settled?: (landed: boolean) => void
}

/** Attempts at a batch before it is dropped: with the pauses between them, a few seconds of a lock held or a full disk. */
export const MAX_WRITE_ATTEMPTS = 5
const RETRY_BASE_MS = 100
/** How long one attempt waits for another process's lock. */
const LOCK_WAIT_MS = 500
/** At exit: how long in all the synchronous last writes wait for other processes' locks. */
const EXIT_LOCK_WAIT_MS = 1_000

interface FileQueue {
  pending: StateFileUpdate[]
  /** The batch the drain is writing now: at exit it is written again, synchronously (its changes are merges). */
  inFlight: StateFileUpdate[] | undefined
  draining: Promise<void> | undefined
  /** Said in the log since the last write that landed: a failing file is reported once, not per retry. */
  reported: boolean
}

const queues = new Map<string, FileQueue>()
const notices: string[] = []
let exitHooked = false

/** Dropped writes not yet logged; the adapter hands them to OpenCode's log with the next step's route. */
export function takeStateFileNotices(): string[] {
  return notices.splice(0)
}

function errorText(error: unknown): string {
  if (FileLockTimeoutError.isInstance(error)) return "another process holds its lock"
  if (error && typeof error === "object" && "code" in error && typeof error.code === "string") return error.code
  return error instanceof Error ? error.message : String(error)
}

function describe(batch: readonly StateFileUpdate[]): string {
  const counts = new Map<string, number>()
  for (const update of batch) counts.set(update.what, (counts.get(update.what) ?? 0) + 1)
  return [...counts].map(([what, count]) => (count === 1 ? what : `${what} ×${count}`)).join(", ")
}

function applyAll(batch: readonly StateFileUpdate[], current: string | undefined): string | undefined {
  let text = current
  let changed = false
  for (const update of batch) {
    const next = update.change(text)
    if (next !== undefined && next !== text) {
      text = next
      changed = true
    }
  }
  return changed ? text : undefined
}

function settle(batch: readonly StateFileUpdate[], landed: boolean) {
  for (const update of batch) {
    try {
      update.settled?.(landed)
    } catch {
      // A caller's bookkeeping must not stop the writer.
    }
  }
}

function tempPath(path: string) {
  return `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
}

/** One locked read-modify-write, asynchronous all the way: no wait blocks the thread. */
async function writeOnce(path: string, batch: readonly StateFileUpdate[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const release = await acquireFileLock(path, { timeoutMs: LOCK_WAIT_MS })
  const temp = tempPath(path)
  try {
    const current = await readFile(path, "utf8").catch(() => undefined)
    const next = applyAll(batch, current)
    if (next === undefined) return
    const handle = await open(temp, "w")
    try {
      await handle.writeFile(next)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await renameReplacingAsync(temp, path)
  } catch (error) {
    await unlink(temp).catch(() => undefined)
    throw error
  } finally {
    release()
  }
}

const RENAME_BUSY = new Set(["EPERM", "EBUSY", "EACCES"])
const RENAME_ATTEMPTS = 6

/** Whether a rename over a file that failed on its `attempt`th try is tried again: Windows reports a target busy while a reader has it open. */
function renameRetried(error: unknown, attempt: number): boolean {
  const code = (error as { code?: string }).code
  return code !== undefined && RENAME_BUSY.has(code) && attempt < RENAME_ATTEMPTS
}

/** `rename` over `to`, tried again while the target is busy (`renameRetried`); blocking, for the last writes at exit. */
export function renameReplacing(from: string, to: string, rename: (from: string, to: string) => void = renameSync) {
  for (let attempt = 1; ; attempt++) {
    try {
      rename(from, to)
      return
    } catch (error) {
      if (!renameRetried(error, attempt)) throw error
      sleepSync(attempt * 5)
    }
  }
}

/** The same with timers, for the background drain. */
async function renameReplacingAsync(from: string, to: string) {
  for (let attempt = 1; ; attempt++) {
    try {
      await rename(from, to)
      return
    } catch (error) {
      if (!renameRetried(error, attempt)) throw error
      await Bun.sleep(attempt * 5)
    }
  }
}

function drain(path: string, queue: FileQueue): Promise<void> {
  if (queue.draining) return queue.draining
  queue.draining = (async () => {
    while (queue.pending.length) {
      const batch = queue.pending.splice(0)
      queue.inFlight = batch
      let failure: unknown
      for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
        try {
          await writeOnce(path, batch)
          failure = undefined
          break
        } catch (error) {
          failure = error
          if (attempt < MAX_WRITE_ATTEMPTS) await Bun.sleep(RETRY_BASE_MS * 2 ** (attempt - 1))
        }
      }
      queue.inFlight = undefined
      if (failure === undefined) {
        queue.reported = false
        settle(batch, true)
        continue
      }
      if (!queue.reported) {
        queue.reported = true
        notices.push(
          `combined-models: ${path} not written after ${MAX_WRITE_ATTEMPTS} attempts (${errorText(failure)}); dropped: ${describe(batch)}. ` +
            "This process keeps them in memory; later writes are tried again, and this is said again only after one lands.",
        )
      }
      settle(batch, false)
    }
  })().finally(() => {
    queue.draining = undefined
    if (queue.pending.length) void drain(path, queue)
  })
  return queue.draining
}

/** Queue a change to a state file; it lands in the background (see the module's comment). Never throws. */
export function updateStateFile(path: string, update: StateFileUpdate): void {
  let queue = queues.get(path)
  if (!queue) queues.set(path, (queue = { pending: [], inFlight: undefined, draining: undefined, reported: false }))
  queue.pending.push(update)
  hookExit()
  // Off the caller's path: the drain starts after the current call stack.
  if (!queue.draining) queue.draining = Promise.resolve().then(() => {
    queue.draining = undefined
    return drain(path, queue)
  })
}

/** Resolves when every queued change has landed or been dropped (a command about to exit, tests). */
export async function settleStateFiles(): Promise<void> {
  for (;;) {
    const running = [...queues.entries()].filter(([, queue]) => queue.draining || queue.pending.length)
    if (running.length === 0) return
    await Promise.all(running.map(([path, queue]) => queue.draining ?? drain(path, queue)))
  }
}

/**
 * The process is exiting: what is still queued is written now, synchronously (no event loop will run the drain), each
 * file waiting for another process's lock within one shared bound; what cannot land is dropped.
 */
export function flushStateFilesSync(options: { lockWaitMs?: number } = {}): void {
  const deadline = Date.now() + (options.lockWaitMs ?? EXIT_LOCK_WAIT_MS)
  for (const [path, queue] of queues) {
    // A batch the drain was writing may not have landed; its lock, if taken, is this process's own and is taken over.
    const batch = [...(queue.inFlight ?? []), ...queue.pending.splice(0)]
    queue.inFlight = undefined
    if (batch.length === 0) continue
    const temp = tempPath(path)
    try {
      mkdirSync(dirname(path), { recursive: true })
      withFileLock(
        path,
        () => {
          let current: string | undefined
          try {
            current = readFileSync(path, "utf8")
          } catch {
            current = undefined
          }
          const next = applyAll(batch, current)
          if (next === undefined) return
          const fd = openSync(temp, "w")
          try {
            writeSync(fd, next)
            fsyncSync(fd)
          } finally {
            closeSync(fd)
          }
          renameReplacing(temp, path)
        },
        { timeoutMs: Math.max(0, deadline - Date.now()), takeOwn: true },
      )
      settle(batch, true)
    } catch {
      try {
        unlinkSync(temp)
      } catch {
        // Nothing was written.
      }
      settle(batch, false)
    }
  }
}

function hookExit() {
  if (exitHooked || typeof process === "undefined" || typeof process.on !== "function") return
  exitHooked = true
  process.on("exit", () => flushStateFilesSync())
}

/** Tests: a clean slate (nothing queued, nothing reported). */
export function resetStateFiles() {
  queues.clear()
  notices.length = 0
}
