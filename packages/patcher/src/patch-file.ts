/**
 * The patch file format, as pure functions: a DEP-3 style header, a `---` line, then a plain unified diff.
 *
 *   Description: <one line: what>
 *    <why, one or more lines, each starting with a space; " ." stands for an empty line>
 *   Author: opencode-combined-models
 *   Forwarded: not-needed
 *   ---
 *   diff --git a/… b/…
 */

export const PATCH_AUTHOR = "opencode-combined-models"
export const MAX_CONTEXT_LINES = 3

export interface PatchHeader {
  /** The Description's first line: what the patch does. Becomes the commit subject. */
  description: string
  /** The Description's continuation lines: why. Becomes the commit body. */
  why: string[]
  /** Every other header field, in order (Author, Forwarded, anything else). */
  fields: Array<{ name: string; value: string }>
}

export interface ParsedPatch {
  header: PatchHeader
  /** The unified diff, exactly as in the file (what `git apply` is fed). */
  diff: string
}

export type ParsePatchResult = { ok: true; patch: ParsedPatch } | { ok: false; problem: string }

export function parsePatchFile(text: string): ParsePatchResult {
  const lines = text.split("\n")
  const separator = lines.findIndex((line) => line === "---")
  if (separator === -1) return { ok: false, problem: 'no "---" line between the header and the diff' }
  const headerLines = lines.slice(0, separator)
  const diff = lines.slice(separator + 1).join("\n")
  if (!/^diff --git /m.test(diff)) return { ok: false, problem: 'no "diff --git" after the "---" line' }

  let description: string | undefined
  const why: string[] = []
  const fields: PatchHeader["fields"] = []
  let current: "description" | "other" | undefined
  for (const line of headerLines) {
    if (line.startsWith(" ") && current === undefined) {
      return { ok: false, problem: 'the header has no "Description:" line before its indented "why" lines' }
    }
    if (line.startsWith(" ") && current !== undefined) {
      if (current === "description") why.push(line === " ." ? "" : line.slice(1))
      else {
        const last = fields[fields.length - 1]
        if (last) last.value += `\n${line.slice(1)}`
      }
      continue
    }
    const field = /^([A-Za-z][A-Za-z0-9-]*):\s?(.*)$/.exec(line)
    if (!field) {
      if (line.trim() === "") continue
      return { ok: false, problem: `header line is neither "Field: value" nor a continuation: ${JSON.stringify(line)}` }
    }
    const [, name = "", value = ""] = field
    if (name.toLowerCase() === "description") {
      description = value.trim()
      current = "description"
    } else {
      fields.push({ name, value })
      current = "other"
    }
  }
  if (description === undefined || description === "") {
    return { ok: false, problem: 'the header has no "Description:" line (what the patch does)' }
  }
  return { ok: true, patch: { header: { description, why, fields }, diff } }
}

export function formatPatchFile(patch: { description: string; why: readonly string[]; diff: string }): string {
  const whyLines = patch.why.map((line) => (line === "" ? " ." : ` ${line}`))
  return [
    `Description: ${patch.description}`,
    ...whyLines,
    `Author: ${PATCH_AUTHOR}`,
    "Forwarded: not-needed",
    "---",
    patch.diff,
  ].join("\n")
}

/** Commit message for a patch: the Description, a blank line, then the why text. */
export function commitMessageOf(header: Pick<PatchHeader, "description" | "why">): string {
  const why = trimBlankEdges(header.why)
  return why.length === 0 ? `${header.description}\n` : `${header.description}\n\n${why.join("\n")}\n`
}

/** The inverse of `commitMessageOf`, for export. */
export function headerOfCommitMessage(message: string): { description: string; why: string[] } {
  const lines = message.replace(/\r\n/g, "\n").split("\n")
  const description = (lines[0] ?? "").trim()
  const why = trimBlankEdges(lines.slice(1).map((line) => line.replace(/\s+$/, "")))
  return { description, why }
}

function trimBlankEdges(lines: readonly string[]): string[] {
  let start = 0
  let end = lines.length
  while (start < end && (lines[start] ?? "").trim() === "") start++
  while (end > start && (lines[end - 1] ?? "").trim() === "") end--
  return lines.slice(start, end)
}

/** File name for the n-th patch (1-based): `0003-show-the-serving-provider.patch`. */
export function patchFileName(position: number, description: string): string {
  const slug =
    description
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      // At most 50 characters, cut at a word boundary when there is one.
      .replace(/^(.{0,50})(-.*)?$/, (whole, head: string) => (whole.length <= 50 ? whole : head))
      .slice(0, 50)
      .replace(/-+$/g, "") || "patch"
  return `${String(position).padStart(4, "0")}-${slug}.patch`
}

// ---------------------------------------------------------------------------------------------------------------
// Diff structure: files and hunks, enough to name a failing hunk and to measure context.

export interface DiffHunk {
  /** 1-based position of the hunk within its file's section. */
  numberInFile: number
  /** The `@@ -a,b +c,d @@ …` line as written. */
  headerLine: string
  oldStart: number
  newStart: number
  lines: string[]
}

