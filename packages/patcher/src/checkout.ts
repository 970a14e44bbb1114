import { existsSync, statSync } from "node:fs"
import { resolve } from "node:path"
import { NotAGitCheckoutError, PinnedCommitMissingError } from "./errors.ts"
import { Git, PATCHER_IDENTITY_EMAIL, PATCHER_IDENTITY_NAME, type CommitIdentity } from "./git.ts"
import type { UpstreamPin } from "./series.ts"

/** A git runner at the top of the OpenCode checkout, or a NotAGitCheckoutError saying why not. */
export function openCheckout(directory: string): Git {
  const absolute = resolve(directory)
  if (!existsSync(absolute)) throw new NotAGitCheckoutError(absolute, "the directory does not exist")
  if (!statSync(absolute).isDirectory()) throw new NotAGitCheckoutError(absolute, "it is a file")
  const probe = new Git(absolute).run(["rev-parse", "--show-toplevel"], { allowFailure: true })
  if (probe.exitCode !== 0) {
    throw new NotAGitCheckoutError(absolute, probe.stderr.trim().split("\n")[0] || "git rev-parse failed")
  }
  return new Git(probe.stdout.trim())
}

export function requirePinnedCommit(git: Git, pin: UpstreamPin): string {
  const commit = git.resolveCommit(pin.commit)
  if (!commit) throw new PinnedCommitMissingError(git.cwd, pin.commit, pin.version)
  return commit
}

/** Our commits carry the pin's commit date, so the same pin, engine and series always give the same hashes. */
export function patcherIdentity(git: Git, pinCommit: string): CommitIdentity {
  const date = git.output(["show", "-s", "--format=%ct", pinCommit])
  return { name: PATCHER_IDENTITY_NAME, email: PATCHER_IDENTITY_EMAIL, date: `${date} +0000` }
}

/** Paths with uncommitted changes, staged or not, and untracked files that are not ignored. */
export function dirtyPaths(git: Git): string[] {
  // --no-optional-locks: status must not refresh (write) the index of a checkout we only inspect.
  const output = git.run(["--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=all"]).stdout
  const paths: string[] = []
  const entries = output.split("\0")
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index] ?? ""
    if (entry.length < 4) continue
    paths.push(`${entry.slice(0, 2)} ${entry.slice(3)}`)
    // A rename or copy is followed by its source path as a separate entry.
    if (entry[0] === "R" || entry[0] === "C") index++
  }
  return paths
}

export type HeadPosition =
  | { kind: "on-pin" }
  | { kind: "on-patched-branch"; branch: string; commitsOnTop: number }
  | { kind: "ahead"; count: number }
  | { kind: "behind"; count: number }
  | { kind: "diverged"; ahead: number; behind: number }
  | { kind: "pin-missing" }

export interface HeadFacts {
  head: string
  branch: string | undefined
  /** `git describe --tags` of HEAD, when there are tags. */
  description: string | undefined
  /** `version` of packages/opencode/package.json at HEAD, when readable. */
  opencodeVersion: string | undefined
  position: HeadPosition
}

export function inspectHead(git: Git, pin: UpstreamPin, patchedBranch: string): HeadFacts {
  const head = git.resolveCommit("HEAD")
  if (!head) throw new NotAGitCheckoutError(git.cwd, "it has no commits")
  const branch = git.currentBranch()
  const described = git.run(["describe", "--tags", "HEAD"], { allowFailure: true })
  const packageJson = git.run(["show", "HEAD:packages/opencode/package.json"], { allowFailure: true })
  let opencodeVersion: string | undefined
  try {
    opencodeVersion = packageJson.exitCode === 0 ? (JSON.parse(packageJson.stdout).version as string) : undefined
  } catch {
    opencodeVersion = undefined
  }
  const pinCommit = git.resolveCommit(pin.commit)
  let position: HeadPosition
  if (!pinCommit) position = { kind: "pin-missing" }
  else if (head === pinCommit) position = { kind: "on-pin" }
  else {
    const ahead = Number(git.output(["rev-list", "--count", `${pinCommit}..HEAD`]))
    const behind = Number(git.output(["rev-list", "--count", `HEAD..${pinCommit}`]))
    if (branch === patchedBranch && behind === 0) position = { kind: "on-patched-branch", branch, commitsOnTop: ahead }
    else if (behind === 0) position = { kind: "ahead", count: ahead }
    else if (ahead === 0) position = { kind: "behind", count: behind }
    else position = { kind: "diverged", ahead, behind }
  }
  return {
    head,
    branch,
    description: described.exitCode === 0 ? described.stdout.trim() : undefined,
    opencodeVersion,
    position,
  }
}

export function describeHead(facts: HeadFacts, pin: UpstreamPin): string {
  const where = facts.branch ? `branch ${facts.branch}` : "detached HEAD"
  const identity = [
    facts.description ? `tag description ${facts.description}` : undefined,
    facts.opencodeVersion ? `packages/opencode at version ${facts.opencodeVersion}` : undefined,
  ]
    .filter(Boolean)
    .join(", ")
  const at = `HEAD ${facts.head.slice(0, 12)} (${where}${identity ? `; ${identity}` : ""})`
  switch (facts.position.kind) {
    case "on-pin":
      return `${at} is the pinned commit (v${pin.version})`
    case "on-patched-branch":
      return `${at}: already applied, ${commits(facts.position.commitsOnTop)} on top of the pin (v${pin.version})`
    case "ahead":
      return `${at} is ${commits(facts.position.count)} ahead of the pin (v${pin.version} ${pin.commit.slice(0, 12)})`
    case "behind":
      return `${at} is ${commits(facts.position.count)} behind the pin (v${pin.version} ${pin.commit.slice(0, 12)})`
    case "diverged":
      return (
        `${at} has diverged from the pin (v${pin.version} ${pin.commit.slice(0, 12)}): ` +
        `${commits(facts.position.ahead)} ahead, ${facts.position.behind} behind`
      )
    case "pin-missing":
      return `${at} is not the pin: the pinned commit ${pin.commit} (v${pin.version}) is not in this repository`
  }
}

function commits(count: number): string {
  return count === 1 ? "1 commit" : `${count} commits`
}
