import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import {
  addEngineDependency,
  ENGINE_COMMIT_MESSAGE,
  OPENCODE_PACKAGE_JSON,
  removeEngineDependency,
  type EngineFile,
} from "./engine.ts"
import { PatchFormatError } from "./errors.ts"
import { Git, identityEnv, type CommitIdentity } from "./git.ts"
import { commitMessageOf, parseUnifiedDiff, type DiffHunk } from "./patch-file.ts"
import type { SeriesPatch } from "./series.ts"

/**
 * Builds the patched commits with plumbing only: a temporary index seeded from the base commit, `git apply --cached`
 * per patch, `write-tree` and `commit-tree`. Nothing in the checkout's work tree, index or refs changes, so `check`
 * can dry-run the series anywhere and `apply` knows the exact result (tree hashes) before it moves a branch.
 */

export interface BuiltCommit {
  commit: string
  tree: string
  message: string
  /** The patch file this commit comes from; undefined for the engine commit. */
  patchName: string | undefined
}

export interface ApplyFailure {
  patchName: string
  /** The file git named, and the hunk of that file when git named a line we can match to one. */
  path: string | undefined
  hunk: DiffHunk | undefined
  hunksInFile: number
  /** What git printed, trimmed. */
  gitReason: string
  /** Result of the 3-way fallback: merged cleanly, merged with conflicts (in these paths), or not possible. */
  threeWay: { result: "clean" } | { result: "conflicts"; paths: string[] } | { result: "impossible"; reason: string }
}

export interface PatchOutcome {
  patchName: string
  /** applied: as written; merged: only through a clean 3-way merge; failed: not at all (the build stops there). */
  status: "applied" | "merged" | "failed"
  failure: ApplyFailure | undefined
}

export interface SeriesBuild {
  commits: BuiltCommit[]
  outcomes: PatchOutcome[]
  /** Every patch produced a commit. */
  complete: boolean
}

export interface SeriesBuildInput {
  git: Git
  /** Commit the first built commit sits on. */
  base: string
  /** When given, the first commit copies the engine in and adds the dependency. */
  engineFiles: readonly EngineFile[] | undefined
  patches: readonly SeriesPatch[]
  identity: CommitIdentity
  /**
   * Keep new objects in a throwaway object directory (check: the checkout stays byte-for-byte untouched), or write
   * them into the repository (apply: the branch will point at them).
   */
  objects: "private" | "repository"
}

