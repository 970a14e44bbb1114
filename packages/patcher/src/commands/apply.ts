import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { compareCommitContent, isEngineCommit, listBranchCommits, subjectOf } from "../branch.ts"
import { dirtyPaths, openCheckout, patcherIdentity, requirePinnedCommit } from "../checkout.ts"
import { listEngineFiles } from "../engine.ts"
import { BranchDivergedError, BranchShapeError, DirtyCheckoutError, PatchDoesNotApplyError } from "../errors.ts"
import type { Git } from "../git.ts"
import { commitMessageOf, describeContextDefect, findContextDefects, parseUnifiedDiff } from "../patch-file.ts"
import { buildSeries, explainApplyFailure, type SeriesBuild } from "../series-build.ts"
import { readSeries, readUpstreamPin, type SeriesPatch } from "../series.ts"

export interface ApplyOptions {
  opencode: string
  patchesDir: string
  packagesDir: string
  branch: string | undefined
  /** Rebuild the branch even if it exists with other content. */
  force: boolean
  /** Carry on after a conflict the user resolved and committed on the branch. */
  continue: boolean
  log: (line: string) => void
}

export interface ApplyResult {
  branch: string
  tip: string
  /** "created", "rebuilt" (with --force), "up-to-date" or "continued". */
  action: "created" | "rebuilt" | "up-to-date" | "continued"
}

/**
 * Creates the patched branch at the pin: the engine commit, then one commit per patch. The commits are built with
 * plumbing first (see series-build.ts), so a failure part-way leaves the checkout untouched unless there is a
 * conflict to resolve, in which case the checkout is left on the branch with the conflict in its files.
 */
export function runApply(options: ApplyOptions): ApplyResult {
  const { log } = options
  const git = openCheckout(options.opencode)
  const pin = readUpstreamPin(options.patchesDir)
  const branch = options.branch ?? pin.branch
  const pinCommit = requirePinnedCommit(git, pin)
  const dirty = dirtyPaths(git)
  if (dirty.length > 0) throw new DirtyCheckoutError(git.cwd, dirty)
  const patches = readSeries(options.patchesDir)
  warnAboutContext(patches, log)
  const identity = patcherIdentity(git, pinCommit)
  const context = { git, branch, options }

  if (options.continue) return continueApply(context, pinCommit, patches, identity)

  const build = buildSeries({
    git,
    base: pinCommit,
    engineFiles: listEngineFiles(options.packagesDir),
    patches,
    identity,
    objects: "repository",
  })
  const existing = git.branchExists(branch) ? listBranchCommits(git, pinCommit, branch) : undefined
  if (existing && build.complete) {
    const comparison = compareCommitContent(existing, build.commits)
    if (comparison.same) {
      if (git.currentBranch() !== branch) git.run(["checkout", "-q", branch])
      log(`branch ${branch} is up to date with the series (${build.commits.length === 1 ? "1 commit" : `${build.commits.length} commits`} on v${pin.version})`)
      return { branch, tip: git.output(["rev-parse", `refs/heads/${branch}`]), action: "up-to-date" }
    }
    if (!options.force) throw divergedError(git, branch, comparison.difference)
  } else if (existing && !options.force) {
    throw divergedError(git, branch, "and the series no longer applies cleanly on the pin")
  }
  if (existing) log(`rebuilding ${branch} (--force); its old tip was ${existing.at(-1)?.commit ?? pinCommit}`)

  if (!build.complete) stopAtConflict(context, build, patches)
  const tip = build.commits.at(-1)?.commit ?? pinCommit
  git.run(["checkout", "-q", "-B", branch, tip])
  reportCommits(build, log)
  log(`on branch ${branch} at ${tip.slice(0, 12)}: v${pin.version} + the engine + ${patches.length === 1 ? "1 patch" : `${patches.length} patches`}`)
  return { branch, tip, action: existing ? "rebuilt" : "created" }
}

interface ApplyContext {
  git: Git
  branch: string
  options: ApplyOptions
}

