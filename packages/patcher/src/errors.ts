/**
 * Errors the patcher raises on purpose. Every message says what went wrong and what to do next, because the person
 * reading it is in the middle of a rebase. Like the engine's errors they carry a `Symbol.for` marker rather than
 * relying on `instanceof`, so a copy of this module loaded twice (tests, `bun run`) still recognises its own errors.
 */

const patcherMarker = Symbol.for("combined-models-patcher.error")

export abstract class PatcherError extends Error {
  readonly [patcherMarker] = true
  /** Exit code for the CLI: 2 for wrong usage, 1 for everything else. */
  readonly exitCode: number = 1

  static isInstance(error: unknown): error is PatcherError {
    return hasMarker(error, patcherMarker)
  }
}

function defineMarker(name: string): symbol {
  return Symbol.for(`combined-models-patcher.${name}`)
}

const usageMarker = defineMarker("usage")
export class UsageError extends PatcherError {
  readonly [usageMarker] = true
  override readonly name = "UsageError"
  override readonly exitCode = 2
  static override isInstance(error: unknown): error is UsageError {
    return hasMarker(error, usageMarker)
  }
}

const notCheckoutMarker = defineMarker("not-a-checkout")
export class NotAGitCheckoutError extends PatcherError {
  readonly [notCheckoutMarker] = true
  override readonly name = "NotAGitCheckoutError"
  constructor(readonly directory: string, detail: string) {
    super(
      `${directory} is not a git checkout (${detail}). Pass --opencode <dir> pointing at a clone of OpenCode ` +
        `(git clone https://github.com/anomalyco/opencode), not an unpacked release archive.`,
    )
  }
  static override isInstance(error: unknown): error is NotAGitCheckoutError {
    return hasMarker(error, notCheckoutMarker)
  }
}

const pinMissingMarker = defineMarker("pin-missing")
export class PinnedCommitMissingError extends PatcherError {
  readonly [pinMissingMarker] = true
  override readonly name = "PinnedCommitMissingError"
  constructor(readonly directory: string, readonly commit: string, readonly version: string) {
    super(
      `The pinned commit ${commit} (OpenCode v${version}) is not in ${directory}. Fetch it first ` +
        `(git -C ${directory} fetch origin ${commit}, or fetch the v${version} tag), then run the command again.`,
    )
  }
  static override isInstance(error: unknown): error is PinnedCommitMissingError {
    return hasMarker(error, pinMissingMarker)
  }
}

const dirtyMarker = defineMarker("dirty")
export class DirtyCheckoutError extends PatcherError {
  readonly [dirtyMarker] = true
  override readonly name = "DirtyCheckoutError"
  constructor(readonly directory: string, readonly dirtyPaths: readonly string[]) {
    const shown = dirtyPaths.slice(0, 20).map((path) => `  ${path}`)
    if (dirtyPaths.length > shown.length) shown.push(`  … and ${dirtyPaths.length - shown.length} more`)
    super(
      `${directory} has uncommitted changes; apply switches branches and would mix them in:\n${shown.join("\n")}\n` +
        `Commit or stash them (git -C ${directory} stash -u), then run apply again.`,
    )
  }
  static override isInstance(error: unknown): error is DirtyCheckoutError {
    return hasMarker(error, dirtyMarker)
  }
}

const formatMarker = defineMarker("patch-format")
/** A file in the series that is not a patch in our format (missing Description, missing diff, unreadable). */
export class PatchFormatError extends PatcherError {
  readonly [formatMarker] = true
  override readonly name = "PatchFormatError"
  constructor(readonly patchName: string, problem: string) {
    super(`${patchName}: ${problem}. See docs/maintaining.md for the header format.`)
  }
  static override isInstance(error: unknown): error is PatchFormatError {
    return hasMarker(error, formatMarker)
  }
}

const doesNotApplyMarker = defineMarker("does-not-apply")
/** A patch of the series that git could not apply (with the hunk and git's own reason in the message). */
export class PatchDoesNotApplyError extends PatcherError {
  readonly [doesNotApplyMarker] = true
  override readonly name = "PatchDoesNotApplyError"
  constructor(readonly patchName: string, explanation: string) {
    super(explanation)
  }
  static override isInstance(error: unknown): error is PatchDoesNotApplyError {
    return hasMarker(error, doesNotApplyMarker)
  }
}

const divergedMarker = defineMarker("branch-diverged")
export class BranchDivergedError extends PatcherError {
  readonly [divergedMarker] = true
  override readonly name = "BranchDivergedError"
  static override isInstance(error: unknown): error is BranchDivergedError {
    return hasMarker(error, divergedMarker)
  }
}

const branchShapeMarker = defineMarker("branch-shape")
/** The branch to export (or continue) is not shaped like one apply makes: pin, engine commit, one commit per patch. */
export class BranchShapeError extends PatcherError {
  readonly [branchShapeMarker] = true
  override readonly name = "BranchShapeError"
  static override isInstance(error: unknown): error is BranchShapeError {
    return hasMarker(error, branchShapeMarker)
  }
}

const gitMarker = defineMarker("git")
/** A git command we did not expect to fail did fail: the message quotes the command and git's stderr. */
export class GitCommandError extends PatcherError {
  readonly [gitMarker] = true
  override readonly name = "GitCommandError"
  constructor(
    readonly args: readonly string[],
    readonly cwd: string,
    readonly exitCode_: number,
    readonly stderr: string,
  ) {
    super(`git ${args.join(" ")} (in ${cwd}) failed with exit code ${exitCode_}:\n${stderr.trim()}`)
  }
  static override isInstance(error: unknown): error is GitCommandError {
    return hasMarker(error, gitMarker)
  }
}

const prepareMarker = defineMarker("prepare")
export class PrepareError extends PatcherError {
  readonly [prepareMarker] = true
  override readonly name = "PrepareError"
  static override isInstance(error: unknown): error is PrepareError {
    return hasMarker(error, prepareMarker)
  }
}

function hasMarker(error: unknown, marker: symbol): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    marker in error &&
    (error as Record<symbol, unknown>)[marker] === true
  )
}
