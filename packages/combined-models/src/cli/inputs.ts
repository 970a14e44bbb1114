/**
 * Reading what the user points the CLI at: a models.dev catalog and an opencode.json. Every failure is a message
 * naming the file and what is wrong with it, never a stack trace.
 */
import { fromModelsDev, type CatalogResult } from "../catalog.ts"
import { DEFAULTS, resolveConfig, type ConfigProblem, type ResolvedConfig } from "../config.ts"

export type Loaded<T> = { ok: true; value: T; warnings: string[] } | { ok: false; message: string }

/** JSONC as OpenCode accepts it: `//` and `/* *\/` comments and trailing commas, strings left intact. */
export function parseJsonc(text: string): unknown {
  let out = ""
  let index = 0
  while (index < text.length) {
    const char = text[index]!
    if (char === '"') {
      let end = index + 1
      while (end < text.length && text[end] !== '"') end += text[end] === "\\" ? 2 : 1
      out += text.slice(index, end + 1)
      index = end + 1
    } else if (char === "/" && text[index + 1] === "/") {
      while (index < text.length && text[index] !== "\n") index++
    } else if (char === "/" && text[index + 1] === "*") {
      const end = text.indexOf("*/", index + 2)
      index = end === -1 ? text.length : end + 2
    } else {
      out += char
      index++
    }
  }
  return JSON.parse(out.replace(/,(\s*[}\]])/g, "$1"))
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
    return { ok: true, value: jsonc ? parseJsonc(text) : JSON.parse(text), warnings: [] }
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

/** `provider_priority` and `combined_models` out of an opencode.json; defaults when no file is given. */
export async function loadConfig(path: string | undefined, configuredProviders: readonly string[]): Promise<Loaded<ResolvedConfig>> {
  if (path === undefined) return { ok: true, value: DEFAULTS, warnings: [] }
  const file = await readJsonFile(path, "config", true)
  if (!file.ok) return file
  const resolved = resolveConfig(file.value, { configuredProviders })
  const warnings = resolved.warnings.map(formatProblem)
  if (!resolved.ok) return { ok: false, message: [`config ${path} is invalid:`, ...resolved.errors.map((e) => `  ${formatProblem(e)}`)].join("\n") }
  return { ok: true, value: resolved.config, warnings }
}

export function formatProblem(problem: ConfigProblem): string {
  return `${problem.path}: ${problem.message}`
}
