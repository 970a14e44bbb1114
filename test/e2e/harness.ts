/**
 * End-to-end harness: the patched OpenCode as a user runs it (`opencode run`, `export`, `session list`, the TUI under
 * tmux), against our loopback simulator registered under the real provider ids.
 *
 * Where OpenCode comes from, the artifact users run unless asked otherwise:
 * - `OPENCODE_BINARY=<path>`: a patched binary the user already has;
 * - `OPENCODE_PREPARED=<dir>`: a directory with `bin/opencode` (a prepared copy, or a wrapper around a dev tree);
 * - `OPENCODE_SRC=<checkout at the pin>`: the patched binary, built once per content hash of patches + engine + 1.x adapter +
 *   patch tool + catalog with `bun run patch prepare --binary --models <catalog> --out <cache> --opencode
 *   $OPENCODE_SRC` (upstream's `build --single`), cached under `$COMBINED_MODELS_E2E_CACHE` (default
 *   `/tmp/combined-models-e2e/<hash>`), so reruns start at once. `COMBINED_MODELS_E2E_SOURCE=1` runs the source
 *   launcher instead (faster to rebuild, but Bedrock's event stream does not decode there: see `prepare`).
 * Without any, `e2e.enabled` is false and every e2e test skips by name.
 *
 * Every environment is hermetic: its own HOME, XDG dirs, config file, catalog, a fresh git project, its own simulator
 * on 127.0.0.1, and every process it starts is killed (by process group) when it is disposed.
 */
import { spawn as spawnProcess, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative, resolve } from "node:path"
import { startSimulator, type RecordedRequest, type SimStep, type Simulator, type Wire } from "../../packages/combined-models/src/simulator/index.ts"

export const REPO_ROOT = resolve(import.meta.dir, "../..")

/** The group every test selects, and the provider priority every environment configures. */
export const MODEL = "combined/claude-sonnet-4-5"
export const PRIORITY = ["anthropic", "github-copilot", "amazon-bedrock", "openrouter"] as const
export type ProviderId = (typeof PRIORITY)[number]

/**
 * Which wire each provider id speaks on the loopback, through the SDK OpenCode uses for it. Bedrock's ConverseStream
 * decodes only in the compiled binary (see `prepare`); Copilot serves Messages, Responses and chat under one URL.
 */
export const WIRES: Record<ProviderId, Wire> = {
  anthropic: "anthropic",
  "github-copilot": "copilot",
  "amazon-bedrock": "bedrock",
  openrouter: "openrouter",
}

const BEDROCK_MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"

/** Catalog fixture: beside the repository (as CI has it) or `COMBINED_MODELS_CATALOG`. */
export const CATALOG_PATH =
  process.env.COMBINED_MODELS_CATALOG ?? resolve(REPO_ROOT, "../shared/fixtures/models-dev-2026-07-02.json")

/** Why the suite cannot run here, or undefined when it can. */
function skipReason(): string | undefined {
  if (!process.env.OPENCODE_BINARY && !process.env.OPENCODE_PREPARED && !process.env.OPENCODE_SRC)
    return "set OPENCODE_SRC=<OpenCode checkout at the pin> (or OPENCODE_BINARY=<patched binary>, OPENCODE_PREPARED=<dir with bin/opencode>)"
  if (process.env.OPENCODE_BINARY && !existsSync(process.env.OPENCODE_BINARY))
    return `OPENCODE_BINARY=${process.env.OPENCODE_BINARY} does not exist`
  if (!existsSync(CATALOG_PATH)) return `no catalog fixture at ${CATALOG_PATH} (set COMBINED_MODELS_CATALOG)`
  if (process.env.OPENCODE_PREPARED && !existsSync(join(process.env.OPENCODE_PREPARED, "bin/opencode")))
    return `OPENCODE_PREPARED=${process.env.OPENCODE_PREPARED} has no bin/opencode`
  return undefined
}

const reason = skipReason()
export const e2e = { enabled: reason === undefined, reason }
if (reason && process.env.COMBINED_MODELS_E2E_QUIET !== "1") console.warn(`e2e tests skipped: ${reason}`)

// ---------------------------------------------------------------------------------------------------------------------
// Preparing OpenCode

