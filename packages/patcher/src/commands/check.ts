import { compareCommitContent, listBranchCommits } from "../branch.ts"
import { describeHead, dirtyPaths, inspectHead, openCheckout, patcherIdentity } from "../checkout.ts"
import { copiedPackageOf, listEngineFiles } from "../engine.ts"
import { describeContextDefect, findContextDefects, parseUnifiedDiff } from "../patch-file.ts"
import { buildSeries, explainApplyFailure } from "../series-build.ts"
import { readSeriesEntries, readUpstreamPin, type SeriesPatch } from "../series.ts"

export interface CheckOptions {
  opencode: string
  patchesDir: string
  packagesDir: string
  branch: string | undefined
  log: (line: string) => void
}

/** A defect in the series itself, found without git: these fail check wherever it runs. */
export function findSeriesDefects(patch: SeriesPatch): string[] {
  const defects: string[] = []
  const sections = parseUnifiedDiff(patch.diff)
  if (sections.length === 0) defects.push("the diff touches no file")
  if (patch.header.why.length === 0) defects.push('the Description has no "why" lines (indented lines under it)')
  for (const section of sections) {
    const copied = copiedPackageOf(section.path)
    if (copied) {
      defects.push(`it changes ${section.path}: those files belong in our packages/${copied.dir}, not in a patch`)
    }
  }
  for (const defect of findContextDefects(sections)) defects.push(describeContextDefect(defect))
  return defects
}

/**
 * Reports where the checkout stands relative to the pin and dry-runs the whole series on a throwaway index and object
 * directory, so the checkout is left exactly as it was. Returns the exit code: 0 when apply would succeed as is.
 */
export function runCheck(options: CheckOptions): number {
  const { log } = options
  const git = openCheckout(options.opencode)
  const pin = readUpstreamPin(options.patchesDir)
  const branch = options.branch ?? pin.branch
  let failed = false

  log(`checkout: ${git.cwd}`)
  const facts = inspectHead(git, pin, branch)
  log(describeHead(facts, pin))
  const pinCommit = facts.position.kind === "pin-missing" ? undefined : git.resolveCommit(pin.commit)
  if (!pinCommit) {
    failed = true
    log(`  apply needs that commit: fetch it (git fetch origin ${pin.commit}) or use a clone of upstream`)
  }
  const dirty = dirtyPaths(git)
  if (dirty.length > 0) log(`note: ${dirty.length} uncommitted paths; apply refuses a dirty checkout (first: ${dirty[0]})`)

  const entries = readSeriesEntries(options.patchesDir)
  log(`series: ${plural(entries.length, "patch", "patches")} from ${options.patchesDir}`)
  const patches: SeriesPatch[] = []
  for (const entry of entries) {
    if (!entry.ok) {
      failed = true
      log(`  DEFECT ${entry.name}: ${entry.problem}`)
      continue
    }
    patches.push(entry.patch)
    for (const defect of findSeriesDefects(entry.patch)) {
      // Missing why lines are a style warning; everything else makes the patch defective.
      const isWarning = defect.startsWith('the Description has no "why"')
      if (!isWarning) failed = true
      log(`  ${isWarning ? "WARN  " : "DEFECT"} ${entry.patch.name}: ${defect}`)
    }
  }

  const base = pinCommit ?? facts.head
  log(`dry run on ${pinCommit ? "the pinned commit" : "HEAD (the pin is missing)"} ${base.slice(0, 12)}, engine commit first:`)
  const build = buildSeries({
    git,
    base,
    engineFiles: listEngineFiles(options.packagesDir),
    patches,
    identity: patcherIdentity(git, base),
    objects: "private",
  })
  for (const outcome of build.outcomes) {
    if (outcome.status === "applied") {
      log(`  ok     ${outcome.patchName}`)
      continue
    }
    failed = true
    log(`  ${outcome.status === "merged" ? "FAIL (3-way merge clean)" : "FAIL  "} ${outcome.patchName}`)
    for (const line of outcome.failure ? explainApplyFailure(outcome.failure) : []) log(`         ${line}`)
  }
  if (!build.complete) {
    const notChecked = patches.slice(build.outcomes.length).map((patch) => patch.name)
    if (notChecked.length > 0) log(`  not checked (they come after the failure): ${notChecked.join(", ")}`)
  }

  if (facts.position.kind === "on-patched-branch" && pinCommit && build.complete) {
    const existing = listBranchCommits(git, pinCommit, branch)
    const comparison = compareCommitContent(existing, build.commits)
    log(
      comparison.same
        ? `branch ${branch} is up to date with the series`
        : `branch ${branch} differs from the series (${comparison.difference}): ` +
            "`export` saves the branch as patches, `apply --force` rebuilds it from them",
    )
  }

  log(
    failed
      ? "check FAILED: fix the patches named above (see docs/maintaining.md), then run check again"
      : `check passed: \`bun run patch apply --opencode ${options.opencode}\` will apply ${plural(patches.length, "patch", "patches")}`,
  )
  return failed ? 1 : 0
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`
}