export function buildSeries(input: SeriesBuildInput): SeriesBuild {
  const scratch = mkdtempSync(join(tmpdir(), "combined-models-patcher-"))
  try {
    const env: Record<string, string> = { GIT_INDEX_FILE: join(scratch, "index"), ...identityEnv(input.identity) }
    if (input.objects === "private") {
      env.GIT_OBJECT_DIRECTORY = join(scratch, "objects")
      env.GIT_ALTERNATE_OBJECT_DIRECTORIES = resolve(input.git.cwd, input.git.output(["rev-parse", "--git-path", "objects"]))
      mkdirSync(env.GIT_OBJECT_DIRECTORY)
    }
    const git = input.git.withEnv(env)
    git.run(["read-tree", input.base])

    const commits: BuiltCommit[] = []
    const outcomes: PatchOutcome[] = []
    let parent = input.base
    const commit = (message: string, patchName: string | undefined) => {
      const tree = git.output(["write-tree"])
      const hash = git.output(["commit-tree", tree, "-p", parent, "-F", "-"], { stdin: message })
      commits.push({ commit: hash, tree, message, patchName })
      parent = hash
    }

    if (input.engineFiles) {
      stageEngine(git, input.base, input.engineFiles)
      commit(ENGINE_COMMIT_MESSAGE, undefined)
    }

    for (const patch of input.patches) {
      const diffFile = join(scratch, "current.diff")
      writeFileSync(diffFile, patch.diff)
      // Patches are diffs against upstream, which has no engine dependency line (export strips it). A patch that
      // edits OpenCode's package.json is applied to the file without that line, and the line is put back after.
      const dependencyLifted = touchesOpencodePackageJson(patch.diff) && liftEngineDependency(git)
      const plain = git.run(["apply", "--cached", "--whitespace=nowarn", diffFile], { allowFailure: true })
      if (plain.exitCode === 0) {
        if (dependencyLifted) restoreEngineDependency(git)
        outcomes.push({ patchName: patch.name, status: "applied", failure: undefined })
        commit(commitMessageOf(patch.header), patch.name)
        continue
      }
      // git apply is atomic: the failed attempt left the index as it was, so the 3-way probe starts clean.
      const merged = git.run(["apply", "--cached", "--3way", "--whitespace=nowarn", diffFile], { allowFailure: true })
      const threeWay = interpretThreeWay(merged.exitCode, merged.stdout + merged.stderr)
      const failure = describeApplyFailure(patch, plain.stderr, threeWay)
      if (threeWay.result === "clean") {
        if (dependencyLifted) restoreEngineDependency(git)
        outcomes.push({ patchName: patch.name, status: "merged", failure })
        commit(commitMessageOf(patch.header), patch.name)
        continue
      }
      outcomes.push({ patchName: patch.name, status: "failed", failure })
      return { commits, outcomes, complete: false }
    }
    return { commits, outcomes, complete: true }
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}

function stageEngine(git: Git, base: string, files: readonly EngineFile[]): void {
  const hashes = git
    .output(["hash-object", "-w", "--no-filters", "--stdin-paths"], { stdin: files.map((file) => file.source).join("\n") + "\n" })
    .split("\n")
  const packageJson = git.run(["cat-file", "blob", `${base}:${OPENCODE_PACKAGE_JSON}`], { allowFailure: true })
  if (packageJson.exitCode !== 0) {
    throw new PatchFormatError(OPENCODE_PACKAGE_JSON, `missing at ${base.slice(0, 12)}: is this an OpenCode checkout?`)
  }
  const packageJsonHash = git.output(["hash-object", "-w", "--stdin"], { stdin: addEngineDependency(packageJson.stdout) })
  const indexInfo = files.map((file, index) => `${file.mode} ${hashes[index]}\t${file.target}`)
  indexInfo.push(`100644 ${packageJsonHash}\t${OPENCODE_PACKAGE_JSON}`)
  git.run(["update-index", "--index-info"], { stdin: indexInfo.join("\n") + "\n" })
}

function touchesOpencodePackageJson(diff: string): boolean {
  return parseUnifiedDiff(diff).some((section) => section.path === OPENCODE_PACKAGE_JSON || section.oldPath === OPENCODE_PACKAGE_JSON)
}

/** Replaces the staged package.json by its text without the engine dependency; false when there was none. */
function liftEngineDependency(git: Git): boolean {
  const staged = git.run(["cat-file", "blob", `:${OPENCODE_PACKAGE_JSON}`], { allowFailure: true })
  if (staged.exitCode !== 0) return false
  const lifted = removeEngineDependency(staged.stdout)
  if (lifted === staged.stdout) return false
  stageText(git, OPENCODE_PACKAGE_JSON, lifted)
  return true
}

function restoreEngineDependency(git: Git): void {
  const staged = git.run(["cat-file", "blob", `:${OPENCODE_PACKAGE_JSON}`], { allowFailure: true })
  if (staged.exitCode === 0) stageText(git, OPENCODE_PACKAGE_JSON, addEngineDependency(staged.stdout))
}

function stageText(git: Git, path: string, text: string): void {
  const hash = git.output(["hash-object", "-w", "--stdin"], { stdin: text })
  git.run(["update-index", "--cacheinfo", `100644,${hash},${path}`])
}

function interpretThreeWay(exitCode: number, output: string): ApplyFailure["threeWay"] {
  if (exitCode === 0) return { result: "clean" }
  const conflicted = [...output.matchAll(/^U (.+)$/gm)].map((match) => match[1] ?? "")
  if (conflicted.length > 0) return { result: "conflicts", paths: conflicted }
  const reason = output
    .split("\n")
    .filter((line) => /^(error|fatal):/.test(line) && !/patch failed|patch does not apply/.test(line))
    .join("; ")
  return { result: "impossible", reason: reason || "git could not fall back to a 3-way merge" }
}

/**
 * Names the hunk git choked on. git says `error: patch failed: <path>:<line>` where line is the hunk's old start,
 * which identifies the hunk within that file's section of the patch.
 */
export function describeApplyFailure(
  patch: Pick<SeriesPatch, "name" | "diff">,
  gitStderr: string,
  threeWay: ApplyFailure["threeWay"],
): ApplyFailure {
  const sections = parseUnifiedDiff(patch.diff)
  const failedAt = /^error: patch failed: (.+):(\d+)$/m.exec(gitStderr)
  const namedPath = failedAt?.[1] ?? /^error: (.+?): (?:does not exist in index|already exists in index|patch does not apply|does not match index|No such file)/m.exec(gitStderr)?.[1]
  const section = sections.find((candidate) => candidate.path === namedPath || candidate.oldPath === namedPath)
  const hunk = failedAt ? section?.hunks.find((candidate) => candidate.oldStart === Number(failedAt[2])) : undefined
  return {
    patchName: patch.name,
    path: namedPath,
    hunk,
    hunksInFile: section?.hunks.length ?? 0,
    gitReason: gitStderr.trim(),
    threeWay,
  }
}

/** Human explanation of a failure, used by check and apply alike. */
export function explainApplyFailure(failure: ApplyFailure): string[] {
  const lines: string[] = []
  if (failure.hunk && failure.path) {
    lines.push(
      `hunk ${failure.hunk.numberInFile} of ${failure.hunksInFile} in ${failure.path} does not apply: ${failure.hunk.headerLine}`,
    )
  } else if (failure.path) {
    lines.push(`${failure.path} does not apply`)
  } else {
    lines.push("the patch does not apply")
  }
  for (const line of failure.gitReason.split("\n")) lines.push(`git: ${line}`)
  switch (failure.threeWay.result) {
    case "clean":
      lines.push("a 3-way merge applies it cleanly: `apply` will succeed; then run `export` to refresh the patch")
      break
    case "conflicts":
      lines.push(`a 3-way merge conflicts in ${failure.threeWay.paths.join(", ")}: resolve it by hand (docs/maintaining.md)`)
      break
    case "impossible":
      lines.push(`no 3-way merge possible (${failure.threeWay.reason}): edit the patch by hand (docs/maintaining.md)`)
      break
  }
  return lines
}
