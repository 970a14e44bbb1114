import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { isEngineCommit, listBranchCommits, subjectOf } from "../branch.ts"
import { openCheckout, requirePinnedCommit } from "../checkout.ts"
import { COPIED_PACKAGES, OPENCODE_PACKAGE_JSON, removeEngineDependency } from "../engine.ts"
import { BranchShapeError } from "../errors.ts"
import type { Git } from "../git.ts"
import { formatPatchFile, headerOfCommitMessage, patchFileName } from "../patch-file.ts"
import { formatSeries, readSeriesEntries, readSeriesFile, readUpstreamPin } from "../series.ts"

export interface ExportOptions {
  opencode: string
  patchesDir: string
  branch: string | undefined
  log: (line: string) => void
}

export interface ExportedPatch {
  name: string
  text: string
}

/**
 * Regenerates patches/ from the branch: one file per commit after the engine commit, `series` in branch order, and
 * patch files that left the series removed. The diff is `git diff -U3 <c>^ <c>` minus our own package and minus the
 * dependency line the engine commit adds, so every patch applies to a pristine upstream checkout.
 */
export function runExport(options: ExportOptions): ExportedPatch[] {
  const { log } = options
  const git = openCheckout(options.opencode)
  const pin = readUpstreamPin(options.patchesDir)
  const branch = options.branch ?? pin.branch
  const pinCommit = requirePinnedCommit(git, pin)
  if (!git.branchExists(branch)) {
    throw new BranchShapeError(`Branch ${branch} does not exist in ${git.cwd}: run \`bun run patch apply\` first`)
  }
  const commits = listBranchCommits(git, pinCommit, branch)
  const [engine, ...patchCommits] = commits
  if (!engine || !isEngineCommit(engine)) {
    throw new BranchShapeError(
      `The first commit after the pin on ${branch} is not "${"combined-models: add the engine package"}": ` +
        "export needs a branch made by `bun run patch apply`",
    )
  }

  const existingNames = new Map(
    readSeriesEntries(options.patchesDir).flatMap((entry) => (entry.ok ? [[entry.patch.header.description, entry.patch.name] as const] : [])),
  )
  const exported: ExportedPatch[] = []
  for (const commit of patchCommits) {
    if (commit.parents.length !== 1) {
      throw new BranchShapeError(
        `${commit.commit.slice(0, 12)} "${subjectOf(commit.message)}" is a merge commit; the series must be linear ` +
          "(rebase instead of merging, see docs/maintaining.md)",
      )
    }
    const parent = commit.parents[0] ?? ""
    for (const pkg of COPIED_PACKAGES) {
      if (git.output(["diff", "--name-only", parent, commit.commit, "--", pkg.path]) === "") continue
      log(
        `warning: ${commit.commit.slice(0, 12)} "${subjectOf(commit.message)}" changes ${pkg.path}/: ` +
          `those changes are not exported; make them in our packages/${pkg.dir}`,
      )
    }
    const diff = exportDiff(git, parent, commit.commit)
    if (diff === "") {
      log(`warning: ${commit.commit.slice(0, 12)} "${subjectOf(commit.message)}" has nothing to export; skipped`)
      continue
    }
    const header = headerOfCommitMessage(commit.message)
    // A patch keeps its file name while its Description stays the same, so renaming is a deliberate act.
    const kept = existingNames.get(header.description)
    const name = kept && !exported.some((patch) => patch.name === kept) ? kept : patchFileName(exported.length + 1, header.description)
    exported.push({ name, text: formatPatchFile({ ...header, diff }) })
  }

  writeExport(options.patchesDir, exported, log)
  log(`exported ${exported.length} patches from ${branch} to ${options.patchesDir}`)
  return exported
}

/** Writes the patch files (only those whose bytes changed), the series, and removes stale `*.patch` files. */
function writeExport(patchesDir: string, exported: readonly ExportedPatch[], log: (line: string) => void): void {
  mkdirSync(patchesDir, { recursive: true })
  for (const patch of exported) {
    const path = join(patchesDir, patch.name)
    const before = existsSync(path) ? readFileSync(path, "utf8") : undefined
    if (before === patch.text) continue
    writeFileSync(path, patch.text)
    log(`  ${before === undefined ? "wrote  " : "updated"} ${patch.name}`)
  }
  const names = exported.map((patch) => patch.name)
  writeFileSync(join(patchesDir, "series"), formatSeries(names, readSeriesFile(patchesDir)))
  for (const file of readdirSync(patchesDir)) {
    if (file.endsWith(".patch") && !names.includes(file)) {
      rmSync(join(patchesDir, file))
      log(`  removed ${file} (no longer in the series)`)
    }
  }
}

/**
 * The diff of one branch commit as a patch against upstream. When the commit touches OpenCode's package.json, both
 * sides are diffed with the engine dependency removed (through trees built in a throwaway index and object
 * directory), so the exported hunk neither contains that line nor depends on it as context.
 */
export function exportDiff(git: Git, parent: string, commit: string): string {
  const touchesPackageJson =
    git.output(["diff", "--name-only", parent, commit, "--", OPENCODE_PACKAGE_JSON]) !== ""
  if (!touchesPackageJson) return diffTrees(git, parent, commit)
  const scratch = mkdtempSync(join(tmpdir(), "combined-models-patcher-"))
  try {
    mkdirSync(join(scratch, "objects"))
    const scratchGit = git.withEnv({
      GIT_INDEX_FILE: join(scratch, "index"),
      GIT_OBJECT_DIRECTORY: join(scratch, "objects"),
      GIT_ALTERNATE_OBJECT_DIRECTORIES: resolve(git.cwd, git.output(["rev-parse", "--git-path", "objects"])),
    })
    const withoutDependency = (revision: string) => {
      scratchGit.run(["read-tree", revision])
      const blob = scratchGit.run(["cat-file", "blob", `${revision}:${OPENCODE_PACKAGE_JSON}`], { allowFailure: true })
      if (blob.exitCode === 0) {
        const hash = scratchGit.output(["hash-object", "-w", "--stdin"], { stdin: removeEngineDependency(blob.stdout) })
        scratchGit.run(["update-index", "--cacheinfo", `100644,${hash},${OPENCODE_PACKAGE_JSON}`])
      }
      return scratchGit.output(["write-tree"])
    }
    const before = withoutDependency(parent)
    const after = withoutDependency(commit)
    return diffTrees(scratchGit, before, after)
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
}

function diffTrees(git: Git, before: string, after: string): string {
  // Pin every setting that changes the bytes of a diff, so export gives the same file on every machine.
  return git.run([
    "-c", "core.abbrev=auto",
    "-c", "core.quotePath=true",
    "-c", "diff.noprefix=false",
    "-c", "diff.mnemonicPrefix=false",
    "-c", "diff.relative=false",
    "-c", "diff.renames=true",
    "diff", "--no-color", "--no-ext-diff", "--no-textconv", "-U3",
    before, after,
    "--", ".", ...COPIED_PACKAGES.map((pkg) => `:(top,exclude)${pkg.path}`),
  ]).stdout
}