function continueApply(
  context: ApplyContext,
  pinCommit: string,
  patches: readonly SeriesPatch[],
  identity: ReturnType<typeof patcherIdentity>,
): ApplyResult {
  const { git, branch, options } = context
  if (git.currentBranch() !== branch) {
    throw new BranchShapeError(`--continue works on the checked-out branch ${branch}; check it out first`)
  }
  const existing = listBranchCommits(git, pinCommit, branch)
  if (!existing[0] || !isEngineCommit(existing[0])) {
    throw new BranchShapeError(`Branch ${branch} does not start with the engine commit: run apply without --continue`)
  }
  const applied = existing.slice(1)
  if (applied.length > patches.length) {
    throw new BranchShapeError(`Branch ${branch} has ${applied.length} patch commits but the series has ${patches.length}`)
  }
  applied.forEach((commit, index) => {
    const expected = patches[index]?.header.description
    if (subjectOf(commit.message) !== expected) {
      throw new BranchShapeError(
        `Commit ${index + 2} on ${branch} is "${subjectOf(commit.message)}" but patch ${index + 1} of the series is ` +
          `"${expected}": commit the resolved patch with its Description as the subject, then run --continue again`,
      )
    }
  })
  const remaining = patches.slice(applied.length)
  const tipBefore = existing.at(-1)?.commit ?? pinCommit
  const build = buildSeries({ git, base: tipBefore, engineFiles: undefined, patches: remaining, identity, objects: "repository" })
  if (!build.complete) stopAtConflict(context, build, remaining, tipBefore)
  const tip = build.commits.at(-1)?.commit ?? tipBefore
  git.run(["checkout", "-q", "-B", branch, tip])
  reportCommits(build, options.log)
  options.log(
    `on branch ${branch} at ${tip.slice(0, 12)} with all ${patches.length} patches; the branch now differs from ` +
      "the patch files: run `bun run patch export` to save it",
  )
  return { branch, tip, action: "continued" }
}

/**
 * The series stops at a patch that does not merge: put the branch at the last good commit, re-run that patch with
 * `git apply --3way` in the work tree so the conflict is there to resolve, and explain the way forward.
 */
function stopAtConflict(context: ApplyContext, build: SeriesBuild, patches: readonly SeriesPatch[], base?: string): never {
  const { git, branch, options } = context
  const failed = build.outcomes.at(-1)
  const patch = patches.find((candidate) => candidate.name === failed?.patchName)
  if (!failed?.failure || !patch) throw new Error("stopAtConflict called without a failed patch")
  const tip = build.commits.at(-1)?.commit ?? base
  if (!tip) throw new Error("stopAtConflict called without a commit to stop at")
  git.run(["checkout", "-q", "-B", branch, tip])
  const scratch = mkdtempSync(join(tmpdir(), "combined-models-patcher-"))
  let worktreeResult: string
  try {
    writeFileSync(join(scratch, "patch.diff"), patch.diff)
    const result = git.run(["apply", "--3way", "--whitespace=nowarn", join(scratch, "patch.diff")], { allowFailure: true })
    worktreeResult = (result.stdout + result.stderr).trim()
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
  const messageFile = resolve(git.cwd, git.output(["rev-parse", "--git-path", "COMBINED_MODELS_COMMIT_MSG"]))
  writeFileSync(messageFile, commitMessageOf(patch.header))
  const conflicted = failed.failure.threeWay.result === "conflicts"
  const lines = [
    `${patch.name} does not apply on ${branch}:`,
    ...explainApplyFailure(failed.failure).map((line) => `  ${line}`),
    "",
    conflicted
      ? `The checkout is on ${branch} with the conflict in the work tree (git apply --3way said: ${worktreeResult.split("\n").join("; ")}).`
      : `The checkout is on ${branch} at the last patch that applied; ${patch.name} is not applied.`,
    "To go on:",
    conflicted
      ? "  1. resolve the conflict markers, then `git add` the files"
      : `  1. apply it by hand: git apply --reject ${patch.path} (then fix the .rej hunks) and \`git add\` the files`,
    `  2. git commit -F ${messageFile}`,
    `  3. bun run patch apply --continue --opencode ${options.opencode}`,
    "  4. bun run patch export --opencode <dir> to write the refreshed patches (docs/maintaining.md)",
    "Run `bun run patch check` first to see every patch that needs attention.",
  ]
  throw new PatchDoesNotApplyError(patch.name, lines.join("\n"))
}

function divergedError(git: Git, branch: string, difference: string): BranchDivergedError {
  const tip = git.output(["rev-parse", `refs/heads/${branch}`])
  return new BranchDivergedError(
    `Branch ${branch} already exists with other content than the series produces: ${difference}.\n` +
      `If the branch holds work you want to keep as patches, run \`bun run patch export\` first; to throw it away ` +
      `and rebuild from patches/, run apply with --force (the old tip ${tip.slice(0, 12)} stays reachable as ` +
      `\`git branch keep ${tip.slice(0, 12)}\`), or pick another name with --branch.`,
  )
}

function reportCommits(build: SeriesBuild, log: (line: string) => void): void {
  for (const commit of build.commits) log(`  ${commit.commit.slice(0, 12)} ${subjectOf(commit.message)}`)
  for (const outcome of build.outcomes) {
    if (outcome.status === "merged") {
      log(`note: ${outcome.patchName} needed a 3-way merge; run \`bun run patch export\` to refresh the patch file`)
    }
  }
}

function warnAboutContext(patches: readonly SeriesPatch[], log: (line: string) => void): void {
  for (const patch of patches) {
    for (const defect of findContextDefects(parseUnifiedDiff(patch.diff))) {
      log(`warning: ${patch.name}: ${describeContextDefect(defect)}`)
    }
  }
}