export type PrepareOptions = {
  /** The OpenCode checkout at the pin. */
  opencode: string
  /** Where the cache lives; default `$COMBINED_MODELS_E2E_CACHE` or `/tmp/combined-models-e2e`. */
  cacheRoot?: string
  /** "patched" applies patches/series; "stock" an empty series (the unpatched pin with the same launcher). */
  flavour?: "patched" | "stock"
  /** Extra arguments for `bun run patch prepare`. */
  extraArgs?: string[]
  /** Bound on the whole preparation. */
  timeoutMs?: number
  /** The compiled binary (default), or the source launcher (`COMBINED_MODELS_E2E_SOURCE=1`). */
  artifact?: "binary" | "source"
}

function defaultArtifact(): "binary" | "source" {
  return process.env.COMBINED_MODELS_E2E_SOURCE === "1" ? "source" : "binary"
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return []
  const out: string[] = []
  for (const name of readdirSync(dir).sort()) {
    if (name === "node_modules" || name.startsWith(".")) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...filesUnder(path))
    else out.push(path)
  }
  return out
}

/** Content hash of what a prepared copy is made from: patches, engine, 1.x adapter, patch tool, the checkout's HEAD, the flavour. */
export function preparationHash(options: Pick<PrepareOptions, "opencode" | "flavour" | "artifact">): string {
  const hash = createHash("sha256")
  hash.update(`flavour=${options.flavour ?? "patched"}\n`)
  const artifact = options.artifact ?? defaultArtifact()
  hash.update(`artifact=${artifact}\n`)
  // The binary embeds the catalog.
  if (artifact === "binary" && existsSync(CATALOG_PATH)) hash.update(readFileSync(CATALOG_PATH))
  const head = spawnSync("git", ["-C", options.opencode, "rev-parse", "HEAD"], { encoding: "utf8" })
  hash.update(`head=${head.stdout.trim()}\n`)
  for (const dir of ["patches", "packages/combined-models/src", "packages/combined-models/package.json", "packages/opencode1/src", "packages/opencode1/package.json", "packages/patcher/src"]) {
    const root = join(REPO_ROOT, dir)
    const files = existsSync(root) && statSync(root).isFile() ? [root] : filesUnder(root)
    for (const file of files) {
      hash.update(relative(REPO_ROOT, file))
      hash.update(readFileSync(file))
    }
  }
  return hash.digest("hex").slice(0, 16)
}

/**
 * A directory with `bin/opencode`, prepared from `options.opencode` (cached by content hash). The stock flavour runs
 * the patch tool with an empty series file, so both flavours start the same way.
 */
export function prepare(options: PrepareOptions): string {
  const flavour = options.flavour ?? "patched"
  const cacheRoot = options.cacheRoot ?? process.env.COMBINED_MODELS_E2E_CACHE ?? "/tmp/combined-models-e2e"
  const artifact = options.artifact ?? defaultArtifact()
  const out = join(cacheRoot, `${flavour}-${artifact}-${preparationHash(options)}`)
  if (existsSync(join(out, "bin/opencode"))) return out
  mkdirSync(cacheRoot, { recursive: true })
  const args = ["run", "patch", "prepare", "--out", out, "--opencode", options.opencode]
  if (artifact === "binary") args.push("--binary", "--models", CATALOG_PATH)
  // Stock: the same tool and launcher with an empty series (the engine is still copied in, and unused).
  let stockPatches: string | undefined
  if (flavour === "stock") {
    stockPatches = join(cacheRoot, `stock-patches-${process.pid}`)
    mkdirSync(stockPatches, { recursive: true })
    const pin = join(REPO_ROOT, "patches/upstream.json")
    if (existsSync(pin)) writeFileSync(join(stockPatches, "upstream.json"), readFileSync(pin))
    writeFileSync(join(stockPatches, "series"), "")
    args.push("--patches", stockPatches)
  }
  args.push(...(options.extraArgs ?? []))
  const started = Date.now()
  const result = spawnSync("bun", args, { cwd: REPO_ROOT, encoding: "utf8", timeout: options.timeoutMs ?? 600_000 })
  if (stockPatches) rmSync(stockPatches, { recursive: true, force: true })
  // The launcher holds absolute paths, so the copy is prepared in place; the patch tool writes bin/opencode last.
  if (result.status !== 0 || !existsSync(join(out, "bin/opencode"))) {
    rmSync(out, { recursive: true, force: true })
    throw new Error(
      `bun ${args.join(" ")} failed (exit ${result.status}, ${result.signal ?? "no signal"}):\n${result.stdout}\n${result.stderr}`,
    )
  }
  if (process.env.COMBINED_MODELS_E2E_QUIET !== "1")
    console.warn(`e2e: prepared ${flavour} OpenCode (${artifact}) in ${out} (${((Date.now() - started) / 1000).toFixed(1)} s)`)
  return out
}

