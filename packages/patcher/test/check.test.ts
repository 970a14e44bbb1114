import { afterEach, beforeEach, describe, expect, test } from "bun:test"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { runCheck } from "../src/commands/check.ts"
import { Git } from "../src/git.ts"
import { main } from "../src/main.ts"
import { DEFAULT_PACKAGES_DIR, DEFAULT_PATCHES_DIR, readSeries } from "../src/series.ts"
import {
  appSource,
  collectLog,
  commitAll,
  makeFakePackages,
  makeFakeUpstream,
  makePatchesDir,
  scratchDir,
  standardSpecs,
  writeFiles,
  type FakeUpstream,
} from "./helpers.ts"

let scratch: ReturnType<typeof scratchDir>
let upstream: FakeUpstream
let packagesDir: string

beforeEach(() => {
  scratch = scratchDir()
  upstream = makeFakeUpstream(scratch.path)
  packagesDir = makeFakePackages(scratch.path)
})
afterEach(() => scratch.cleanup())

function check(patchesDir: string, opencode = upstream.dir) {
  const output = collectLog()
  const exitCode = runCheck({ opencode, patchesDir, packagesDir, branch: undefined, log: output.log })
  return { exitCode, text: output.text() }
}

/** Everything in a repository that check must leave alone: refs, HEAD, index, status and the object count. */
function repositoryState(git: Git): string {
  return [
    git.output(["show-ref"]),
    git.output(["rev-parse", "HEAD"]),
    git.output(["ls-files", "-s"]),
    git.output(["status", "--porcelain"]),
    git.output(["count-objects"]),
  ].join("\n---\n")
}

describe("check: where the checkout stands", () => {
  test("on the pin: says so and the series dry-runs clean", () => {
    const patchesDir = makePatchesDir(scratch.path, upstream, standardSpecs())
    const { exitCode, text } = check(patchesDir)
    expect(exitCode).toBe(0)
    expect(text).toContain("is the pinned commit (v0.0.1)")
    expect(text).toContain("packages/opencode at version 0.0.1")
    expect(text).toContain("ok     0001-route-requests-through-the-engine.patch")
    expect(text).toContain("ok     0002-depend-on-the-diff-library.patch")
    expect(text).toContain("check passed")
  })

  test("ahead of the pin: counts the commits", () => {
    const patchesDir = makePatchesDir(scratch.path, upstream, standardSpecs())
    writeFiles(upstream.dir, { "NEWS.md": "next\n" })
    commitAll(upstream.git, "next")
    writeFiles(upstream.dir, { "NEWS.md": "next 2\n" })
    commitAll(upstream.git, "next 2")
    const { exitCode, text } = check(patchesDir)
    expect(text).toContain("is 2 commits ahead of the pin (v0.0.1")
    expect(exitCode).toBe(0)
  })

  test("behind the pin: counts the commits", () => {
    writeFiles(upstream.dir, { "NEWS.md": "next\n" })
    const newerPin = commitAll(upstream.git, "release: v0.0.2")
    const patchesDir = makePatchesDir(scratch.path, { ...upstream, pin: newerPin }, standardSpecs())
    upstream.git.run(["checkout", "-q", "--detach", upstream.pin])
    const { text } = check(patchesDir)
    expect(text).toContain("is 1 commit behind the pin (v0.0.1")
  })

  test("an unrelated repository: the pinned commit is not in it, and check fails", () => {
    const patchesDir = makePatchesDir(scratch.path, upstream, standardSpecs())
    // Same files but its own history: a fork's re-import, not a clone of upstream.
    const other = makeFakeUpstream(scratch.path, "other", "someone else\n")
    const { exitCode, text } = check(patchesDir, other.dir)
    expect(text).toContain(`the pinned commit ${upstream.pin} (v0.0.1) is not in this repository`)
    expect(exitCode).toBe(1)
  })

  test("not a git checkout: a clear message and exit code 1 through the CLI", () => {
    const errors: string[] = []
    const exitCode = main(["check", "--opencode", scratch.path, "--patches", DEFAULT_PATCHES_DIR], () => {}, (line) => errors.push(line))
    expect(exitCode).toBe(1)
    expect(errors.join("\n")).toContain(`${scratch.path} is not a git checkout (fatal: not a git repository`)
  })

  test("the dry run leaves the checkout exactly as it was", () => {
    const patchesDir = makePatchesDir(scratch.path, upstream, standardSpecs())
    const before = repositoryState(upstream.git)
    expect(check(patchesDir).exitCode).toBe(0)
    expect(repositoryState(upstream.git)).toBe(before)
  })
})

