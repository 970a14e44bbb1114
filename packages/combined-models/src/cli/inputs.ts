/**
 * Reading what the user points the CLI at: a models.dev catalog and an opencode.json. Every failure is a message
 * naming the file and what is wrong with it, never a stack trace.
 */
import { createHash } from "node:crypto"
import { existsSync } from "node:fs"
import { homedir } from "node:os"
import { dirname, isAbsolute, join, resolve } from "node:path"
import { parse, printParseErrorCode, type ParseError } from "jsonc-parser"
import { mergeDeep } from "remeda"
import { isRecord } from "../record.ts"
import { fromModelsDev, type CatalogResult } from "../catalog.ts"
import { DEFAULTS, resolveConfig, type ConfigProblem, type ResolvedConfig } from "../config.ts"

export type Loaded<T> = { ok: true; value: T; warnings: string[] } | { ok: false; message: string }

/**
 * JSONC as OpenCode reads it: `jsonc-parser` (the parser OpenCode uses), comments and trailing commas allowed, strings
 * left exactly as written. Throws with each error's line and column.
 */
export function parseJsonc(text: string): unknown {
  const errors: ParseError[] = []
  const data = parse(text, errors, { allowTrailingComma: true })
  if (errors.length === 0) return data
  const where = (offset: number) => {
    const before = text.slice(0, offset).split("\n")
    return `line ${before.length}, column ${before.at(-1)!.length + 1}`
  }
  throw new Error(errors.map((error) => `${printParseErrorCode(error.error)} at ${where(error.offset)}`).join("; "))
}

/**
 * OpenCode's `{env:VAR}` and `{file:path}` substitutions in config text (config/variable.ts at the pin), applied before
 * parsing: an unset variable becomes empty, a file path is relative to the config's directory (`~/` is home), its
 * content trimmed and inserted as a JSON string's content, and a `{file:…}` on a `//` comment line is left alone. The
 * CLI runs without OpenCode, so this is the one place that repeats it.
 */
export async function substituteVariables(text: string, options: { configPath: string; env?: Record<string, string | undefined> }): Promise<string> {
  const env = options.env ?? process.env
  const substituted = text.replace(/\{env:([^}]+)\}/g, (_, name: string) => env[name] || "")
  let out = ""
  let cursor = 0
  for (const match of substituted.matchAll(/\{file:[^}]+\}/g)) {
    const token = match[0]
    const index = match.index
    out += substituted.slice(cursor, index)
    cursor = index + token.length
    const lineStart = substituted.lastIndexOf("\n", index - 1) + 1
    if (substituted.slice(lineStart, index).trimStart().startsWith("//")) {
      out += token
      continue
    }
    let file = token.slice("{file:".length, -1)
    if (file.startsWith("~/")) file = join(homedir(), file.slice(2))
    const resolved = isAbsolute(file) ? file : resolve(dirname(options.configPath), file)
    const content = await Bun.file(resolved)
      .text()
      .catch(() => {
        throw new Error(`bad file reference: "${token}": ${resolved} cannot be read`)
      })
    out += JSON.stringify(content.trim()).slice(1, -1)
  }
  return out + substituted.slice(cursor)
}

export async function readJsonFile(path: string, what: string, jsonc: boolean): Promise<Loaded<unknown>> {
  const file = Bun.file(path)
  if (!(await file.exists())) return { ok: false, message: `${what} ${path}: no such file` }
  let text: string
  try {
    text = await file.text()
  } catch (error) {
    return { ok: false, message: `${what} ${path}: cannot read it (${error instanceof Error ? error.message : String(error)})` }
  }
  try {
    return { ok: true, value: jsonc ? parseJsonc(await substituteVariables(text, { configPath: path })) : JSON.parse(text), warnings: [] }
  } catch (error) {
    return { ok: false, message: `${what} ${path}: not valid JSON (${error instanceof Error ? error.message : String(error)})` }
  }
}

/**
 * The catalog OpenCode itself reads (core/src/models-dev.ts at the pin): `OPENCODE_MODELS_PATH` when set, else the copy
 * it keeps in its cache dir, `$XDG_CACHE_HOME/opencode/models.json` (`models-<sha1 of the URL>.json` when
 * `OPENCODE_MODELS_URL` points elsewhere). OpenCode writes it on its first run; undefined while it is not there.
 */
export function openCodeCatalogPath(env: Record<string, string | undefined> = process.env): string | undefined {
  if (env.OPENCODE_MODELS_PATH) return existsSync(env.OPENCODE_MODELS_PATH) ? env.OPENCODE_MODELS_PATH : undefined
  const source = env.OPENCODE_MODELS_URL || "https://models.opencode.ai"
  const name = source === "https://models.opencode.ai" ? "models.json" : `models-${createHash("sha1").update(source).digest("hex")}.json`
  const path = join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache"), "opencode", name)
  return existsSync(path) ? path : undefined
}