let preparedDir: string | undefined

/**
 * The OpenCode tree behind a prepared dir (for upstream's own tests): `<dir>/opencode` as the patch tool lays it out,
 * `<dir>/tree` (a symlink next to a dev wrapper), `$OPENCODE_TREE`, or the dir itself.
 */
export function preparedTree(prepared: string): string | undefined {
  const candidates = [join(prepared, "opencode"), join(prepared, "tree"), process.env.OPENCODE_TREE, prepared]
  return candidates.find((dir): dir is string => dir !== undefined && existsSync(join(dir, "packages/opencode/package.json")))
}

/** A directory whose `bin/opencode` is the given binary, as every other source of OpenCode is laid out. */
function binaryDir(binary: string): string {
  const dir = mkdtempSync(join(tmpdir(), "cm-e2e-binary-"))
  mkdirSync(join(dir, "bin"))
  symlinkSync(binary, join(dir, "bin/opencode"))
  return dir
}

/** The patched OpenCode for this run: OPENCODE_BINARY, OPENCODE_PREPARED, or OPENCODE_SRC prepared once (and cached). */
export function preparedOpencode(): string {
  if (preparedDir) return preparedDir
  if (process.env.OPENCODE_BINARY) preparedDir = binaryDir(resolve(process.env.OPENCODE_BINARY))
  else if (process.env.OPENCODE_PREPARED) preparedDir = resolve(process.env.OPENCODE_PREPARED)
  else if (process.env.OPENCODE_SRC) preparedDir = prepare({ opencode: resolve(process.env.OPENCODE_SRC) })
  else throw new Error(e2e.reason ?? "e2e is not enabled")
  return preparedDir
}

// ---------------------------------------------------------------------------------------------------------------------
// Hermetic environments

export type EnvOptions = {
  /** The prepared dir whose `bin/opencode` runs; default `preparedOpencode()`. */
  prepared?: string
  /** Merged over the generated config (top-level keys replace). */
  config?: Record<string, unknown>
  /** A simulator to share (the caller stops it); default: one per environment. */
  simulator?: Simulator
  /** Per-process environment additions. */
  env?: Record<string, string>
}

export type RunOptions = {
  /** Kill the process group after this long; default 60 s. */
  timeoutMs?: number
  /** Extra environment for this process. */
  env?: Record<string, string>
  /** Send `signal` once `when()` holds (polled every 25 ms), `afterMs` later. */
  interrupt?: { when: () => boolean; afterMs?: number; signal?: NodeJS.Signals }
}

export type RunResult = {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
  /** stdout + stderr, without ANSI escapes. */
  output: string
  elapsedMs: number
  timedOut: boolean
}

/** One message of `opencode export`, as far as the tests read it (hooks §1.5). */
export type ExportedPart = {
  id: string
  type: string
  text?: string
  tool?: string
  callID?: string
  state?: { status: string; input?: unknown; output?: unknown; error?: unknown }
  [key: string]: unknown
}
export type ExportedMessage = {
  info: {
    id: string
    role: "user" | "assistant"
    providerID?: string
    modelID?: string
    model?: { providerID: string; modelID: string }
    finish?: string
    error?: { name: string; data?: { message?: string; statusCode?: number; [key: string]: unknown } }
    parentID?: string
    summary?: boolean
    [key: string]: unknown
  }
  parts: ExportedPart[]
}
export type ExportedSession = { info: { id: string; title: string; [key: string]: unknown }; messages: ExportedMessage[] }

export type SessionSummary = { id: string; title: string; updated: number; created: number; directory: string }

export type Tui = {
  /** The visible screen, plain text. */
  screen(): string
  /** tmux send-keys: literal text with `literal`, otherwise key names (`Enter`, `Escape`, `C-c`). */
  send(keys: string[], options?: { literal?: boolean }): void
  /** Polls the screen until `test` matches; throws with the last screen after `timeoutMs`. */
  waitFor(test: RegExp | ((screen: string) => boolean), timeoutMs?: number): Promise<string>
  close(): void
}

