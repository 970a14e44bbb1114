import { describe, expect, test } from "bun:test"
import { parseArgs } from "../src/args.ts"
import { addEngineDependency, removeEngineDependency } from "../src/engine.ts"
import { UsageError } from "../src/errors.ts"
import {
  commitMessageOf,
  findContextDefects,
  formatPatchFile,
  headerOfCommitMessage,
  parsePatchFile,
  parseUnifiedDiff,
  patchFileName,
} from "../src/patch-file.ts"
import { bunfigText, cutWorkspaces, launcherScript, OPENCODE_WORKSPACE_CLOSURE, shellQuote } from "../src/prepare-files.ts"
import { describeApplyFailure } from "../src/series-build.ts"
import { formatSeries, parseSeries } from "../src/series.ts"
import { OPENCODE_PACKAGE_JSON_TEXT } from "./helpers.ts"

const DIFF = `diff --git a/src/a.ts b/src/a.ts
index 1111111..2222222 100644
--- a/src/a.ts
+++ b/src/a.ts
@@ -1,4 +1,4 @@
 one
-two
+TWO
 three
 four
@@ -20,7 +20,7 @@ export function f() {
 a
 b
 c
-d
+D
 e
 f
 g
`

describe("patch file format", () => {
  test("formats and parses back the header, the why text (with a blank line) and the diff", () => {
    const text = formatPatchFile({ description: "Do a thing", why: ["Because.", "", "Really."], diff: DIFF })
    expect(text.startsWith("Description: Do a thing\n Because.\n .\n Really.\nAuthor: opencode-combined-models\nForwarded: not-needed\n---\ndiff --git")).toBe(true)
    const parsed = parsePatchFile(text)
    if (!parsed.ok) throw new Error(parsed.problem)
    expect(parsed.patch.header.description).toBe("Do a thing")
    expect(parsed.patch.header.why).toEqual(["Because.", "", "Really."])
    expect(parsed.patch.diff).toBe(DIFF)
  })

  test("a header without Description is refused with what is missing", () => {
    const parsed = parsePatchFile(`Author: someone\n---\n${DIFF}`)
    expect(parsed).toEqual({ ok: false, problem: 'the header has no "Description:" line (what the patch does)' })
  })

  test("a file without the --- separator or without a diff is refused", () => {
    expect(parsePatchFile("Description: x\n").ok).toBe(false)
    expect(parsePatchFile("Description: x\n---\nnothing here\n").ok).toBe(false)
  })

  test("commit message and header convert both ways", () => {
    const message = commitMessageOf({ description: "Subject", why: ["line one", "", "line two"] })
    expect(message).toBe("Subject\n\nline one\n\nline two\n")
    expect(headerOfCommitMessage(message)).toEqual({ description: "Subject", why: ["line one", "", "line two"] })
    expect(commitMessageOf({ description: "Only", why: [] })).toBe("Only\n")
  })

  test("file names: four-digit position and a slug of the description", () => {
    expect(patchFileName(3, "Show the serving provider (TUI)!")).toBe("0003-show-the-serving-provider-tui.patch")
    expect(patchFileName(12, "???")).toBe("0012-patch.patch")
    expect(patchFileName(1, "Keep and validate provider_priority and combined_models in OpenCode's config")).toBe(
      "0001-keep-and-validate-provider-priority-and-combined.patch",
    )
  })

  test("series: comments and blank lines ignored; rewriting keeps the leading comment block", () => {
    expect(parseSeries("# head\n\na.patch\n  b.patch  # trailing\n")).toEqual(["a.patch", "b.patch"])
    expect(formatSeries(["c.patch"], "# one\n# two\na.patch\n")).toBe("# one\n# two\nc.patch\n")
  })
})

describe("diff structure", () => {
  test("hunks are numbered per file with their @@ line and old start", () => {
    const [section] = parseUnifiedDiff(DIFF)
    expect(section?.path).toBe("src/a.ts")
    expect(section?.hunks.map((hunk) => [hunk.numberInFile, hunk.oldStart, hunk.headerLine])).toEqual([
      [1, 1, "@@ -1,4 +1,4 @@"],
      [2, 20, "@@ -20,7 +20,7 @@ export function f() {"],
    ])
  })

  test("3 lines of context per side pass; 4 leading or trailing, or 7 between changes, are defects", () => {
    expect(findContextDefects(parseUnifiedDiff(DIFF))).toEqual([])
    const wide = DIFF.replace(" a\n b\n c\n-d", " z\n a\n b\n c\n-d").replace(" e\n f\n g\n", " e\n f\n g\n h\n")
    const defects = findContextDefects(parseUnifiedDiff(wide))
    expect(defects.map((defect) => [defect.where, defect.lines, defect.hunk.numberInFile])).toEqual([
      ["leading", 4, 2],
      ["trailing", 4, 2],
    ])
    const between = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,9 +1,9 @@\n-a\n+A\n 1\n 2\n 3\n 4\n 5\n 6\n 7\n-b\n+B\n"
    expect(findContextDefects(parseUnifiedDiff(between)).map((defect) => defect.where)).toEqual(["between"])
  })

  test("git's 'patch failed: <file>:<line>' is matched to the hunk that starts there", () => {
    const failure = describeApplyFailure(
      { name: "0001-x.patch", diff: DIFF },
      "error: patch failed: src/a.ts:20\nerror: src/a.ts: patch does not apply",
      { result: "impossible", reason: "no index lines" },
    )
    expect(failure.path).toBe("src/a.ts")
    expect(failure.hunk?.numberInFile).toBe(2)
    expect(failure.hunksInFile).toBe(2)
  })
})

