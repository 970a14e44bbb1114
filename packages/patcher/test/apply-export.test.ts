import { afterEach, beforeEach, describe, expect, test } from "bun:test"
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { runApply, type ApplyOptions } from "../src/commands/apply.ts"
import { runCheck } from "../src/commands/check.ts"
import { runExport } from "../src/commands/export.ts"
import { BranchDivergedError, DirtyCheckoutError, PatchDoesNotApplyError } from "../src/errors.ts"
import { readSeries } from "../src/series.ts"
import {
  appSource,
  collectLog,
  commitAll,
  makeFakePackages,
  makeFakeUpstream,
  makePatchesDir,
  OPENCODE_PACKAGE_JSON_TEXT,
  scratchDir,
  standardSpecs,
  writeFiles,
  type FakeUpstream,
} from "./helpers.ts"

const BRANCH = "combined-models/v0.0.1"
let scratch: ReturnType<typeof scratchDir>
let upstream: FakeUpstream
let packagesDir: string
let patchesDir: string

beforeEach(() => {
  scratch = scratchDir()
  upstream = makeFakeUpstream(scratch.path)
  packagesDir = makeFakePackages(scratch.path)
  patchesDir = makePatchesDir(scratch.path, upstream, standardSpecs())
})
afterEach(() => scratch.cleanup())

function apply(overrides: Partial<ApplyOptions> = {}) {
  const output = collectLog()
  const result = runApply({
    opencode: upstream.dir,
    patchesDir,
    packagesDir,
    branch: undefined,
    force: false,
    continue: false,
    log: output.log,
    ...overrides,
  })
  return { result, text: output.text() }
}

function thrown(run: () => unknown): Error {
  try {
    run()
  } catch (error) {
    return error as Error
  }
  throw new Error("expected an error")
}

function branchLog(): string[] {
  return upstream.git.output(["log", "--format=%an <%ae>|%cn <%ce>|%B%x00", `${upstream.pin}..${BRANCH}`]).split("\0\n").map((entry) => entry.replace(/\0$/, "").trim())
}

