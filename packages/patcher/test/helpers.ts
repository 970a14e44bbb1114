import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { cloneCheckout } from "../src/clone.ts"
import { Git } from "../src/git.ts"
import { formatPatchFile, patchFileName } from "../src/patch-file.ts"

/** A scratch directory removed by `cleanup()`; tests create everything they touch under it. */
export function scratchDir(): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), "patcher-test-"))
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) }
}

const TEST_IDENTITY = {
  GIT_AUTHOR_NAME: "Upstream Dev",
  GIT_AUTHOR_EMAIL: "dev@upstream.invalid",
  GIT_COMMITTER_NAME: "Upstream Dev",
  GIT_COMMITTER_EMAIL: "dev@upstream.invalid",
}

export function writeFiles(root: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), content)
  }
}

export function commitAll(git: Git, message: string): string {
  git.run(["add", "-A"])
  git.withEnv(TEST_IDENTITY).run(["commit", "-q", "--no-verify", "-m", message])
  return git.output(["rev-parse", "HEAD"])
}

/** 30 numbered lines, so hunks far apart stay separate hunks. */
export function appSource(edit: (lines: string[]) => void = () => {}): string {
  const lines = Array.from({ length: 30 }, (_, index) => `export const line${index + 1} = ${index + 1}`)
  edit(lines)
  return `${lines.join("\n")}\n`
}

export const OPENCODE_PACKAGE_JSON_TEXT = `${JSON.stringify(
  {
    name: "opencode",
    version: "0.0.1",
    dependencies: { "@ai-sdk/anthropic": "3.0.82", "@opentui/solid": "1.0.0", ai: "6.0.168", zod: "4.1.8" },
  },
  null,
  2,
)}\n`

export interface FakeUpstream {
  dir: string
  git: Git
  /** The release commit a test pins. */
  pin: string
}

/** A tiny "OpenCode": a root package.json, packages/opencode/package.json and one source file, one release commit. */
export function makeFakeUpstream(root: string, name = "upstream", readme = "fake upstream\n"): FakeUpstream {
  const dir = join(root, name)
  mkdirSync(dir, { recursive: true })
  const git = new Git(dir)
  git.run(["init", "-q", "-b", "dev"])
  writeFiles(dir, {
    "package.json": `${JSON.stringify({ name: "root", private: true, workspaces: { packages: ["packages/*"], catalog: { zod: "4.1.8" } } }, null, 2)}\n`,
    "packages/opencode/package.json": OPENCODE_PACKAGE_JSON_TEXT,
    "packages/opencode/src/app.ts": appSource(),
    "README.md": readme,
  })
  const pin = commitAll(git, "release: v0.0.1")
  return { dir, git, pin }
}

/** A small `packages/`: the engine and the OpenCode 1 adapter, with files that must not be copied (tests, node_modules). */
export function makeFakePackages(root: string): string {
  const dir = join(root, "packages")
  writeFiles(join(dir, "combined-models"), {
    "package.json": `${JSON.stringify({ name: "combined-models", version: "0.1.0", type: "module" }, null, 2)}\n`,
    "config.schema.json": "{}\n",
    "src/index.ts": "export const engine = 1\n",
    "src/cli/main.ts": "console.log('engine')\n",
    "src/index.test.ts": "// not copied\n",
    "test/engine.test.ts": "// not copied\n",
    "node_modules/dep/index.js": "// not copied\n",
  })
  writeFiles(join(dir, "opencode1"), {
    "package.json": `${JSON.stringify({ name: "@opencode-combined-models/opencode1", version: "0.1.0", type: "module" }, null, 2)}\n`,
    "src/index.ts": "export const adapter = 1\n",
    "test/adapter.test.ts": "// not copied\n",
  })
  return dir
}

export interface PatchSpec {
  description: string
  why: string[]
  /** Edits made on top of the previous patches, path → new content. */
  files: Record<string, string>
  /** Context lines for the diff (default 3, as export writes). */
  context?: number
}

/**
 * Writes a patches dir for `specs`: each patch is `git diff` of its edits in a throwaway clone of the upstream, made
 * in series order, so the series is exactly what a maintainer would export.
 */
export function makePatchesDir(root: string, upstream: FakeUpstream, specs: readonly PatchSpec[], name = "patches"): string {
  const patchesDir = join(root, name)
  mkdirSync(patchesDir, { recursive: true })
  writeFileSync(
    join(patchesDir, "upstream.json"),
    `${JSON.stringify({ version: "0.0.1", commit: upstream.pin, branch: "combined-models/v0.0.1" })}\n`,
  )
  const work = join(root, `${name}-work`)
  new Git(root).run(["clone", "-q", upstream.dir, work])
  const git = new Git(work)
  git.run(["checkout", "-q", "--detach", upstream.pin])
  const names: string[] = []
  specs.forEach((spec, index) => {
    writeFiles(work, spec.files)
    git.run(["add", "-A"])
    const diff = git.run(["diff", "--cached", `-U${spec.context ?? 3}`]).stdout
    commitAll(git, spec.description)
    const fileName = patchFileName(index + 1, spec.description)
    writeFileSync(join(patchesDir, fileName), formatPatchFile({ description: spec.description, why: spec.why, diff }))
    names.push(fileName)
  })
  rmSync(work, { recursive: true, force: true })
  writeFileSync(join(patchesDir, "series"), `# test series\n${names.join("\n")}\n`)
  return patchesDir
}

/** Two patches: one edits app.ts in two places, one adds a dependency next to where the engine's goes. */
export function standardSpecs(): PatchSpec[] {
  return [
    {
      description: "Route requests through the engine",
      why: ["The session asks the engine which provider serves the step,", "", "so failover happens in one place."],
      files: {
        "packages/opencode/src/app.ts": appSource((lines) => {
          lines[2] = "export const line3 = engineRoute(3)"
          lines[24] = "export const line25 = engineRoute(25)"
        }),
      },
    },
    {
      description: "Depend on the diff library",
      why: ["Needed by the status line."],
      files: {
        "packages/opencode/package.json": `${JSON.stringify(
          {
            name: "opencode",
            version: "0.0.1",
            dependencies: { "@ai-sdk/anthropic": "3.0.82", "@opentui/solid": "1.0.0", ai: "6.0.168", diff: "8.0.2", zod: "4.1.8" },
          },
          null,
          2,
        )}\n`,
      },
    },
  ]
}

export function collectLog(): { lines: string[]; log: (line: string) => void; text: () => string } {
  const lines: string[] = []
  return { lines, log: (line) => lines.push(line), text: () => lines.join("\n") }
}

/** A checkout of the real pin in `dest`, made the only way a snapshot with missing blobs allows (upstream.md). */
export function clonePinnedOpenCode(source: string, dest: string, commit: string): Git {
  return cloneCheckout({ source, dest, commit })
}