export interface DiffFileSection {
  oldPath: string | undefined
  newPath: string | undefined
  /** The path to show: the new path, or the old one for a deletion. */
  path: string
  hunks: DiffHunk[]
}

export function parseUnifiedDiff(diff: string): DiffFileSection[] {
  const sections: DiffFileSection[] = []
  let section: DiffFileSection | undefined
  let hunk: DiffHunk | undefined
  const lines = diff.split("\n")
  // The final newline is not an empty context line.
  if (lines[lines.length - 1] === "") lines.pop()
  for (const line of lines) {
    if (line.startsWith("diff --git ")) {
      // The ---/+++ lines below give the exact paths; this is for sections without them (mode-only changes).
      const [, a = "", b = ""] = /^diff --git (.+) (b\/.+)$/.exec(line) ?? /^diff --git (\S+) (\S+)/.exec(line) ?? []
      const oldPath = stripPrefix(a, "a/")
      const newPath = stripPrefix(b, "b/")
      section = { oldPath, newPath, path: newPath || oldPath, hunks: [] }
      sections.push(section)
      hunk = undefined
      continue
    }
    if (!section) continue
    if (hunk === undefined && line.startsWith("--- ")) {
      section.oldPath = pathOfMarker(line.slice(4), "a/")
      continue
    }
    if (hunk === undefined && line.startsWith("+++ ")) {
      section.newPath = pathOfMarker(line.slice(4), "b/")
      section.path = section.newPath ?? section.oldPath ?? section.path
      continue
    }
    const hunkHeader = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(line)
    if (hunkHeader) {
      hunk = {
        numberInFile: section.hunks.length + 1,
        headerLine: line,
        oldStart: Number(hunkHeader[1]),
        newStart: Number(hunkHeader[2]),
        lines: [],
      }
      section.hunks.push(hunk)
      continue
    }
    if (hunk && (line.startsWith(" ") || line.startsWith("+") || line.startsWith("-") || line.startsWith("\\"))) {
      hunk.lines.push(line)
    } else if (hunk && line === "") {
      // An empty line inside a hunk is an unchanged empty line whose leading space an editor stripped.
      hunk.lines.push(" ")
    } else {
      hunk = undefined
    }
  }
  return sections
}

function stripPrefix(path: string, prefix: string): string {
  const unquoted = path.startsWith('"') && path.endsWith('"') ? path.slice(1, -1) : path
  return unquoted.startsWith(prefix) ? unquoted.slice(prefix.length) : unquoted
}

function pathOfMarker(marker: string, prefix: string): string | undefined {
  const path = marker.replace(/\t.*$/, "")
  return path === "/dev/null" ? undefined : stripPrefix(path, prefix)
}

export interface ContextDefect {
  path: string
  hunk: DiffHunk
  /** "leading" / "trailing" context before the first or after the last change, or "between" two changes. */
  where: "leading" | "trailing" | "between"
  lines: number
  allowed: number
}

/**
 * Hunks with more than 3 lines of context on a side. More context makes a patch brittle against upstream edits
 * nearby; `git diff -U3` never produces it, so it means a hand-edited or `-U<n>` patch. Between two changes a run
 * may reach 6 (git merges hunks whose contexts touch); anything longer would have been two hunks.
 */
export function findContextDefects(sections: readonly DiffFileSection[]): ContextDefect[] {
  const defects: ContextDefect[] = []
  for (const section of sections) {
    for (const hunk of section.hunks) {
      const body = hunk.lines.filter((line) => !line.startsWith("\\"))
      const isChange = (line: string) => line.startsWith("+") || line.startsWith("-")
      const first = body.findIndex(isChange)
      if (first === -1) continue
      const last = body.length - 1 - [...body].reverse().findIndex(isChange)
      if (first > MAX_CONTEXT_LINES) {
        defects.push({ path: section.path, hunk, where: "leading", lines: first, allowed: MAX_CONTEXT_LINES })
      }
      const trailing = body.length - 1 - last
      if (trailing > MAX_CONTEXT_LINES) {
        defects.push({ path: section.path, hunk, where: "trailing", lines: trailing, allowed: MAX_CONTEXT_LINES })
      }
      let run = 0
      for (let index = first; index <= last; index++) {
        if (isChange(body[index] ?? "")) {
          if (run > 2 * MAX_CONTEXT_LINES) {
            defects.push({ path: section.path, hunk, where: "between", lines: run, allowed: 2 * MAX_CONTEXT_LINES })
          }
          run = 0
        } else run++
      }
    }
  }
  return defects
}

export function describeContextDefect(defect: ContextDefect): string {
  return (
    `hunk ${defect.hunk.numberInFile} in ${defect.path} (${defect.hunk.headerLine}) has ${defect.lines} lines of ` +
    `${defect.where} context, at most ${defect.allowed} allowed; regenerate it with git diff -U3 (or apply + export)`
  )
}