describe("apply", () => {
  test("creates the branch at the pin: the engine commit, then one commit per patch, and checks it out", () => {
    const { result } = apply()
    expect(result.action).toBe("created")
    expect(upstream.git.currentBranch()).toBe(BRANCH)
    expect(upstream.git.output(["rev-list", "--count", `${upstream.pin}..HEAD`])).toBe("3")
    const log = branchLog()
    const identity = "opencode-combined-models <noreply@opencode-combined-models.invalid>"
    expect(log).toEqual([
      `${identity}|${identity}|Depend on the diff library\n\nNeeded by the status line.`,
      `${identity}|${identity}|Route requests through the engine\n\nThe session asks the engine which provider serves the step,\n\nso failover happens in one place.`,
      `${identity}|${identity}|combined-models: add the engine package`,
    ])
    // The engine commit: runtime files only.
    const engineFiles = upstream.git.output(["show", "--name-only", "--format=", `${BRANCH}~2`]).split("\n").sort()
    expect(engineFiles).toEqual([
      "packages/combined-models-opencode1/package.json",
      "packages/combined-models-opencode1/src/index.ts",
      "packages/combined-models/config.schema.json",
      "packages/combined-models/package.json",
      "packages/combined-models/src/cli/main.ts",
      "packages/combined-models/src/index.ts",
      "packages/opencode/package.json",
    ])
    const packageJson = readFileSync(join(upstream.dir, "packages/opencode/package.json"), "utf8")
    expect(packageJson).toContain('"@ai-sdk/anthropic": "3.0.82",\n    "@opencode-combined-models/opencode1": "workspace:*",\n    "@opentui/solid"')
    expect(readFileSync(join(upstream.dir, "packages/opencode/src/app.ts"), "utf8")).toContain("engineRoute(25)")
  })

  test("refuses a dirty tree and lists the dirty paths", () => {
    writeFiles(upstream.dir, { "README.md": "local edit\n", "scratch.txt": "new\n" })
    const error = thrown(() => apply())
    expect(DirtyCheckoutError.isInstance(error)).toBe(true)
    expect(error.message).toContain(" M README.md")
    expect(error.message).toContain("?? scratch.txt")
    expect(upstream.git.branchExists(BRANCH)).toBe(false)
  })

  test("is idempotent: a second run says up to date and changes nothing", () => {
    const first = apply().result
    upstream.git.run(["checkout", "-q", "--detach", upstream.pin])
    const second = apply()
    expect(second.result.action).toBe("up-to-date")
    expect(second.result.tip).toBe(first.tip)
    expect(second.text).toContain(`branch ${BRANCH} is up to date`)
    expect(upstream.git.currentBranch()).toBe(BRANCH)
  })

  test("the same series gives the same commit hashes (fixed identity and dates)", () => {
    const first = apply().result.tip
    upstream.git.run(["checkout", "-q", "--detach", upstream.pin])
    upstream.git.run(["branch", "-D", BRANCH])
    expect(apply().result.tip).toBe(first)
  })

  test("a branch with other content is explained, and rebuilt only with --force", () => {
    apply()
    const [, second] = readSeries(patchesDir)
    writeFileSync(second!.path, second!.text.replace("Needed by the status line.", "Needed by the footer."))
    const error = thrown(() => apply())
    expect(BranchDivergedError.isInstance(error)).toBe(true)
    expect(error.message).toContain('commit 3 (patch 2) has a different message: "Depend on the diff library"')
    expect(error.message).toContain("--force")
    const forced = apply({ force: true })
    expect(forced.result.action).toBe("rebuilt")
    expect(upstream.git.output(["log", "-1", "--format=%b", BRANCH]).trim()).toBe("Needed by the footer.")
  })

  test("a conflicting patch names the hunk, leaves the conflict on the branch, and --continue finishes the series", () => {
    // Upstream (the new pin) changed the line the first patch edits.
    writeFiles(upstream.dir, { "packages/opencode/src/app.ts": appSource((lines) => (lines[2] = "export const line3 = upstream(3)")) })
    const newPin = commitAll(upstream.git, "release: v0.0.2")
    writeFileSync(join(patchesDir, "upstream.json"), JSON.stringify({ version: "0.0.2", commit: newPin, branch: BRANCH }))
    const error = thrown(() => apply())
    expect(PatchDoesNotApplyError.isInstance(error)).toBe(true)
    expect(error.message).toContain("0001-route-requests-through-the-engine.patch does not apply")
    expect(error.message).toContain("hunk 1 of 2 in packages/opencode/src/app.ts does not apply: @@ -1,6 +1,6 @@")
    expect(error.message).toContain("bun run patch apply --continue")
    expect(upstream.git.currentBranch()).toBe(BRANCH)
    const conflicted = readFileSync(join(upstream.dir, "packages/opencode/src/app.ts"), "utf8")
    expect(conflicted).toContain("<<<<<<<")

    // The maintainer resolves and commits with the prepared message, then continues.
    writeFiles(upstream.dir, {
      "packages/opencode/src/app.ts": appSource((lines) => {
        lines[2] = "export const line3 = engineRoute(upstream(3))"
        lines[24] = "export const line25 = engineRoute(25)"
      }),
    })
    upstream.git.run(["add", "packages/opencode/src/app.ts"])
    const messageFile = join(upstream.dir, ".git", "COMBINED_MODELS_COMMIT_MSG")
    commitAllWithMessageFile(messageFile)
    const continued = apply({ continue: true })
    expect(continued.result.action).toBe("continued")
    expect(upstream.git.output(["rev-list", "--count", `${newPin}..HEAD`])).toBe("3")

    // export turns the resolution into the refreshed patch, after which apply agrees the branch is up to date.
    runExport({ opencode: upstream.dir, patchesDir, branch: undefined, log: () => {} })
    expect(readFileSync(join(patchesDir, "0001-route-requests-through-the-engine.patch"), "utf8")).toContain(
      "+export const line3 = engineRoute(upstream(3))",
    )
    expect(apply().result.action).toBe("up-to-date")
  })
})

function commitAllWithMessageFile(messageFile: string): void {
  upstream.git
    .withEnv({ GIT_AUTHOR_NAME: "m", GIT_AUTHOR_EMAIL: "m@x.invalid", GIT_COMMITTER_NAME: "m", GIT_COMMITTER_EMAIL: "m@x.invalid" })
    .run(["commit", "-q", "--no-verify", "-F", messageFile])
}

