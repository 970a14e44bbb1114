/**
 * Where the pinned OpenCode 2 binary lives and how it gets there. One pin, `opencode.version` in this package's
 * `package.json`; the tests, the bench and CI all come through here.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import manifest from "../package.json" with { type: "json" }

export const OPENCODE2_VERSION: string = manifest.opencode.version

/** The platform package of this machine (`@opencode/cli` lists them as optional dependencies). */
export function platformPackage(): string {
  const os = process.platform === "win32" ? "windows" : process.platform
  return `@opencode/cli-${os}-${process.arch}`
}

export function cacheDir(version = OPENCODE2_VERSION): string {
  return process.env.OPENCODE2_CACHE
    ? join(process.env.OPENCODE2_CACHE, version)
    : join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "opencode-combined-models", "opencode2", version)
}

export function binaryPath(version = OPENCODE2_VERSION): string {
  return join(cacheDir(version), "package", "bin", process.platform === "win32" ? "opencode.exe" : "opencode")
}

export type EnsureResult = { ok: true; path: string } | { ok: false; reason: string }

/**
 * The binary's path, fetched with `npm pack` and unpacked when it is not cached yet. `OPENCODE2_BINARY` names a
 * binary the caller already has.
 */
export function ensureBinary(options: { version?: string; log?: (line: string) => void } = {}): EnsureResult {
  if (process.env.OPENCODE2_BINARY)
    return existsSync(process.env.OPENCODE2_BINARY)
      ? { ok: true, path: process.env.OPENCODE2_BINARY }
      : { ok: false, reason: `OPENCODE2_BINARY=${process.env.OPENCODE2_BINARY} does not exist` }
  const version = options.version ?? OPENCODE2_VERSION
  const path = binaryPath(version)
  if (existsSync(path)) return { ok: true, path }
  const dir = cacheDir(version)
  const spec = `${platformPackage()}@${version}`
  options.log?.(`fetching ${spec} from the npm registry into ${dir}`)
  mkdirSync(dir, { recursive: true })
  const pack = spawnSync("npm", ["pack", spec, "--silent", "--pack-destination", dir], { encoding: "utf8", timeout: 600_000 })
  if (pack.error) return { ok: false, reason: `npm pack ${spec}: ${pack.error.message} (is npm installed?)` }
  if (pack.status !== 0) return { ok: false, reason: `npm pack ${spec} failed: ${(pack.stderr || pack.stdout).trim().split("\n").slice(-3).join(" ")}` }
  const tarball = readdirSync(dir).find((name) => name.endsWith(".tgz"))
  if (!tarball) return { ok: false, reason: `npm pack ${spec} left no tarball in ${dir}` }
  // Unpacked beside the tarball under a temporary name, then renamed: a half-unpacked binary is never taken as cached.
  const staging = join(dir, "unpacking")
  rmSync(staging, { recursive: true, force: true })
  mkdirSync(staging)
  const untar = spawnSync("tar", ["xzf", join(dir, tarball), "-C", staging], { encoding: "utf8" })
  if (untar.status !== 0) return { ok: false, reason: `tar xzf ${tarball} failed: ${untar.stderr.trim()}` }
  rmSync(join(dir, "package"), { recursive: true, force: true })
  renameSync(join(staging, "package"), join(dir, "package"))
  rmSync(staging, { recursive: true, force: true })
  rmSync(join(dir, tarball), { force: true })
  return existsSync(path) ? { ok: true, path } : { ok: false, reason: `${spec} has no ${path.slice(dir.length + 1)}` }
}