/** A models.dev api.json from a file, or the given embedded one. */
export async function loadCatalog(path: string | undefined, embedded?: unknown): Promise<Loaded<CatalogResult["providers"]>> {
  let raw: unknown = embedded
  if (path !== undefined) {
    const file = await readJsonFile(path, "catalog", false)
    if (!file.ok) return file
    raw = file.value
  }
  if (raw === undefined) return { ok: false, message: "--catalog is required: a models.dev api.json (https://models.dev/api.json)" }
  const catalog = fromModelsDev(raw)
  if (catalog.providers.length === 0) {
    const why = catalog.problems[0] ? `${catalog.problems[0].path}: ${catalog.problems[0].message}` : "it lists no providers"
    return { ok: false, message: `catalog ${path ?? "(embedded)"} is not a models.dev api.json (${why})` }
  }
  return {
    ok: true,
    value: catalog.providers,
    warnings: catalog.problems.map((problem) => `catalog ${problem.path}: ${problem.message}`),
  }
}

/**
 * The config files OpenCode reads, in the order it merges them (config/config.ts and config/paths.ts at the pin): the
 * global `config.json`, `opencode.json`, `opencode.jsonc` in `$XDG_CONFIG_HOME/opencode`; then `OPENCODE_CONFIG`; then,
 * unless `OPENCODE_DISABLE_PROJECT_CONFIG`, every `opencode.jsonc` / `opencode.json` from the git worktree's root down
 * to the working directory. Only files that exist.
 */
export function configFilesOpenCodeReads(options: { cwd?: string; env?: Record<string, string | undefined> } = {}): string[] {
  const env = options.env ?? process.env
  const cwd = resolve(options.cwd ?? process.cwd())
  const globalDir = join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config"), "opencode")
  const files = ["config.json", "opencode.json", "opencode.jsonc"].map((name) => join(globalDir, name))
  if (env.OPENCODE_CONFIG) files.push(resolve(cwd, env.OPENCODE_CONFIG))
  const truthy = (value: string | undefined) => value?.toLowerCase() === "true" || value === "1"
  if (!truthy(env.OPENCODE_DISABLE_PROJECT_CONFIG)) {
    const levels: string[] = []
    for (let dir = cwd; ; dir = dirname(dir)) {
      levels.push(dir)
      if (existsSync(join(dir, ".git")) || dirname(dir) === dir) break
    }
    for (const dir of levels.reverse()) files.push(join(dir, "opencode.jsonc"), join(dir, "opencode.json"))
  }
  return [...new Set(files)].filter((file) => existsSync(file))
}

/**
 * An opencode.json as OpenCode reads it (JSONC, substitutions). Without `--config`, the files OpenCode itself would
 * read, merged the way it merges them (later files win, objects merged, lists replaced); `{}` when there are none.
 */
export async function loadConfigFile(
  path: string | undefined,
  options: { cwd?: string; env?: Record<string, string | undefined> } = {},
): Promise<Loaded<unknown>> {
  if (path !== undefined) return readJsonFile(path, "config", true)
  let merged: Record<string, unknown> = {}
  const files = configFilesOpenCodeReads(options)
  for (const file of files) {
    const read = await readJsonFile(file, "config", true)
    if (!read.ok) return read
    if (isRecord(read.value)) merged = mergeDeep(merged, read.value) as Record<string, unknown>
  }
  return { ok: true, value: merged, warnings: files.length ? [`config: read ${files.join(", ")}`] : [] }
}

/**
 * `provider_priority` and `combined_models` out of an opencode.json (`read`: what `loadConfigFile` read, OpenCode's
 * own files when no path was given); defaults when there is nothing.
 */
export async function loadConfig(
  path: string | undefined,
  configuredProviders: readonly string[],
  read?: Loaded<unknown>,
): Promise<Loaded<ResolvedConfig>> {
  const file = read ?? (path === undefined ? undefined : await readJsonFile(path, "config", true))
  if (!file) return { ok: true, value: DEFAULTS, warnings: [] }
  if (!file.ok) return file
  const resolved = resolveConfig(file.value, { configuredProviders })
  const warnings = resolved.warnings.map(formatProblem)
  const what = path ?? "(OpenCode's config files)"
  if (!resolved.ok) return { ok: false, message: [`config ${what} is invalid:`, ...resolved.errors.map((e) => `  ${formatProblem(e)}`)].join("\n") }
  return { ok: true, value: resolved.config, warnings }
}

export function formatProblem(problem: ConfigProblem): string {
  return `${problem.path}: ${problem.message}`
}

/** One line for a `node:util` parseArgs error: which flag and what is wrong (every CLI here parses with it). */
export function usageProblem(error: unknown): string {
  const code = (error as { code?: string }).code
  const message = error instanceof Error ? error.message : String(error)
  const flag = /'(-{1,2}[^'\s=]+)/.exec(message)?.[1] ?? ""
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option ${flag}`
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE")
    return message.includes("does not take an argument") ? `${flag} takes no value` : `${flag} needs a value`
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") return `unexpected argument "${/'([^']+)'/.exec(message)?.[1] ?? ""}"`
  return message
}
