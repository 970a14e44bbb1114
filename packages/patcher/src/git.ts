import { GitCommandError } from "./errors.ts"

export interface GitResult {
  exitCode: number
  stdout: string
  stderr: string
}

export interface GitRunOptions {
  stdin?: string | Uint8Array
  /** Return the result instead of throwing when git exits non-zero. */
  allowFailure?: boolean
}

/**
 * A git runner bound to a directory and extra environment. Always argument arrays, never a shell string. `LC_ALL=C`
 * because we read git's messages (`patch failed: <file>:<line>`) and they are translated otherwise.
 */
export class Git {
  constructor(
    readonly cwd: string,
    readonly env: Readonly<Record<string, string>> = {},
  ) {}

  withEnv(env: Readonly<Record<string, string>>): Git {
    return new Git(this.cwd, { ...this.env, ...env })
  }

  run(args: readonly string[], options: GitRunOptions = {}): GitResult {
    const processResult = Bun.spawnSync({
      cmd: ["git", ...args],
      cwd: this.cwd,
      env: { ...process.env, ...this.env, LC_ALL: "C", GIT_TERMINAL_PROMPT: "0" },
      stdin: options.stdin === undefined ? "ignore" : Buffer.from(options.stdin),
      stdout: "pipe",
      stderr: "pipe",
    })
    const result: GitResult = {
      exitCode: processResult.exitCode ?? 1,
      stdout: processResult.stdout.toString(),
      stderr: processResult.stderr.toString(),
    }
    if (result.exitCode !== 0 && !options.allowFailure) {
      throw new GitCommandError(args, this.cwd, result.exitCode, result.stderr)
    }
    return result
  }

  /** stdout without its trailing newline. */
  output(args: readonly string[], options: GitRunOptions = {}): string {
    return this.run(args, options).stdout.replace(/\n$/, "")
  }

  succeeds(args: readonly string[]): boolean {
    return this.run(args, { allowFailure: true }).exitCode === 0
  }

  /** The full hash of `revision` as a commit, or undefined when it does not resolve to one here. */
  resolveCommit(revision: string): string | undefined {
    const result = this.run(["rev-parse", "--verify", "--quiet", `${revision}^{commit}`], { allowFailure: true })
    return result.exitCode === 0 ? result.stdout.trim() : undefined
  }

  branchExists(branch: string): boolean {
    return this.succeeds(["show-ref", "--verify", "--quiet", `refs/heads/${branch}`])
  }

  /** The branch HEAD is on, or undefined when HEAD is detached. */
  currentBranch(): string | undefined {
    const result = this.run(["symbolic-ref", "--quiet", "--short", "HEAD"], { allowFailure: true })
    return result.exitCode === 0 ? result.stdout.trim() : undefined
  }
}

/** The identity and dates our commits carry. Dates are fixed (the pin's) so the same series always yields the same commit hashes. */
export interface CommitIdentity {
  name: string
  email: string
  /** git's internal date format, "<unix seconds> <offset>". */
  date: string
}

export const PATCHER_IDENTITY_NAME = "opencode-combined-models"
export const PATCHER_IDENTITY_EMAIL = "noreply@opencode-combined-models.invalid"

export function identityEnv(identity: CommitIdentity): Record<string, string> {
  return {
    GIT_AUTHOR_NAME: identity.name,
    GIT_AUTHOR_EMAIL: identity.email,
    GIT_AUTHOR_DATE: identity.date,
    GIT_COMMITTER_NAME: identity.name,
    GIT_COMMITTER_EMAIL: identity.email,
    GIT_COMMITTER_DATE: identity.date,
  }
}
