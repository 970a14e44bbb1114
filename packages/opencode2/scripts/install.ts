#!/usr/bin/env bun
/**
 * Installs the OpenCode 2 plugin for this user: bundles it into one file in OpenCode's global config directory
 * (`~/.config/opencode/combined-models/index.js`, outside `plugins/`, which OpenCode loads without options) and adds
 * it to the global config's `plugins` with its options (`provider_priority`, `combined_models`), comments kept.
 * Installing again updates the bundle and keeps the options. `--uninstall` removes both.
 *
 *   bun run v2:install [-- --priority anthropic,github-copilot] [--uninstall]
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { homedir } from "node:os"
import { join, resolve } from "node:path"
import { applyEdits, modify, parse, type ParseError } from "jsonc-parser"

export function configDir(env: Record<string, string | undefined> = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config"), "opencode")
}

/** The global config file OpenCode 2 reads: an existing `opencode.jsonc` or `opencode.json`, else a new `opencode.json`. */
export function configFile(dir: string): string {
  for (const name of ["opencode.jsonc", "opencode.json"]) if (existsSync(join(dir, name))) return join(dir, name)
  return join(dir, "opencode.json")
}

export const PLUGIN_DIR_NAME = "combined-models"

type Entry = string | { package?: string; options?: unknown }

function entryPackage(entry: Entry): string | undefined {
  const spec = typeof entry === "string" ? entry : entry?.package
  return typeof spec === "string" ? spec.replace(/^file:\/\//, "").replace(/\/+$/, "") : undefined
}

/** The config text with our entry added or updated (`options` kept), or removed. */
export function editConfig(text: string, pluginDir: string, change: { remove: true } | { options?: Record<string, unknown> }): string {
  const errors: ParseError[] = []
  const config = (text.trim() === "" ? {} : parse(text, errors, { allowTrailingComma: true })) as Record<string, unknown> | undefined
  if (errors.length > 0 || typeof config !== "object" || config === null || Array.isArray(config))
    throw new Error("the config file is not a JSON object; fix it first (OpenCode would not read it either)")
  const plugins: Entry[] = Array.isArray(config.plugins) ? (config.plugins as Entry[]) : []
  const index = plugins.findIndex((entry) => entryPackage(entry) === pluginDir)
  const format = { formattingOptions: { insertSpaces: true, tabSize: 2 } }
  const source = text.trim() === "" ? "{}\n" : text
  // The list is written whole without our entry: jsonc-parser's removal of one element breaks a one-line array.
  if ("remove" in change)
    return index < 0 ? text : applyEdits(source, modify(source, ["plugins"], plugins.filter((_, at) => at !== index), format))
  const old = index >= 0 ? plugins[index] : undefined
  const kept = typeof old === "object" && old !== null && typeof old.options === "object" && old.options !== null ? (old.options as Record<string, unknown>) : {}
  const entry = { package: pluginDir, options: { ...kept, ...(change.options ?? {}) } }
  const path = index >= 0 ? ["plugins", index] : ["plugins", plugins.length]
  if (!Array.isArray(config.plugins)) return applyEdits(source, modify(source, ["plugins"], [entry], format))
  return applyEdits(source, modify(source, path, entry, format))
}

export async function bundle(outDir: string): Promise<void> {
  mkdirSync(outDir, { recursive: true })
  const result = await Bun.build({
    entrypoints: [resolve(import.meta.dir, "../src/index.ts")],
    target: "bun",
    format: "esm",
    minify: false,
  })
  if (!result.success) throw new Error(`bundling the plugin failed: ${result.logs.map(String).join("; ")}`)
  const [output] = result.outputs
  if (!output) throw new Error("bundling the plugin produced nothing")
  writeFileSync(join(outDir, "index.js"), await output.text())
  // The TUI entry (footer, /combined): OpenCode 2 loads `<dir>/tui` beside the server entry and serves it its own
  // OpenTUI, Solid and plugin modules, so those stay imports.
  const tui = await Bun.build({
    entrypoints: [resolve(import.meta.dir, "../src/tui/index.ts")],
    target: "bun",
    format: "esm",
    minify: false,
    external: ["@opentui/*", "solid-js", "solid-js/*", "@opencode/plugin", "@opencode/plugin/*"],
  })
  if (!tui.success || !tui.outputs[0]) throw new Error(`bundling the plugin's TUI entry failed: ${tui.logs.map(String).join("; ")}`)
  writeFileSync(join(outDir, "tui.js"), await tui.outputs[0].text())
  writeFileSync(join(outDir, "package.json"), JSON.stringify({ name: "opencode-combined-models", type: "module", main: "index.js" }, null, 2) + "\n")
}

export async function install(options: { env?: Record<string, string | undefined>; uninstall?: boolean; pluginOptions?: Record<string, unknown> } = {}) {
  const dir = configDir(options.env)
  const pluginDir = join(dir, PLUGIN_DIR_NAME)
  const file = configFile(dir)
  const text = existsSync(file) ? readFileSync(file, "utf8") : ""
  if (options.uninstall) {
    if (text) writeFileSync(file, editConfig(text, pluginDir, { remove: true }))
    rmSync(pluginDir, { recursive: true, force: true })
    return { pluginDir, file }
  }
  await bundle(pluginDir)
  mkdirSync(dir, { recursive: true })
  writeFileSync(file, editConfig(text, pluginDir, { options: options.pluginOptions }))
  return { pluginDir, file }
}

if (import.meta.main) {
  const args = process.argv.slice(2)
  const uninstall = args.includes("--uninstall")
  const at = args.indexOf("--priority")
  const priority = at >= 0 ? args[at + 1]?.split(",").filter(Boolean) : undefined
  try {
    const { pluginDir, file } = await install({ uninstall, ...(priority ? { pluginOptions: { provider_priority: priority } } : {}) })
    console.log(uninstall ? `removed ${pluginDir} and its entry in ${file}` : `installed ${pluginDir}, listed in ${file} (plugins)`)
  } catch (error) {
    console.error(`combined-models: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  }
}