describe("export", () => {
  test("round trip: export right after apply reproduces the patch files byte for byte", () => {
    apply()
    const exportedDir = join(scratch.path, "exported")
    cpSync(patchesDir, exportedDir, { recursive: true })
    for (const file of readdirSync(exportedDir)) if (file.endsWith(".patch")) writeFileSync(join(exportedDir, file), "stale\n")
    const output = collectLog()
    runExport({ opencode: upstream.dir, patchesDir: exportedDir, branch: undefined, log: output.log })
    for (const file of readdirSync(patchesDir)) {
      expect(`${file}:\n${readFileSync(join(exportedDir, file), "utf8")}`).toBe(`${file}:\n${readFileSync(join(patchesDir, file), "utf8")}`)
    }
    expect(readdirSync(exportedDir).sort()).toEqual(readdirSync(patchesDir).sort())
  })

  test("a patch keeps its file name while its Description is unchanged", () => {
    const [first] = readSeries(patchesDir)
    const renamed = join(patchesDir, "0001-route.patch")
    writeFileSync(renamed, first!.text)
    rmSync(first!.path)
    writeFileSync(join(patchesDir, "series"), readFileSync(join(patchesDir, "series"), "utf8").replace(first!.name, "0001-route.patch"))
    apply()
    runExport({ opencode: upstream.dir, patchesDir, branch: undefined, log: () => {} })
    expect(readFileSync(join(patchesDir, "series"), "utf8")).toBe("# test series\n0001-route.patch\n0002-depend-on-the-diff-library.patch\n")
    expect(readFileSync(renamed, "utf8")).toBe(first!.text)
  })

  test("the engine package and the engine dependency line never reach a patch", () => {
    apply()
    const exported = runExport({ opencode: upstream.dir, patchesDir, branch: undefined, log: () => {} })
    const all = exported.map((patch) => patch.text).join("\n")
    expect(all).not.toContain('"@opencode-combined-models/opencode1"')
    expect(all).not.toContain("packages/combined-models")
    // The package.json patch still applies to a pristine upstream file.
    expect(OPENCODE_PACKAGE_JSON_TEXT).toContain('"ai": "6.0.168",\n    "zod"')
    expect(exported[1]?.text).toContain('     "ai": "6.0.168",\n+    "diff": "8.0.2",\n     "zod": "4.1.8"')
  })

  test("a new commit on the branch becomes a new patch; a dropped one is removed with its file", () => {
    apply()
    writeFiles(upstream.dir, { "packages/opencode/src/app.ts": appSource((lines) => {
      lines[2] = "export const line3 = engineRoute(3)"
      lines[24] = "export const line25 = engineRoute(25)"
      lines[14] = "export const line15 = label(15)"
    }) })
    upstream.git.run(["add", "-A"])
    upstream.git
      .withEnv({ GIT_AUTHOR_NAME: "m", GIT_AUTHOR_EMAIL: "m@x.invalid", GIT_COMMITTER_NAME: "m", GIT_COMMITTER_EMAIL: "m@x.invalid" })
      .run(["commit", "-q", "--no-verify", "-m", "Label the serving provider\n\nPeople want to see who answered."])
    // Drop the dependency patch (second commit after the engine) by rebuilding the branch without it.
    upstream.git
      .withEnv({ GIT_COMMITTER_NAME: "m", GIT_COMMITTER_EMAIL: "m@x.invalid" })
      .run(["rebase", "-q", "--onto", `${BRANCH}~2`, `${BRANCH}~1`, BRANCH])
    const output = collectLog()
    runExport({ opencode: upstream.dir, patchesDir, branch: undefined, log: output.log })
    expect(readFileSync(join(patchesDir, "series"), "utf8")).toBe(
      "# test series\n0001-route-requests-through-the-engine.patch\n0002-label-the-serving-provider.patch\n",
    )
    expect(existsSync(join(patchesDir, "0002-depend-on-the-diff-library.patch"))).toBe(false)
    expect(output.text()).toContain("removed 0002-depend-on-the-diff-library.patch")
    const added = readFileSync(join(patchesDir, "0002-label-the-serving-provider.patch"), "utf8")
    expect(added.startsWith("Description: Label the serving provider\n People want to see who answered.\nAuthor: opencode-combined-models\nForwarded: not-needed\n---\ndiff --git a/packages/opencode/src/app.ts")).toBe(true)
  })

  test("check on the applied branch says already applied and up to date", () => {
    apply()
    const output = collectLog()
    const exitCode = runCheck({ opencode: upstream.dir, patchesDir, packagesDir, branch: undefined, log: output.log })
    expect(exitCode).toBe(0)
    expect(output.text()).toContain(`(branch ${BRANCH}; packages/opencode at version 0.0.1): already applied, 3 commits on top of the pin`)
    expect(output.text()).toContain(`branch ${BRANCH} is up to date with the series`)
  })
})
