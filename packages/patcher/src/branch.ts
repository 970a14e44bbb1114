import { ENGINE_COMMIT_MESSAGE } from "./engine.ts"
import { BranchShapeError } from "./errors.ts"
import type { Git } from "./git.ts"

export interface BranchCommit {
  commit: string
  tree: string
  parents: string[]
  message: string
}

/** The commits between the pin and the branch tip, oldest first (first-parent line). */
export function listBranchCommits(git: Git, pinCommit: string, branch: string): BranchCommit[] {
  if (!git.succeeds(["merge-base", "--is-ancestor", pinCommit, `refs/heads/${branch}`])) {
    throw new BranchShapeError(
      `Branch ${branch} does not contain the pinned commit ${pinCommit.slice(0, 12)}: it was not made by apply for ` +
        `this pin. Use another --branch, or delete it (git branch -D ${branch}) if it is stale.`,
    )
  }
  const output = git.output([
    "log",
    "--reverse",
    "--first-parent",
    "--format=%H%x00%T%x00%P%x00%B%x1e",
    `${pinCommit}..refs/heads/${branch}`,
  ])
  return output
    .split("\x1e")
    .map((record) => record.replace(/^\n/, ""))
    .filter((record) => record !== "")
    .map((record) => {
      const [commit = "", tree = "", parents = "", message = ""] = record.split("\0")
      return { commit, tree, parents: parents.split(" ").filter(Boolean), message }
    })
}

export function subjectOf(message: string): string {
  return message.split("\n")[0] ?? ""
}

export function isEngineCommit(commit: Pick<BranchCommit, "message">): boolean {
  return subjectOf(commit.message) === subjectOf(ENGINE_COMMIT_MESSAGE)
}

export type BranchComparison = { same: true } | { same: false; difference: string }

/** Same content = same number of commits, same trees and same messages, in order (hashes may differ by dates). */
export function compareCommitContent(
  existing: ReadonlyArray<{ tree: string; message: string }>,
  expected: ReadonlyArray<{ tree: string; message: string }>,
): BranchComparison {
  const normalise = (message: string) => message.replace(/\s+$/, "")
  for (let index = 0; index < Math.max(existing.length, expected.length); index++) {
    const have = existing[index]
    const want = expected[index]
    const label = index === 0 ? "the engine commit" : `commit ${index + 1} (patch ${index})`
    if (!have) return { same: false, difference: `the branch lacks ${label}: "${subjectOf(want?.message ?? "")}"` }
    if (!want) return { same: false, difference: `the branch has an extra commit: "${subjectOf(have.message)}"` }
    if (have.tree !== want.tree) return { same: false, difference: `${label} "${subjectOf(want.message)}" has different content` }
    if (normalise(have.message) !== normalise(want.message)) {
      return { same: false, difference: `${label} has a different message: "${subjectOf(have.message)}"` }
    }
  }
  return { same: true }
}
