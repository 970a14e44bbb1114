/**
 * End-to-end harness for the OpenCode 2 edition: the released binary (`@opencode/cli-linux-x64` at the pinned
 * version, fetched from the npm registry by `packages/opencode2/scripts/binary.ts`), run hermetically (its own HOME,
 * XDG dirs and TMPDIR, no models fetch, no auto-update) against the loopback simulator, with the plugin installed by
 * the README's command (`bun run v2:install`). When the binary cannot be fetched, every test skips by name with the
 * reason.
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { startSimulator, type RecordedRequest, type Simulator, type Wire } from "../../../packages/combined-models/src/simulator/index.ts"
import { ensureBinary } from "../../../packages/opencode2/scripts/binary.ts"

export const REPO_ROOT = resolve(import.meta.dir, "../../..")
export const MODEL = "combined/claude-sonnet-4-5"

/** `OPENCODE2_VERSION=2.1.2` runs the suite against another release (the pin is in packages/opencode2/package.json). */
const fetched = ensureBinary({ version: process.env.OPENCODE2_VERSION || undefined, log: (line) => console.warn(`e2e v2: ${line}`) })
export const binary = fetched.ok ? fetched.path : undefined
export const skipReason = fetched.ok ? undefined : `the OpenCode 2 binary could not be fetched: ${fetched.reason}`
if (skipReason) console.warn(`e2e v2 tests skipped: ${skipReason}`)

/** Each provider on the wire OpenCode 2 speaks for it, with the bundled catalog's id of Claude Sonnet 4.5 there. */
export const PROVIDERS = {
  anthropic: { wire: "anthropic" as Wire, model: "claude-sonnet-4-5" },
  openrouter: { wire: "openrouter" as Wire, model: "anthropic/claude-sonnet-4.5" },
  "amazon-bedrock": { wire: "bedrock" as Wire, model: "anthropic.claude-sonnet-4-5-20250929-v1:0" },
  google: { wire: "google" as Wire, model: "gemini-3.5-flash" },
  openai: { wire: "responses" as Wire, model: "gpt-5" },
  /**
   * Declared in the config with a key and the loopback's address; its models are the binary's bundled catalog's (no
   * GitHub sign-in, so OpenCode 2's own Copilot plugin syncs no live model list). Its Claude entries there carry the
   * Anthropic Messages package: requests go to `<base>/messages`, as the live list sends Claude; the loopback's copilot
   * wire answers each of Copilot's paths in its API's shape. The bundled Copilot has Claude Sonnet 4.6, not 4.5.
   */
  "github-copilot": { wire: "copilot" as Wire, model: "claude-sonnet-4.6" },
} as const
export type ProviderID = keyof typeof PROVIDERS

export interface RunResult {
  exitCode: number
  stdout: string
  stderr: string
  /** `--format json` events, one a line. */
  events: Record<string, unknown>[]
  /** The session the run wrote to (from its events). */
  sessionID: string | undefined
  /** The answer's text parts, in order. */
  texts: string[]
  /** Error events. */
  errors: Record<string, unknown>[]
  ms: number
}

export interface V2Env extends AsyncDisposable {
  root: string
  sim: Simulator
  env: Record<string, string>
  project: string
  configFile: string
  requests(provider: ProviderID): RecordedRequest[]
  /** `opencode run`; `session`: continue that session (`--session`), a process a turn as a user's scripts run it. */
  run(prompt: string, options?: { model?: string; timeoutMs?: number; session?: string }): Promise<RunResult>
  /** The plugin's status view from the CLI (`opencode api --standalone … status`): a process of its own, no model called. */
  status(sessionID?: string): { exitCode: number; text: string; output: Record<string, unknown> | undefined; stderr: string }
  /** Any other `opencode` command (`models`, `plugin list`), in the project. */
  exec(args: string[]): { exitCode: number; stdout: string; stderr: string }
  /** OpenCode's own log (where a plugin's failure to load is written). */
  opencodeLog(): string
}

