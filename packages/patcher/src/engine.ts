import { readdirSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { PatchFormatError } from "./errors.ts"

/**
 * The packages the first commit copies into the checkout, from this repository's `packages/`: the engine, and the
 * OpenCode 1 adapter the patches import (it depends on the engine as a workspace package, as it does here).
 */
export interface CopiedPackage {
  /** Directory under this repository's `packages/`. */
  dir: string
  /** Path inside the OpenCode checkout. */
  path: string
  /** Its package.json name. */
  name: string
}
export const ENGINE_PACKAGE: CopiedPackage = { dir: "combined-models", path: "packages/combined-models", name: "combined-models" }
export const ADAPTER_PACKAGE: CopiedPackage = {
  dir: "opencode1",
  path: "packages/combined-models-opencode1",
  name: "@opencode-combined-models/opencode1",
}
export const COPIED_PACKAGES: readonly CopiedPackage[] = [ENGINE_PACKAGE, ADAPTER_PACKAGE]
/** OpenCode's package that the patches change; it depends on the adapter, which brings the engine. */
export const OPENCODE_PACKAGE_JSON = "packages/opencode/package.json"
export const ENGINE_DEPENDENCY_SPEC = "workspace:*"
export const ENGINE_COMMIT_MESSAGE = "combined-models: add the engine package\n"

/** The copied package a checkout path belongs to, if any. */
export function copiedPackageOf(path: string): CopiedPackage | undefined {
  return COPIED_PACKAGES.find((pkg) => path.startsWith(`${pkg.path}/`))
}

export interface EngineFile {
  /** Absolute path on disk. */
  source: string
  /** Path inside the OpenCode checkout, e.g. `packages/combined-models/src/index.ts`. */
  target: string
  mode: "100644" | "100755"
}

/**
 * What the engine commit copies, for each package of `COPIED_PACKAGES` under `packagesDir`: `package.json`,
 * `config.schema.json` and `src/**`. Tests (`*.test.ts`, `test/`), `node_modules` and dotfiles stay behind: OpenCode
 * needs the runtime packages, not our development tree.
 */
export function listEngineFiles(packagesDir: string): EngineFile[] {
  return COPIED_PACKAGES.flatMap((pkg) => listPackageFiles(join(packagesDir, pkg.dir), pkg))
}

function listPackageFiles(packageDir: string, pkg: CopiedPackage): EngineFile[] {
  const files: EngineFile[] = []
  const add = (source: string) => {
    const executable = (statSync(source).mode & 0o111) !== 0
    files.push({
      source,
      target: `${pkg.path}/${relative(packageDir, source).split("\\").join("/")}`,
      mode: executable ? "100755" : "100644",
    })
  }
  for (const name of ["package.json", "config.schema.json"]) {
    const source = join(packageDir, name)
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
  const srcDir = join(packageDir, "src")
  if (statSync(srcDir, { throwIfNoEntry: false })?.isDirectory()) walk(srcDir)
  if (!files.some((file) => file.target === `${pkg.path}/package.json`)) {
    throw new PatchFormatError(packageDir, `has no package.json: --packages must be a directory holding ${pkg.dir}/ (is it right?)`)
  }
  return files
}

/**
 * Adds `"@opencode-combined-models/opencode1": "workspace:*"` to the dependencies of OpenCode's package.json text at its sorted place.
 * Upstream's file is canonical 2-space JSON with a trailing newline (what JSON.stringify writes), so re-serialising
 * keeps every other byte; a file that is not canonical is refused rather than reformatted behind the user's back.
 */
export function addEngineDependency(packageJsonText: string): string {
  const data = parseCanonicalPackageJson(packageJsonText)
  const dependencies = (data.dependencies ?? {}) as Record<string, string>
  if (dependencies[ADAPTER_PACKAGE.name] !== undefined) return packageJsonText
  const entries = Object.entries(dependencies)
  const at = entries.findIndex(([name]) => name > ADAPTER_PACKAGE.name)
  entries.splice(at === -1 ? entries.length : at, 0, [ADAPTER_PACKAGE.name, ENGINE_DEPENDENCY_SPEC])
  data.dependencies = Object.fromEntries(entries)
  return `${JSON.stringify(data, null, 2)}\n`
}

/** The inverse of `addEngineDependency`, so exported patches apply to a pristine upstream. */
export function removeEngineDependency(packageJsonText: string): string {
  const data = parseCanonicalPackageJson(packageJsonText)
  const dependencies = data.dependencies as Record<string, string> | undefined
  if (dependencies?.[ADAPTER_PACKAGE.name] === undefined) return packageJsonText
  delete dependencies[ADAPTER_PACKAGE.name]
  return `${JSON.stringify(data, null, 2)}\n`
}

function parseCanonicalPackageJson(text: string): Record<string, unknown> {
  const data = JSON.parse(text) as Record<string, unknown>
  if (`${JSON.stringify(data, null, 2)}\n` !== text) {
    throw new PatchFormatError(
      OPENCODE_PACKAGE_JSON,
      "is not formatted as 2-space JSON with a trailing newline, so adding the adapter dependency would " +
        "reformat it; format it upstream's way (prettier) first",
    )
  }
  return data
}