export type Env = AsyncDisposable & {
  root: string
  project: string
  configPath: string
  sim: Simulator
  /** The environment every process gets. */
  vars: Record<string, string>
  /** `opencode <args>` in the project directory. */
  opencode(args: string[], options?: RunOptions): Promise<RunResult>
  /** `opencode run <message> --model combined/claude-sonnet-4-5 [extra]`. */
  run(message: string, options?: RunOptions & { session?: string; model?: string; extra?: string[] }): Promise<RunResult>
  /** `opencode export <id>`, parsed. */
  exportSession(sessionID: string): Promise<ExportedSession>
  /** `opencode session list --format json`. */
  sessions(): Promise<SessionSummary[]>
  /** The newest session's id (the one a `run` just created). */
  latestSession(): Promise<string>
  /** The TUI in a private tmux server. */
  tui(args?: string[], options?: { width?: number; height?: number }): Promise<Tui>
  dispose(): Promise<void>
}

const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007/g
export const stripAnsi = (text: string) => text.replace(ANSI, "")

/** Requests that carry tools (`tools`; Bedrock's `toolConfig.tools`): the agent's own steps, never the title call. */
export function isMainRequest(request: RecordedRequest): boolean {
  const body = request.body
  if (typeof body !== "object" || body === null) return false
  const record = body as { tools?: unknown; toolConfig?: { tools?: unknown } }
  const tools = record.tools ?? record.toolConfig?.tools
  return Array.isArray(tools) ? tools.length > 0 : tools !== undefined && tools !== null
}

/** Main-step requests a provider received. */
export function mainRequests(sim: Simulator, id: ProviderId): RecordedRequest[] {
  return sim.requests(id).filter(isMainRequest)
}

/** Script steps that only the agent's main requests consume (title calls get the default answer). */
export function scriptMain(sim: Simulator, id: ProviderId, steps: readonly SimStep[]): void {
  sim.script(id, steps, { match: isMainRequest })
}

export function opencodeConfig(sim: Simulator, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    $schema: "https://opencode.ai/config.json",
    share: "disabled",
    autoupdate: false,
    // Zero-model catalog providers crash the TUI (hooks §1.7).
    disabled_providers: ["moonshotai-cn", "xiaomi-token-plan-ams", "xiaomi-token-plan-sgp"],
    provider_priority: [...PRIORITY],
    provider: {
      anthropic: { options: { baseURL: sim.baseURL("anthropic"), apiKey: "sk-ant-loopback" } },
      // Copilot as OpenCode's Copilot plugin sets it up: OpenCode's own @ai-sdk/github-copilot (chat, or Responses
      // for GPT-5 models), and @ai-sdk/anthropic for the Claude models Copilot serves over /v1/messages.
      // The plugin rewrites each catalog model's npm; here the models the tests use get what it would give them.
      "github-copilot": {
        models: {
          "claude-sonnet-4.5": { provider: { npm: "@ai-sdk/anthropic" } },
          "gpt-5.2": { provider: { npm: "@ai-sdk/github-copilot" } },
        },
        options: { baseURL: sim.baseURL("github-copilot"), apiKey: "gho-loopback" },
      },
      openrouter: { options: { baseURL: sim.baseURL("openrouter"), apiKey: "sk-or-loopback" } },
      // Bedrock's own SDK, as a user's: a Bedrock API key (bearer token) and the endpoint on the loopback.
      "amazon-bedrock": {
        models: { [BEDROCK_MODEL]: {} },
        options: { endpoint: sim.baseURL("amazon-bedrock"), apiKey: "bedrock-loopback", region: "us-east-1" },
      },
    },
    ...extra,
  }
}

let tmuxCounter = 0

