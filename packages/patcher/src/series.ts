import { existsSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { PatchFormatError, UsageError } from "./errors.ts"
import { parsePatchFile, type PatchHeader } from "./patch-file.ts"

/** The repository's own `patches/` directory: the default for `--patches`. */
export const DEFAULT_PATCHES_DIR = resolve(import.meta.dir, "../../../patches")
/** This repository's `packages/`, whose engine and OpenCode 1 adapter the first commit copies: the default for `--packages`. */
export const DEFAULT_PACKAGES_DIR = resolve(import.meta.dir, "../..")

/** `patches/upstream.json`: the upstream commit the series applies to and the branch apply creates. */
export interface UpstreamPin {
  version: string
  commit: string
  branch: string
}

export function readUpstreamPin(patchesDir: string): UpstreamPin {
  const file = join(patchesDir, "upstream.json")
  if (!existsSync(file)) {
    throw new UsageError(`${file} does not exist: --patches must point at a directory with upstream.json and series`)
  }
  let data: unknown
  try {
    data = JSON.parse(readFileSync(file, "utf8"))
  } catch (error) {
    throw new UsageError(`${file} is not valid JSON (${(error as Error).message}); fix it and run again`)
  }
  const record = (data ?? {}) as Record<string, unknown>
  const version = record.version
  const commit = record.commit
  const branch = record.branch
  if (typeof version !== "string" || typeof commit !== "string" || typeof branch !== "string") {
    throw new UsageError(`${file} needs string fields "version", "commit" (full hash) and "branch"`)
  }
  if (!/^[0-9a-f]{40}$/.test(commit)) {
    throw new UsageError(`${file}: "commit" must be a full 40-character hash, got ${JSON.stringify(commit)}`)
  }
  return { version, commit, branch }
}

/** Patch file names of `series`, in order: one a line, `#` comments and blank lines ignored. */
export function parseSeries(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.replace(/#.*$/, "").trim())
    .filter((line) => line !== "")
}

/** Rewrites `series` for new names, keeping the comment block at its top (it explains the file to readers). */
export function formatSeries(names: readonly string[], previousText: string): string {
  const leadingComments: string[] = []
  for (const line of previousText.split("\n")) {
    if (line.startsWith("#")) leadingComments.push(line)
    else break
  }
  return [...leadingComments, ...names].map((line) => `${line}\n`).join("")
}

export interface SeriesPatch {
  /** File name as listed in `series`. */
  name: string
  path: string
  text: string
  header: PatchHeader
  diff: string
}

export function readSeriesFile(patchesDir: string): string {
  const file = join(patchesDir, "series")
  return existsSync(file) ? readFileSync(file, "utf8") : ""
}

export type SeriesEntry = { ok: true; patch: SeriesPatch } | { ok: false; name: string; problem: string }

/** Every patch of the series, each read and parsed or with the problem that stopped it (check reports them all). */
export function readSeriesEntries(patchesDir: string): SeriesEntry[] {
  return parseSeries(readSeriesFile(patchesDir)).map((name): SeriesEntry => {
    const path = join(patchesDir, name)
    if (!existsSync(path)) return { ok: false, name, problem: `listed in ${join(patchesDir, "series")} but missing` }
    const text = readFileSync(path, "utf8")
    const parsed = parsePatchFile(text)
    if (!parsed.ok) return { ok: false, name, problem: parsed.problem }
    return { ok: true, patch: { name, path, text, header: parsed.patch.header, diff: parsed.patch.diff } }
  })
}

/** Every patch of the series; the first missing or unparsable one throws a PatchFormatError naming it. */
export function readSeries(patchesDir: string): SeriesPatch[] {
  return readSeriesEntries(patchesDir).map((entry) => {
    if (!entry.ok) throw new PatchFormatError(entry.name, entry.problem)
    return entry.patch
  })
}
