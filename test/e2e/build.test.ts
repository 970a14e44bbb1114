/**
 * `bun run patch build`: the whole path from a checkout at the pin to an installed patched binary, offline (the
 * catalog from the fixture). Needs OPENCODE_SRC; otherwise skipped by name.
 */
import { expect, test } from "bun:test"
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CATALOG_PATH, REPO_ROOT } from "./harness.ts"

const source = process.env.OPENCODE_SRC

test.skipIf(!source || !existsSync(CATALOG_PATH))(
  "patch build: check, apply, install and build --single in a copy, then the binary installed where asked runs",
  () => {
    const dir = mkdtempSync(join(tmpdir(), "cm-build-"))
    try {
      const target = join(dir, "bin", "opencode")
      const args = ["run", "patch", "build", "--opencode", source!, "--out", join(dir, "work"), "--models", CATALOG_PATH, "--install", target]
      const build = spawnSync("bun", args, { cwd: REPO_ROOT, encoding: "utf8", timeout: 600_000 })
      expect(build.status, build.stdout + build.stderr).toBe(0)
      for (const stage of ["check: the series against the checkout", "apply, install and build --single in a copy", `install to ${target}`])
        expect(build.stdout).toMatch(new RegExp(`✓ ${stage.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(\\d+\\.\\d s\\)`))
      expect(build.stdout).toContain("built the binary with upstream's build --single")
      // Its own words: no advice to build the binary it just built; the kept copy named at the end, with its removal.
      expect(build.stdout).not.toContain("--binary")
      expect(build.stdout.trim().split("\n").at(-1)).toBe(
        `The build copy is kept in ${join(dir, "work")} (about 2.6 GB: the next build reuses it). To free the space: rm -rf ${join(dir, "work")}`,
      )
      const size = readFileSync(target).length
      const version = spawnSync(target, ["--version"], { encoding: "utf8", env: { ...process.env, OPENCODE_DISABLE_AUTOUPDATE: "1" } })
      expect(version.status).toBe(0)
      // Upstream's release, with the patched branch's tip as build metadata: the binary says what it is.
      expect(version.stdout.trim()).toMatch(/^1\.18\.18\+combined-models\.[0-9a-f]{12}$/)
      // It never replaces itself with stock OpenCode: `upgrade` says how to rebuild on the release instead.
      const upgrade = spawnSync(target, ["upgrade", "1.18.19"], { encoding: "utf8", timeout: 60_000, env: { ...process.env, OPENCODE_DISABLE_AUTOUPDATE: "1" } })
      expect(upgrade.status, upgrade.stdout + upgrade.stderr).toBe(0)
      expect(upgrade.stdout + upgrade.stderr).toContain("built with the combined-models patches")
      expect(upgrade.stdout + upgrade.stderr).toContain("bun run patch build --opencode")
      expect(readFileSync(target).length).toBe(size)
      // The checkout the user gave is left as it was.
      expect(spawnSync("git", ["-C", source!, "status", "--porcelain"], { encoding: "utf8" }).stdout).toBe("")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
  600_000,
)