export async function createEnv(options: EnvOptions = {}): Promise<Env> {
  const prepared = options.prepared ?? preparedOpencode()
  const bin = join(prepared, "bin/opencode")
  const root = mkdtempSync(join(tmpdir(), "cm-e2e-"))
  const project = join(root, "project")
  const dirs = {
    home: join(root, "home"),
    config: join(root, "xdg/config"),
    data: join(root, "xdg/data"),
    cache: join(root, "xdg/cache"),
    state: join(root, "xdg/state"),
  }
  for (const dir of [project, ...Object.values(dirs)]) mkdirSync(dir, { recursive: true })
  spawnSync("git", ["init", "-q", project])
  writeFileSync(join(project, "README.md"), "# e2e project\n")

  const ownSim = options.simulator === undefined
  const sim = options.simulator ?? (await startSimulator())
  for (const id of PRIORITY) sim.addProvider(id, WIRES[id])

  const configPath = join(root, "opencode.json")
  writeFileSync(configPath, JSON.stringify(opencodeConfig(sim, options.config), null, 2))

  const vars: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    TERM: "xterm-256color",
    LANG: process.env.LANG ?? "C.UTF-8",
    HOME: dirs.home,
    XDG_CONFIG_HOME: dirs.config,
    XDG_DATA_HOME: dirs.data,
    XDG_CACHE_HOME: dirs.cache,
    XDG_STATE_HOME: dirs.state,
    OPENCODE_CONFIG: configPath,
    OPENCODE_DISABLE_MODELS_FETCH: "1",
    OPENCODE_MODELS_PATH: CATALOG_PATH,
    OPENCODE_DISABLE_AUTOUPDATE: "1",
    OPENCODE_DISABLE_DEFAULT_PLUGINS: "1",
    OPENCODE_DISABLE_LSP_DOWNLOAD: "1",
    OPENCODE_DISABLE_EXTERNAL_SKILLS: "1",
    OPENCODE_DISABLE_CLAUDE_CODE: "1",
    OPENCODE_DISABLE_PROJECT_CONFIG: "1",
    // Copilot's credential known before OpenCode's provider loaders run, as for a signed-in user: its model loader
    // (Responses for GPT-5 models, chat for the rest) then applies, as in a real session.
    GITHUB_TOKEN: "gho-loopback",
    // Nothing leaves the machine: no proxy, loopback only.
    NO_PROXY: "127.0.0.1,localhost",
    ...options.env,
  }
  if (process.env.BUN_INSTALL) vars.BUN_INSTALL = process.env.BUN_INSTALL

  const live = new Set<number>()
  const tmuxSockets = new Set<string>()

  function killGroup(pid: number, signal: NodeJS.Signals) {
    try {
      process.kill(-pid, signal)
    } catch {
      // already gone
    }
  }

  function opencode(args: string[], runOptions: RunOptions = {}): Promise<RunResult> {
    const started = Date.now()
    const child = spawnProcess(bin, args, {
      cwd: project,
      env: { ...vars, ...runOptions.env },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    })
    const pid = child.pid
    if (pid === undefined) throw new Error(`could not start ${bin}`)
    live.add(pid)
    let stdout = ""
    let stderr = ""
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    let timedOut = false
    const timeout = setTimeout(() => {
      timedOut = true
      killGroup(pid, "SIGKILL")
    }, runOptions.timeoutMs ?? 60_000)
    let poll: ReturnType<typeof setInterval> | undefined
    if (runOptions.interrupt) {
      const { when, afterMs = 0, signal = "SIGINT" } = runOptions.interrupt
      poll = setInterval(() => {
        if (!when()) return
        clearInterval(poll)
        setTimeout(() => child.kill(signal), afterMs)
      }, 25)
    }
    return new Promise((resolvePromise) => {
      child.on("close", (code, signal) => {
        clearTimeout(timeout)
        if (poll) clearInterval(poll)
        // Whatever the process left behind in its group (a background npm, a worker) goes with it.
        killGroup(pid, "SIGKILL")
        live.delete(pid)
        resolvePromise({
          code,
          signal,
          stdout,
          stderr,
          output: stripAnsi(stdout + stderr),
          elapsedMs: Date.now() - started,
          timedOut,
        })
      })
    })
  }

  async function exportSession(sessionID: string): Promise<ExportedSession> {
    const result = await opencode(["export", sessionID], { timeoutMs: 30_000 })
    if (result.code !== 0) throw new Error(`opencode export ${sessionID} failed (${result.code}): ${result.output}`)
    const start = result.stdout.indexOf("{")
    return JSON.parse(result.stdout.slice(start)) as ExportedSession
  }

  async function sessions(): Promise<SessionSummary[]> {
    const result = await opencode(["session", "list", "--format", "json"], { timeoutMs: 30_000 })
    if (result.code !== 0) throw new Error(`opencode session list failed (${result.code}): ${result.output}`)
    const start = result.stdout.indexOf("[")
    return start === -1 ? [] : (JSON.parse(result.stdout.slice(start)) as SessionSummary[])
  }

  async function tui(args: string[] = [], size: { width?: number; height?: number } = {}): Promise<Tui> {
    const socket = `cm-e2e-${process.pid}-${++tmuxCounter}`
    const envFile = join(root, `tui-${tmuxCounter}.env`)
    writeFileSync(envFile, Object.entries(vars).map(([key, value]) => `export ${key}=${shellQuote(value)}`).join("\n") + "\n")
    const command = `. ${shellQuote(envFile)}; cd ${shellQuote(project)}; exec ${[bin, ...args].map(shellQuote).join(" ")}`
    const started = spawnSync("tmux", [
      "-L",
      socket,
      "-f",
      "/dev/null",
      "new-session",
      "-d",
      "-s",
      "e2e",
      "-x",
      String(size.width ?? 200),
      "-y",
      String(size.height ?? 50),
      "sh",
      "-c",
      command,
    ])
    if (started.status !== 0) throw new Error(`tmux failed: ${started.stderr}`)
    tmuxSockets.add(socket)
    const screen = () => spawnSync("tmux", ["-L", socket, "capture-pane", "-p", "-t", "e2e"], { encoding: "utf8" }).stdout ?? ""
    return {
      screen,
      send(keys, sendOptions = {}) {
        spawnSync("tmux", ["-L", socket, "send-keys", "-t", "e2e", ...(sendOptions.literal ? ["-l"] : []), ...keys])
      },
      async waitFor(test, timeoutMs = 30_000) {
        const deadline = Date.now() + timeoutMs
        let last = ""
        while (Date.now() < deadline) {
          last = screen()
          if (typeof test === "function" ? test(last) : test.test(last)) return last
          await Bun.sleep(150)
        }
        throw new Error(`TUI: ${String(test)} not seen within ${timeoutMs} ms; last screen:\n${last}`)
      },
      close() {
        killTmux(socket)
        tmuxSockets.delete(socket)
      },
    }
  }

  const env: Env = {
    root,
    project,
    configPath,
    sim,
    vars,
    opencode,
    run(message, runOptions = {}) {
      const args = ["run", message, "--model", runOptions.model ?? MODEL]
      if (runOptions.session) args.push("--session", runOptions.session)
      args.push(...(runOptions.extra ?? []))
      return opencode(args, runOptions)
    },
    exportSession,
    sessions,
    async latestSession() {
      const list = await sessions()
      const newest = [...list].sort((a, b) => b.updated - a.updated)[0]
      if (!newest) throw new Error("no session")
      return newest.id
    },
    tui,
    async dispose() {
      for (const socket of tmuxSockets) killTmux(socket)
      tmuxSockets.clear()
      for (const pid of live) killGroup(pid, "SIGKILL")
      live.clear()
      if (ownSim) await sim.stop()
      if (process.env.COMBINED_MODELS_E2E_KEEP !== "1") rmSync(root, { recursive: true, force: true })
    },
    [Symbol.asyncDispose]() {
      return env.dispose()
    },
  }
  return env
}