export interface EnvOptions {
  /** Install the plugin with the README's command (default true): false is stock OpenCode 2. */
  plugin?: boolean
  providers?: ProviderID[]
  /** `provider_priority`; default the order of `providers`. */
  priority?: string[]
  /** More plugin options (`combined_models`). */
  options?: Record<string, unknown>
  /** Providers whose endpoint refuses connections (a closed loopback port). */
  refused?: ProviderID[]
  /** Share HOME/XDG dirs (and so the state dir) with another env: two machines' processes are one machine's here. */
  root?: string
}

/** Only the step's real request (it carries tools), not OpenCode's title request, consumes a scripted step. */
export const withTools = (request: RecordedRequest) => {
  const body = request.body as Record<string, unknown> | undefined
  return Array.isArray(body?.tools) && (body.tools as unknown[]).length > 0 || Array.isArray((body as { toolConfig?: { tools?: unknown[] } })?.toolConfig?.tools)
}

export async function v2Env(options: EnvOptions = {}): Promise<V2Env> {
  if (!binary) throw new Error(skipReason)
  const providers = options.providers ?? ["anthropic", "openrouter"]
  const root = options.root ?? mkdtempSync(join(tmpdir(), "cm-v2-e2e-"))
  const home = join(root, "home")
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_DATA_HOME: join(home, ".local/share"),
    XDG_CACHE_HOME: join(home, ".cache"),
    XDG_STATE_HOME: join(home, ".local/state"),
    TMPDIR: join(root, "tmp"),
    OPENCODE_DISABLE_MODELS_FETCH: "1",
    OPENCODE_DISABLE_AUTOUPDATE: "1",
    NO_COLOR: "1",
  }
  const project = join(root, "project")
  for (const dir of [env.XDG_CONFIG_HOME!, env.XDG_DATA_HOME!, env.XDG_CACHE_HOME!, env.XDG_STATE_HOME!, env.TMPDIR!, project]) mkdirSync(dir, { recursive: true })
  const sim = await startSimulator()
  const closedPort = await freePort()
  const baseURL = (id: ProviderID) => (options.refused?.includes(id) ? `http://127.0.0.1:${closedPort}/${id}/v1` : sim.baseURL(id))
  for (const id of providers) sim.addProvider(id, PROVIDERS[id].wire)
  const configFile = join(env.XDG_CONFIG_HOME!, "opencode", "opencode.json")

  if (options.plugin !== false) {
    // The README's install command, as a user runs it.
    const priority = options.priority ?? providers
    const installed = spawnSync("bun", ["run", "v2:install", "--", "--priority", priority.join(",")], { cwd: REPO_ROOT, env: { ...process.env, ...env }, encoding: "utf8" })
    if (installed.status !== 0) throw new Error(`bun run v2:install failed: ${installed.stderr}${installed.stdout}`)
  }
  mkdirSync(join(env.XDG_CONFIG_HOME!, "opencode"), { recursive: true })
  let config: Record<string, any> = {}
  try {
    config = JSON.parse(readFileSync(configFile, "utf8")) ?? {}
  } catch {}
  config.providers = Object.fromEntries(
    providers.map((id) => [
      id,
      id === "amazon-bedrock"
        ? {
            settings: { baseURL: baseURL(id).replace(/\/v1$/, ""), apiKey: `key-${id}`, auth: "bearer", region: "us-east-1" },
            models: { [PROVIDERS[id].model]: { name: "Claude Sonnet 4.5", modelID: PROVIDERS[id].model, family: "claude-sonnet", limit: { context: 200000, output: 64000 }, capabilities: { tools: true, input: ["text", "image"], output: ["text"] } } },
          }
        : id === "openai"
          ? // OpenCode 2 talks to OpenAI over a WebSocket by default; the loopback speaks the Responses API over HTTP.
            { settings: { baseURL: baseURL(id), apiKey: `key-${id}`, transport: "http" } }
          : { settings: { baseURL: baseURL(id), apiKey: `key-${id}` } },
    ]),
  )
  if (options.options && Array.isArray(config.plugins))
    for (const entry of config.plugins) if (typeof entry === "object") entry.options = { ...entry.options, ...options.options }
  writeFileSync(configFile, JSON.stringify(config, null, 2))

  const children = new Set<number>()
  return {
    root,
    sim,
    env,
    project,
    configFile,
    requests: (provider) => sim.requests(provider),
    exec(args) {
      const result = spawnSync(binary!, args, { cwd: project, env, encoding: "utf8", timeout: 60_000 })
      return { exitCode: result.status ?? -1, stdout: result.stdout ?? "", stderr: result.stderr ?? "" }
    },
    opencodeLog() {
      const dir = join(env.XDG_DATA_HOME!, "opencode", "log")
      try {
        return readdirSync(dir)
          .map((name) => readFileSync(join(dir, name), "utf8"))
          .join("\n")
      } catch {
        return ""
      }
    },
    async run(prompt, runOptions = {}) {
      const started = Date.now()
      const session = runOptions.session ? ["--session", runOptions.session] : []
      const child = spawn(binary!, ["run", "--standalone", "--format", "json", "--auto", "-m", runOptions.model ?? MODEL, ...session, prompt], {
        cwd: project,
        env,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      })
      if (child.pid) children.add(child.pid)
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (chunk) => (stdout += chunk))
      child.stderr.on("data", (chunk) => (stderr += chunk))
      const timer = setTimeout(() => child.pid && process.kill(-child.pid, "SIGKILL"), runOptions.timeoutMs ?? 90_000)
      const exitCode: number = await new Promise((done) => child.on("close", (code) => done(code ?? -1)))
      clearTimeout(timer)
      if (child.pid) children.delete(child.pid)
      const events = stdout
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>]
          } catch {
            return []
          }
        })
      const texts = events.flatMap((event) => (event.type === "text" ? [String((event.part as { text?: string })?.text ?? "")] : []))
      const errors = events.filter((event) => event.type === "error")
      const sessionID = events.map((event) => event.sessionID).find((id): id is string => typeof id === "string")
      return { exitCode, stdout, stderr, events, sessionID, texts, errors, ms: Date.now() - started }
    },
    status(sessionID) {
      const input = sessionID ? { sessionID } : {}
      const result = spawnSync(binary!, ["api", "--standalone", "POST", "/api/rpc/combined-models/status", "-d", JSON.stringify({ input })], { cwd: project, env, encoding: "utf8", timeout: 90_000 })
      let output: Record<string, unknown> | undefined
      try {
        output = (JSON.parse(result.stdout) as { output?: Record<string, unknown> }).output
      } catch {}
      return { exitCode: result.status ?? -1, text: typeof output?.text === "string" ? output.text : "", output, stderr: result.stderr ?? "" }
    },
    async [Symbol.asyncDispose]() {
      for (const pid of children)
        try {
          process.kill(-pid, "SIGKILL")
        } catch {}
      await sim.stop()
      if (!options.root) rmSync(root, { recursive: true, force: true })
    },
  }
}

