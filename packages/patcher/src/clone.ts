import { existsSync } from "node:fs"
import { dirname } from "node:path"
import { PrepareError } from "./errors.ts"
import { Git } from "./git.ts"

/** The sparse-checkout patterns of a checkout, or undefined when it is not sparse. */
export function sparsePatterns(git: Git): string[] | undefined {
  const enabled = git.run(["config", "--get", "--bool", "core.sparseCheckout"], { allowFailure: true }).stdout.trim()
  if (enabled !== "true") return undefined
  const patterns = git.output(["sparse-checkout", "list"]).split("\n").filter((line) => line !== "")
  return patterns.length > 0 ? patterns : undefined
}

/**
 * Clones a checkout into `dest` at `commit`, sharing its objects. If the source is sparse, the clone gets the same
 * patterns before anything is checked out: a snapshot of upstream may lack a few blobs (upstream.md), and a plain
 * checkout stops at the first missing one, while the sparse one never reads them.
 */
export function cloneCheckout(options: { source: string; dest: string; commit: string }): Git {
  const sourceGit = new Git(options.source)
  const patterns = sparsePatterns(sourceGit)
  new Git(dirname(options.dest)).run(["clone", "-q", "--no-checkout", "--shared", options.source, options.dest])
  const git = new Git(options.dest)
  if (patterns) git.run(["sparse-checkout", "set", "--no-cone", ...patterns])
  // With missing blobs git prints "invalid object" errors yet checks out everything the patterns cover.
  const checkout = git.run(["checkout", "-q", "--detach", options.commit], { allowFailure: true })
  const head = git.resolveCommit("HEAD")
  if (head !== options.commit || !existsSync(options.dest)) {
    throw new PrepareError(
      `Could not check out ${options.commit} in ${options.dest} (HEAD is ${head ?? "unborn"}):\n${checkout.stderr.trim()}\n` +
        `Remove ${options.dest} and run again; if it keeps failing, check that ${options.source} is a complete clone.`,
    )
  }
  return git
}