/** Stops a private tmux server and removes its socket file. */
function killTmux(socket: string): void {
  spawnSync("tmux", ["-L", socket, "kill-server"])
  const dir = process.env.TMUX_TMPDIR ?? "/tmp"
  rmSync(join(dir, `tmux-${process.getuid?.() ?? 0}`, socket), { force: true })
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`
}

// ---------------------------------------------------------------------------------------------------------------------
// Reading results

export function assistantMessages(session: ExportedSession): ExportedMessage[] {
  return session.messages.filter((message) => message.info.role === "assistant")
}

/** The session's final answer; a clear error when it has none. */
export function lastAssistant(session: ExportedSession): ExportedMessage {
  const last = assistantMessages(session).at(-1)
  if (!last) throw new Error(`no assistant message in ${JSON.stringify(session.messages.map((m) => m.info.role))}`)
  return last
}

/** A run as an assertion message: exit code, time and everything it printed. */
export function describeRun(result: RunResult): string {
  return `exit ${result.code} after ${result.elapsedMs} ms${result.timedOut ? " (timed out)" : ""}:\n${result.output}`
}

export function textOf(message: ExportedMessage): string {
  return message.parts
    .filter((part) => part.type === "text")
    .map((part) => part.text ?? "")
    .join("")
}

/** `> build · claude-sonnet-4-5 (github-copilot)` banners printed by `opencode run`, in order. */
export function banners(output: string): string[] {
  return stripAnsi(output)
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("> "))
}
