/**
 * A real `redis-server` (Debian's package; `.ci/run` installs it) on a loopback port, started and stopped by the
 * tests. Without the binary, `redisAvailable` is false and the Redis tests skip by name.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process"
import { createServer } from "node:net"

export const redisAvailable = spawnSync("redis-server", ["--version"], { encoding: "utf8" }).status === 0

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0))
    })
  })
}

export interface TestRedis {
  url: string
  port: number
  /** Kill it (SIGKILL): connections drop as in a crash. */
  kill(): Promise<void>
  /** Start again on the same port, empty (nothing is saved to disk). */
  start(): Promise<void>
  /** SIGSTOP / SIGCONT: a server that accepts nothing and answers nothing, then wakes. */
  freeze(): void
  thaw(): void
  stop(): Promise<void>
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async () => {
    const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"], {
      stdio: ["ignore", "pipe", "pipe"],
    })
    child = proc
    await new Promise<void>((resolve, reject) => {
      let output = ""
      const timer = setTimeout(() => reject(new Error(`redis-server did not start on ${port}:\n${output}`)), 10_000)
      proc.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes("Ready to accept connections")) {
          clearTimeout(timer)
          resolve()
        }
      })
      proc.once("exit", (code) => {
        clearTimeout(timer)
        reject(new Error(`redis-server exited (${code}):\n${output}`))
      })
    })
  }
  const kill = async () => {
    const proc = child
    child = undefined
    if (!proc || proc.exitCode !== null) return
    const exited = new Promise((resolve) => proc.once("exit", resolve))
    proc.kill("SIGCONT")
    proc.kill("SIGKILL")
    await exited
  }
  await start()
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    kill,
    start,
    freeze: () => child?.kill("SIGSTOP"),
    thaw: () => child?.kill("SIGCONT"),
    stop: kill,
  }
}

/** Poll until `check` holds (a published change arrives in a round trip; a reconnect takes its backoff). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await Bun.sleep(10)
  }
  return await check()
}
