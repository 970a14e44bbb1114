/**
 * Reading what the user points the CLI at: a models.dev catalog and an opencode.json. Every failure is a message
 * naming the file and what is wrong with it, never a stack trace.
 */
import { homedir } from "node:os"
import { dirname, isAbsolute, join, resolve } from "node:path"
import { parse, printParseErrorCode, type ParseError } from "jsonc-parser"
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

/** An opencode.json as OpenCode reads it (JSONC, substitutions), or `{}` when no file is given. */
export async function loadConfigFile(path: string | undefined): Promise<Loaded<unknown>> {
  if (path === undefined) return { ok: true, value: {}, warnings: [] }
  return readJsonFile(path, "config", true)
}

/** `provider_priority` and `combined_models` out of an opencode.json; defaults when no file is given. */
export async function loadConfig(
  path: string | undefined,
  configuredProviders: readonly string[],
  read?: Loaded<unknown>,
): Promise<Loaded<ResolvedConfig>> {
  if (path === undefined) return { ok: true, value: DEFAULTS, warnings: [] }
  const file = read ?? (await readJsonFile(path, "config", true))
  if (!file.ok) return file
  const resolved = resolveConfig(file.value, { configuredProviders })
  const warnings = resolved.warnings.map(formatProblem)
  if (!resolved.ok) return { ok: false, message: [`config ${path} is invalid:`, ...resolved.errors.map((e) => `  ${formatProblem(e)}`)].join("\n") }
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
