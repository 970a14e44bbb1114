/**
 * Steering from the TUI: reorder, exclude or include a member of a combined model, written where OpenCode 2 keeps
 * this plugin's configuration (its entry's `options` in the `plugins` list of the global config), comments and
 * formatting kept. The change is checked with the same schema before anything is written. OpenCode 2 watches its
 * config and loads the plugin again with the new options when the file changes (measured on 2.2.5: the TUI routes its
 * next question in the new order), so the change applies at once in every OpenCode that reads this file.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { applyEdits, modify, parse, type ParseError } from "jsonc-parser"
import { resolveConfig } from "combined-models"
import { PROVIDER_ID } from "./catalog.ts"
import type { SteerInput } from "./rpc.ts"
import type { Router } from "./router.ts"

export type SteerResult = { ok: true; file: string; message: string } | { ok: false; message: string }

/** The global config file OpenCode 2 reads: `opencode.jsonc` or `opencode.json` in its config dir. */
export function globalConfigFile(env: Record<string, string | undefined> = process.env): string {
  const dir = join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config"), "opencode")
  for (const name of ["opencode.jsonc", "opencode.json"]) if (existsSync(join(dir, name))) return join(dir, name)
  return join(dir, "opencode.json")
}

function entryPackage(entry: unknown): string | undefined {
  const spec = typeof entry === "string" ? entry : typeof entry === "object" && entry !== null ? (entry as { package?: unknown }).package : undefined
  return typeof spec === "string" ? spec.replace(/^file:\/\//, "").replace(/\/+$/, "") : undefined
}

const FORMAT = { formattingOptions: { insertSpaces: true, tabSize: 2 } }

/** The config text with the change made to the plugin entry's options; pure, for the tests and `steer`. */
export function steerText(text: string, pluginDir: string, change: SteerInput & { current?: { exclude?: string[] } }): { ok: true; text: string } | { ok: false; message: string } {
  const errors: ParseError[] = []
  const config = parse(text, errors, { allowTrailingComma: true }) as Record<string, unknown> | undefined
  if (errors.length > 0 || typeof config !== "object" || config === null || Array.isArray(config)) return { ok: false, message: "the config file is not valid JSONC; fix it first, nothing changed" }
  const plugins = Array.isArray(config.plugins) ? config.plugins : []
  const index = plugins.findIndex((entry) => entryPackage(entry) === pluginDir.replace(/\/+$/, ""))
  if (index < 0) return { ok: false, message: `no plugins entry for ${pluginDir} in the config; install the plugin with bun run v2:install` }
  const entry = plugins[index]
  const options = (typeof entry === "object" && entry !== null ? (entry as { options?: Record<string, unknown> }).options : undefined) ?? {}
  const group = change.group.startsWith(`${PROVIDER_ID}/`) ? change.group.slice(PROVIDER_ID.length + 1) : change.group
  const base = ["plugins", index, "options", "combined_models", "groups", group]
  let next = text
  if (typeof entry === "string") next = applyEdits(next, modify(next, ["plugins", index], { package: entry, options: {} }, FORMAT))
  if (change.action === "priority") next = applyEdits(next, modify(next, [...base, "priority"], change.providers.length ? [...change.providers] : undefined, FORMAT))
  else {
    const rules = ((options.combined_models as { groups?: Record<string, { exclude?: unknown }> } | undefined)?.groups ?? {})[group]
    const current = Array.isArray(rules?.exclude) ? rules.exclude.filter((e): e is string => typeof e === "string") : []
    const excluded =
      change.action === "exclude" ? [...current, ...change.providers.filter((p) => !current.includes(p))] : current.filter((e) => !change.providers.includes(e))
    next = applyEdits(next, modify(next, [...base, "exclude"], excluded.length ? excluded : undefined, FORMAT))
  }
  const after = parse(next, [], { allowTrailingComma: true }) as { plugins?: { options?: unknown }[] }
  const resolved = resolveConfig(after.plugins?.[index]?.options ?? {})
  if (!resolved.ok) return { ok: false, message: `the change would make the plugin's options invalid (${resolved.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}); nothing changed` }
  return { ok: true, text: next }
}

export function steer(input: SteerInput, options: { router: Router; pluginDir?: string; env?: Record<string, string | undefined> }): SteerResult {
  const groupID = input.group.startsWith(`${PROVIDER_ID}/`) ? input.group.slice(PROVIDER_ID.length + 1) : input.group
  const group = options.router.groups.get(groupID)
  if (!group) return { ok: false, message: `no combined model ${PROVIDER_ID}/${groupID}; /combined lists them` }
  const unknown = input.providers.filter((p) => !group.providers.includes(p))
  if (unknown.length > 0) return { ok: false, message: `${unknown.join(", ")} ${unknown.length === 1 ? "is" : "are"} not a member of ${PROVIDER_ID}/${groupID} (members: ${group.providers.join(", ")})` }
  if (!options.pluginDir) return { ok: false, message: "the plugin does not know where it is installed; edit its options in the config by hand" }
  const file = globalConfigFile(options.env)
  let text: string
  try {
    text = readFileSync(file, "utf8")
  } catch (error) {
    return { ok: false, message: `cannot read ${file} (${(error as Error).message}); nothing changed` }
  }
  const result = steerText(text, options.pluginDir, { ...input, group: groupID })
  if (!result.ok) return result
  try {
    writeFileSync(file, result.text)
  } catch (error) {
    return { ok: false, message: `cannot write ${file} (${(error as Error).message}); nothing changed` }
  }
  const what =
    input.action === "priority" ? `order of ${PROVIDER_ID}/${groupID}: ${input.providers.join(", ")}` : `${input.providers.join(", ")} ${input.action === "exclude" ? "excluded from" : "included again in"} ${PROVIDER_ID}/${groupID}`
  return { ok: true, file, message: `${what}; written to ${file}, OpenCode loads the plugin again with it now` }
}