describe("check: defects in the series", () => {
  test("a hunk that no longer applies is named: patch file, hunk number, @@ header, file and git's reason", () => {
    const patchesDir = makePatchesDir(scratch.path, upstream, standardSpecs())
    // Upstream moved on under the second hunk of the first patch.
    const [first] = readSeries(patchesDir)
    if (!first) throw new Error("no patch")
    writeFileSync(first.path, first.text.replace(" export const line24 = 24\n", " export const line24 = 2400\n"))
    const { exitCode, text } = check(patchesDir)
    expect(exitCode).toBe(1)
    expect(text).toContain("FAIL   0001-route-requests-through-the-engine.patch")
    expect(text).toContain(
      "hunk 2 of 2 in packages/opencode/src/app.ts does not apply: @@ -22,7 +22,7 @@ export const line21 = 21",
    )
    expect(text).toContain("git: error: patch failed: packages/opencode/src/app.ts:22")
    expect(text).toContain("check FAILED")
  })

  test("more than 3 lines of context is reported as a defect even though the patch applies", () => {
    const specs = standardSpecs()
    specs[0] = { ...specs[0]!, context: 5 }
    const patchesDir = makePatchesDir(scratch.path, upstream, specs)
    const { exitCode, text } = check(patchesDir)
    expect(exitCode).toBe(1)
    expect(text).toContain("DEFECT 0001-route-requests-through-the-engine.patch: hunk 1 in packages/opencode/src/app.ts")
    expect(text).toContain("has 5 lines of trailing context, at most 3 allowed")
    expect(text).toContain("ok     0001-route-requests-through-the-engine.patch")
  })

  test("a patch without a Description is a defect named by file", () => {
    const patchesDir = makePatchesDir(scratch.path, upstream, standardSpecs())
    const [first] = readSeries(patchesDir)
    if (!first) throw new Error("no patch")
    writeFileSync(first.path, readFileSync(first.path, "utf8").replace(/^Description: .*\n/, ""))
    const { exitCode, text } = check(patchesDir)
    expect(exitCode).toBe(1)
    expect(text).toContain('DEFECT 0001-route-requests-through-the-engine.patch: the header has no "Description:" line')
  })

  test("the conflicting 3-way case says so and stops; later patches are listed as not checked", () => {
    const patchesDir = makePatchesDir(scratch.path, upstream, standardSpecs())
    writeFiles(upstream.dir, { "packages/opencode/src/app.ts": appSource((lines) => (lines[2] = "export const line3 = upstream(3)")) })
    commitAll(upstream.git, "upstream edits line 3")
    writeFileSync(join(patchesDir, "upstream.json"), JSON.stringify({ version: "0.0.2", commit: upstream.git.output(["rev-parse", "HEAD"]), branch: "b" }))
    const { exitCode, text } = check(patchesDir)
    expect(exitCode).toBe(1)
    expect(text).toContain("hunk 1 of 2 in packages/opencode/src/app.ts does not apply: @@ -1,6 +1,6 @@")
    expect(text).toContain("a 3-way merge conflicts in packages/opencode/src/app.ts")
    expect(text).toContain("not checked (they come after the failure): 0002-depend-on-the-diff-library.patch")
  })
})

// Runs against a real checkout of the pin (OPENCODE_SRC=/work/oc-pin) with this repository's own series. check only
// reads the checkout: its dry run uses a throwaway index and object directory.
test.skipIf(!process.env.OPENCODE_SRC)(
  "check against the real OpenCode checkout at the pin (OPENCODE_SRC)",
  () => {
    const opencode = process.env.OPENCODE_SRC ?? ""
    const before = repositoryState(new Git(opencode))
    const output = collectLog()
    const exitCode = runCheck({ opencode, patchesDir: DEFAULT_PATCHES_DIR, packagesDir: DEFAULT_PACKAGES_DIR, branch: undefined, log: output.log })
    expect(output.text()).toContain("is the pinned commit (v1.18.18)")
    expect(output.text()).toContain("check passed")
    expect(exitCode).toBe(0)
    expect(repositoryState(new Git(opencode))).toBe(before)
  },
  120_000,
)