export const hasTmux = spawnSync("tmux", ["-V"], { encoding: "utf8" }).status === 0

/** The TUI in a detached tmux session of 200×50, on the combined model; `screen()` is what it shows. */
export async function tui(env: V2Env) {
  const config = JSON.parse(readFileSync(env.configFile, "utf8"))
  config.model = "combined/claude-sonnet-4-5"
  writeFileSync(env.configFile, JSON.stringify(config, null, 2))
  const session = `cm-v2-tui-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  const tmux = (...args: string[]) => spawnSync("tmux", args, { encoding: "utf8" })
  const screen = () => tmux("capture-pane", "-p", "-t", session).stdout ?? ""
  const until = async (what: (text: string) => boolean, ms = 30_000) => {
    for (const started = Date.now(); Date.now() - started < ms; await Bun.sleep(250)) if (what(screen())) return screen()
    return screen()
  }
  const command = ["env", "-i", ...Object.entries(env.env).map(([key, value]) => `${key}=${value}`), binary!, "--standalone", "--auto"]
  tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", "-c", env.project, command.map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(" "))
  await until((text) => text.includes("Claude Sonnet 4.5 Combined"))
  return {
    screen,
    until,
    type: (text: string) => tmux("send-keys", "-t", session, "-l", text),
    key: (name: string) => tmux("send-keys", "-t", session, name),
    [Symbol.dispose]: () => void tmux("kill-session", "-t", session),
  }
}

/** A loopback port nothing listens on: bound, read, and closed again. */
async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } })
  const port = server.port
  server.stop(true)
  return port
}
