import { readdirSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { PatchFormatError } from "./errors.ts"

/** Where the engine lives inside the OpenCode checkout, and how the opencode package depends on it. */
export const ENGINE_PACKAGE_PATH = "packages/combined-models"
export const OPENCODE_PACKAGE_JSON = "packages/opencode/package.json"
export const ENGINE_PACKAGE_NAME = "combined-models"
export const ENGINE_DEPENDENCY_SPEC = "workspace:*"
export const ENGINE_COMMIT_MESSAGE = "combined-models: add the engine package\n"

export interface EngineFile {
  /** Absolute path on disk. */
  source: string
  /** Path inside the OpenCode checkout, e.g. `packages/combined-models/src/index.ts`. */
  target: string
  mode: "100644" | "100755"
}

/**
 * What the engine commit copies: `package.json`, `config.schema.json` and `src/**`. Tests (`*.test.ts`, `test/`),
 * `node_modules` and dotfiles stay behind: OpenCode needs the runtime package, not our development tree.
 */
export function listEngineFiles(engineDir: string): EngineFile[] {
  const files: EngineFile[] = []
  const add = (source: string) => {
    const executable = (statSync(source).mode & 0o111) !== 0
    files.push({
      source,
      target: `${ENGINE_PACKAGE_PATH}/${relative(engineDir, source).split("\\").join("/")}`,
      mode: executable ? "100755" : "100644",
    })
  }
  for (const name of ["package.json", "config.schema.json"]) {
    const source = join(engineDir, name)
    if (statSync(source, { throwIfNoEntry: false })?.isFile()) add(source)
  }
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.name.startsWith(".") || entry.name === "node_modules" || entry.name === "test") continue
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.isFile() && !/\.test\.tsx?$/.test(entry.name)) add(path)
    }
  }
  const srcDir = join(engineDir, "src")
  if (statSync(srcDir, { throwIfNoEntry: false })?.isDirectory()) walk(srcDir)
  if (!files.some((file) => file.target === `${ENGINE_PACKAGE_PATH}/package.json`)) {
    throw new PatchFormatError(engineDir, "the engine directory has no package.json (is --engine right?)")
  }
  return files
}

/**
 * Adds `"combined-models": "workspace:*"` to the dependencies of OpenCode's package.json text at its sorted place.
 * Upstream's file is canonical 2-space JSON with a trailing newline (what JSON.stringify writes), so re-serialising
 * keeps every other byte; a file that is not canonical is refused rather than reformatted behind the user's back.
 */
export function addEngineDependency(packageJsonText: string): string {
  const data = parseCanonicalPackageJson(packageJsonText)
  const dependencies = (data.dependencies ?? {}) as Record<string, string>
  if (dependencies[ENGINE_PACKAGE_NAME] !== undefined) return packageJsonText
  const entries = Object.entries(dependencies)
  const at = entries.findIndex(([name]) => name > ENGINE_PACKAGE_NAME)
  entries.splice(at === -1 ? entries.length : at, 0, [ENGINE_PACKAGE_NAME, ENGINE_DEPENDENCY_SPEC])
  data.dependencies = Object.fromEntries(entries)
  return `${JSON.stringify(data, null, 2)}\n`
}

/** The inverse of `addEngineDependency`, so exported patches apply to a pristine upstream. */
export function removeEngineDependency(packageJsonText: string): string {
  const data = parseCanonicalPackageJson(packageJsonText)
  const dependencies = data.dependencies as Record<string, string> | undefined
  if (dependencies?.[ENGINE_PACKAGE_NAME] === undefined) return packageJsonText
  delete dependencies[ENGINE_PACKAGE_NAME]
  return `${JSON.stringify(data, null, 2)}\n`
}

function parseCanonicalPackageJson(text: string): Record<string, unknown> {
  const data = JSON.parse(text) as Record<string, unknown>
  if (`${JSON.stringify(data, null, 2)}\n` !== text) {
    throw new PatchFormatError(
      OPENCODE_PACKAGE_JSON,
      "is not formatted as 2-space JSON with a trailing newline, so adding the combined-models dependency would " +
        "reformat it; format it upstream's way (prettier) first",
    )
  }
  return data
}