describe("engine dependency in OpenCode's package.json", () => {
  test("is added at its sorted place, keeping 2-space JSON and the trailing newline, and removed again", () => {
    const added = addEngineDependency(OPENCODE_PACKAGE_JSON_TEXT)
    expect(added).toContain('"@ai-sdk/anthropic": "3.0.82",\n    "@opencode-combined-models/opencode1": "workspace:*",\n    "@opentui/solid"')
    expect(added.endsWith("}\n")).toBe(true)
    expect(addEngineDependency(added)).toBe(added)
    expect(removeEngineDependency(added)).toBe(OPENCODE_PACKAGE_JSON_TEXT)
  })

  test("a package.json that is not canonically formatted is refused rather than reformatted", () => {
    expect(() => addEngineDependency('{"dependencies": {}}\n')).toThrow(/2-space JSON/)
  })
})

describe("prepare pieces", () => {
  test("workspace cut: object form keeps the catalog, array form is replaced", () => {
    const root = `${JSON.stringify({ name: "opencode", workspaces: { packages: ["packages/*", "packages/console/*"], catalog: { zod: "4" } } }, null, 2)}\n`
    const cut = JSON.parse(cutWorkspaces(root))
    expect(cut.workspaces.packages).toEqual([...OPENCODE_WORKSPACE_CLOSURE])
    expect(cut.workspaces.catalog).toEqual({ zod: "4" })
    expect(cut.workspaces.packages).toContain("packages/combined-models")
    expect(cut.workspaces.packages).toContain("packages/sdk/js")
    expect(JSON.parse(cutWorkspaces('{"workspaces":["packages/*"]}')).workspaces).toEqual([...OPENCODE_WORKSPACE_CLOSURE])
  })

  test("bunfig preloads the absolute OpenTUI preload path and defines the release version", () => {
    const text = bunfigText("/o/node_modules/@opentui/solid/scripts/preload.js", "1.18.18")
    expect(text).toContain('preload = ["/o/node_modules/@opentui/solid/scripts/preload.js"]')
    expect(text).toContain('[define]\nOPENCODE_VERSION = "\\"1.18.18\\""\n')
  })

  test("launcher runs index.ts with the bunfig, no auto-install, browser conditions and all arguments", () => {
    const script = launcherScript({ bun: "/usr/bin/bun", bunfig: "/out dir/bunfig.toml", entry: "/out dir/opencode/packages/opencode/src/index.ts" })
    expect(script.split("\n")[0]).toBe("#!/bin/sh")
    expect(script).toContain(
      `exec /usr/bin/bun --config='/out dir/bunfig.toml' run --no-install --conditions=browser '/out dir/opencode/packages/opencode/src/index.ts' "$@"`,
    )
    expect(shellQuote("it's")).toBe(`'it'\\''s'`)
  })
})

describe("arguments", () => {
  test("flags with separate or inline values and switches", () => {
    const args = parseArgs(["apply", "--opencode", "/oc", "--branch=b", "--force"])
    expect(args).toMatchObject({ command: "apply", opencode: "/oc", branch: "b", force: true, continue: false })
  })

  test("usage errors name what is wrong", () => {
    const usage = (argv: string[]) => {
      try {
        parseArgs(argv)
      } catch (error) {
        expect(UsageError.isInstance(error)).toBe(true)
        return (error as Error).message
      }
      throw new Error("expected a usage error")
    }
    expect(usage(["check"])).toContain("needs --opencode")
    // A required flag left out prints the command's usage after the line that says which.
    expect(usage(["build"])).toStartWith("build needs --opencode <dir> (an OpenCode git checkout)\n\nusage: bun run patch build")
    expect(usage(["build"])).toContain("--install <path>")
    expect(usage(["prepare", "--opencode", "x"])).toStartWith("prepare needs --out <dir>\n\nusage: bun run patch prepare")
    expect(usage(["frobnicate"])).toContain('unknown command "frobnicate"')
    expect(usage(["check", "--opencode", "x", "--force"])).toContain("apply options")
    expect(usage(["prepare", "--opencode", "x"])).toContain("--out")
    expect(usage(["check", "--opencode", "x", "--binary"])).toContain("prepare option")
    expect(usage(["prepare", "--opencode", "x", "--out", "o", "--install", "/bin/x"])).toContain("--install is a build option")
    expect(usage(["prepare", "--opencode", "x", "--out", "o", "--models", "api.json"])).toContain("--models is for --binary")
  })

  test("prepare --binary with the catalog the build embeds", () => {
    expect(parseArgs(["prepare", "--opencode", "/oc", "--out", "/o", "--binary", "--models", "/api.json"])).toMatchObject({
      command: "prepare",
      binary: true,
      models: "/api.json",
    })
    expect(parseArgs(["prepare", "--opencode", "/oc", "--out", "/o"])).toMatchObject({ binary: false, models: undefined })
    expect(parseArgs(["build", "--opencode", "/oc", "--install", "~/.local/bin/opencode", "--models", "/api.json"])).toMatchObject({
      command: "build",
      install: "~/.local/bin/opencode",
      models: "/api.json",
    })
  })
})
