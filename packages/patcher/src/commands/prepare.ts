import { createHash } from "node:crypto"
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { cloneCheckout } from "../clone.ts"
import { openCheckout, patcherIdentity, requirePinnedCommit } from "../checkout.ts"
import { listEngineFiles } from "../engine.ts"
import { PrepareError } from "../errors.ts"
import { Git } from "../git.ts"
import { bunfigText, cutWorkspaces, launcherScript, preloadCandidates } from "../prepare-files.ts"
import { buildSeries } from "../series-build.ts"
import { readSeries, readUpstreamPin } from "../series.ts"
import { runApply } from "./apply.ts"

export interface PrepareOptions {
  out: string
  opencode: string
  patchesDir: string
  packagesDir: string
  /**
   * Also build the binary users run (upstream's `build --single`), as `<out>/bin/opencode`; the source launcher is
   * then `<out>/bin/opencode-source`. `models`: the api.json the build embeds (offline it cannot download one).
   */
  binary?: { models?: string }
  log: (line: string) => void
}

export interface PreparedCopy {
  out: string
  opencodeRoot: string
  /** Runs the patched source with bun (`--conditions=browser`, as upstream's `bun run dev`). */
  launcher: string
  /** The compiled binary, with `binary`. */
  binary?: string
  bunfig: string
  reused: boolean
}

/** What a finished prepare leaves in `<out>/prepare-stamp.json`: enough to tell whether a re-run can reuse `<out>`. */
export interface PrepareStamp {
  tip: string
  rootPackageJson: string
  bunfig: string
  bun: string
  /**
   * What the binary was built from besides the tip, absent when none was built: the catalog it embeds (by content hash)
   * and the channel (its database's name). A stamp from before the channel was stamped has none: that copy was built
   * on another channel and is rebuilt.
   */
  binary?: { models: string; channel?: string }
}

/** The files prepare edits in the copy without committing them: restored before the series is re-applied. */
const UNCOMMITTED_EDITS = ["package.json", "bun.lock"]

/**
 * A patched copy of the checkout that runs from source offline: `<out>/opencode` (a shared clone on the patched
 * branch, root workspaces cut to the closure, installed), `<out>/bunfig.toml` and `<out>/bin/opencode`.
 */
export function runPrepare(options: PrepareOptions): PreparedCopy {
  const { log } = options
  const out = resolve(options.out)
  const opencodeRoot = join(out, "opencode")
  const paths = {
    launcher: join(out, "bin", options.binary ? "opencode-source" : "opencode"),
    binary: options.binary ? join(out, "bin", "opencode") : undefined,
    bunfig: join(out, "bunfig.toml"),
    stamp: join(out, "prepare-stamp.json"),
  }
  const binaryStamp = options.binary ? binaryStampOf(options.binary.models) : undefined
  const source = openCheckout(options.opencode)
  const pin = readUpstreamPin(options.patchesDir)
  const pinCommit = requirePinnedCommit(source, pin)
  mkdirSync(out, { recursive: true })

  if (!existsSync(join(opencodeRoot, ".git"))) {
    const started = performance.now()
    cloneCheckout({ source: source.cwd, dest: opencodeRoot, commit: pinCommit })
    log(`cloned ${source.cwd} at v${pin.version} into ${opencodeRoot} (${elapsed(started)})`)
  }
  const git = new Git(opencodeRoot)

  // Commits are reproducible (fixed identity and dates), so the expected tip is known without touching the copy.
  const expected = buildSeries({
    git,
    base: pinCommit,
    engineFiles: listEngineFiles(options.packagesDir),
    patches: readSeries(options.patchesDir),
    identity: patcherIdentity(git, pinCommit),
    objects: "private",
  })
  const expectedTip = expected.complete ? expected.commits.at(-1)?.commit : undefined
  if (expectedTip && isUpToDate(git, paths, expectedTip, binaryStamp)) {
    log(`${out} is up to date (${pin.branch} at ${expectedTip.slice(0, 12)}); nothing to do`)
    if (!paths.binary) log(SOURCE_LAUNCHER_CAVEAT(paths.launcher))
    return { out, opencodeRoot, launcher: paths.launcher, binary: paths.binary, bunfig: paths.bunfig, reused: true }
  }

  const headBranch = git.currentBranch()
  if (headBranch !== undefined || git.resolveCommit("HEAD") !== pinCommit) {
    git.run(["checkout", "-q", "HEAD", "--", ...UNCOMMITTED_EDITS], { allowFailure: true })
  }
  const applied = runApply({
    opencode: opencodeRoot,
    patchesDir: options.patchesDir,
    packagesDir: options.packagesDir,
    branch: pin.branch,
    // <out> is ours: whatever an earlier run left on the branch is rebuilt from the series.
    force: true,
    continue: false,
    log: (line) => log(`  ${line}`),
  })

  // The cut stays uncommitted, so the branch (and anything exported from it) never contains it.
  const rootPackageJson = cutWorkspaces(git.run(["show", "HEAD:package.json"]).stdout)
  writeFileSync(join(opencodeRoot, "package.json"), rootPackageJson)
  const installStarted = performance.now()
  const install = Bun.spawnSync({
    cmd: [process.execPath, "install", "--ignore-scripts"],
    cwd: opencodeRoot,
    stdout: "pipe",
    stderr: "pipe",
  })
  if (install.exitCode !== 0) {
    const output = (install.stdout.toString() + install.stderr.toString()).trim().split("\n").slice(-20).join("\n")
    throw new PrepareError(
      `bun install --ignore-scripts failed in ${opencodeRoot}:\n${output}\n` +
        "Only the npm registry has to be reachable; check the network or a proxy, then run prepare again.",
    )
  }
  log(`installed the workspace closure (${elapsed(installStarted)})`)

  const preload = preloadCandidates(opencodeRoot).find((candidate) => existsSync(candidate))
  if (!preload) {
    throw new PrepareError(
      `@opentui/solid/scripts/preload.js is not in the install under ${opencodeRoot}; did upstream move it? ` +
        "Look for it in node_modules and update preloadCandidates in packages/patcher/src/prepare-files.ts",
    )
  }
  const version = combinedVersion(opencodeVersionOf(git, pin.version), applied.tip)
  writeFileSync(paths.bunfig, bunfigText(preload, version))
  mkdirSync(join(out, "bin"), { recursive: true })
  writeFileSync(paths.launcher, launcherScript(launcherPathsFor(out)))
  chmodSync(paths.launcher, 0o755)
  if (paths.binary) {
    rmSync(paths.binary, { force: true })
    const built = buildBinary({ opencodeRoot, version, models: options.binary?.models, log })
    copyFileSync(built, paths.binary)
    chmodSync(paths.binary, 0o755)
  }
  const stamp: PrepareStamp = {
    tip: applied.tip,
    rootPackageJson,
    bunfig: readFileSync(paths.bunfig, "utf8"),
    bun: Bun.version,
    ...(binaryStamp && { binary: binaryStamp }),
  }
  writeFileSync(paths.stamp, `${JSON.stringify(stamp, null, 2)}\n`)
  const entry = paths.binary ?? paths.launcher
  log(`ready: ${entry} runs OpenCode v${pin.version} with the patches (${applied.branch} at ${applied.tip.slice(0, 12)})`)
  // With a binary built, the binary is what runs: the source launcher's caveat (and its "use --binary") is not news.
  if (!paths.binary) log(SOURCE_LAUNCHER_CAVEAT(paths.launcher))
  return { out, opencodeRoot, launcher: paths.launcher, binary: paths.binary, bunfig: paths.bunfig, reused: false }
}

/**
 * What the source launcher cannot run as the binary does. From source, OpenCode runs with `--conditions=browser`
 * (for its TUI), which makes `@smithy/eventstream-codec` resolve browser helpers that cannot decode Bedrock's
 * ConverseStream frames; `@ai-sdk/amazon-bedrock` then ends every step empty, with no error (the edge reads that as a
 * stream cut short).
 */
export const SOURCE_LAUNCHER_CAVEAT = (launcher: string) =>
  `note: ${launcher} runs from source: Amazon Bedrock's ConverseStream does not decode there (its steps end without ` +
  "a finish, so a combined model fails over from Bedrock); every other provider runs as in the binary. Use --binary " +
  "to run Bedrock faithfully."

/**
 * Upstream's local build (`bun run --cwd packages/opencode build --single`), offline: the web UI is not embedded
 * (building it needs packages from GitHub) and the catalog comes from `models` when given. Returns the binary's path,
 * after the build's own smoke test (`--version`) passed.
 */
function buildBinary(input: { opencodeRoot: string; version: string; models?: string; log: (line: string) => void }): string {
  const started = performance.now()
  const env = binaryBuildEnv({ base: process.env, version: input.version, models: input.models })
  const build = Bun.spawnSync({
    cmd: [process.execPath, "run", "--cwd", "packages/opencode", "build", "--single", "--skip-embed-web-ui"],
    cwd: input.opencodeRoot,
    env,
    stdout: "pipe",
    stderr: "pipe",
  })
  const output = (build.stdout.toString() + build.stderr.toString()).trim()
  const dist = join(input.opencodeRoot, "packages", "opencode", "dist")
  const binary = existsSync(dist)
    ? readdirSync(dist)
        .map((name) => join(dist, name, "bin", "opencode"))
        .find((path) => existsSync(path))
    : undefined
  if (build.exitCode !== 0 || !binary) {
    const tail = output.split("\n").slice(-20).join("\n")
    const hint = input.models
      ? ""
      : "\nOffline, the build cannot download the models.dev catalog: pass --models <api.json> (MODELS_DEV_API_JSON)."
    throw new PrepareError(`bun run --cwd packages/opencode build --single --skip-embed-web-ui failed in ${input.opencodeRoot}:\n${tail}${hint}`)
  }
  input.log(`built the binary with upstream's build --single (${elapsed(started)}): ${binary}`)
  return binary
}

/**
 * The environment upstream's build script runs with. The channel is the one upstream's releases are built with
 * (`latest`), because OpenCode names its database after the channel (core/src/database/database.ts at the pin:
 * `latest`, `beta` and `prod` use `opencode.db`, any other channel `opencode-<channel>.db`): the patched binary
 * replaces stock OpenCode and opens the user's own sessions. What tells it apart is the version's build metadata
 * (`combinedVersion`), which `--version`, the update check (patch 0009) and `opencode upgrade` read.
 */
export function binaryBuildEnv(input: { base: Record<string, string | undefined>; version: string; models?: string }): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(input.base)) if (value !== undefined) env[name] = value
  env.OPENCODE_VERSION = input.version
  env.OPENCODE_CHANNEL = RELEASE_CHANNEL
  if (input.models) env.MODELS_DEV_API_JSON = input.models
  return env
}

/** The channel upstream's releases carry (packages/script: a release version without `0.0.0-` means `latest`). */
export const RELEASE_CHANNEL = "latest"

/** The stamp of the binary these inputs build: the catalog it embeds and the channel it is built on. */
export function binaryStampOf(models: string | undefined): NonNullable<PrepareStamp["binary"]> {
  return { models: modelsStamp(models), channel: RELEASE_CHANNEL }
}

/** Whether a stamped binary is the one these inputs would build: the same catalog, on the same channel. */
export function sameBinary(stamped: PrepareStamp["binary"], wanted: PrepareStamp["binary"]): boolean {
  return stamped?.models === wanted?.models && stamped?.channel === wanted?.channel
}

/** A catalog's identity for the stamp: its content hash (a new catalog rebuilds the binary that embeds it). */
function modelsStamp(models: string | undefined): string {
  if (models === undefined) return "downloaded"
  if (!existsSync(models)) throw new PrepareError(`--models ${models}: no such file (a models.dev api.json)`)
  return createHash("sha256").update(readFileSync(models)).digest("hex").slice(0, 16)
}

function launcherPathsFor(out: string) {
  return {
    bun: process.execPath,
    bunfig: join(out, "bunfig.toml"),
    entry: join(out, "opencode", "packages", "opencode", "src", "index.ts"),
  }
}

function isUpToDate(
  git: Git,
  paths: { launcher: string; binary?: string; bunfig: string; stamp: string },
  expectedTip: string,
  binary: PrepareStamp["binary"],
): boolean {
  if (!existsSync(paths.stamp) || !existsSync(paths.launcher) || !existsSync(paths.bunfig)) return false
  if (paths.binary && !existsSync(paths.binary)) return false
  let stamp: PrepareStamp
  try {
    stamp = JSON.parse(readFileSync(paths.stamp, "utf8")) as PrepareStamp
  } catch {
    return false
  }
  const out = resolve(paths.stamp, "..")
  const rootPackageJson = join(git.cwd, "package.json")
  const preloadPresent = preloadCandidates(git.cwd).some((candidate) => existsSync(candidate))
  return (
    stamp.tip === expectedTip &&
    stamp.bun === Bun.version &&
    sameBinary(stamp.binary, binary) &&
    git.resolveCommit("HEAD") === expectedTip &&
    existsSync(rootPackageJson) &&
    readFileSync(rootPackageJson, "utf8") === stamp.rootPackageJson &&
    readFileSync(paths.launcher, "utf8") === launcherScript(launcherPathsFor(out)) &&
    readFileSync(paths.bunfig, "utf8") === stamp.bunfig &&
    preloadPresent
  )
}

/**
 * What the build calls itself: the upstream release, and as semver build metadata the patched branch's tip (its
 * commits are deterministic, so one series on one pin always gives the same id): `1.18.18+combined-models.3f2a9c1d0b7e`.
 * OpenCode's autoupdate then knows it is not stock (the `0009` patch), and `--version` says what the binary is.
 */
export function combinedVersion(upstream: string, tip: string): string {
  return `${upstream}+combined-models.${tip.slice(0, 12)}`
}

/** The version in the copy's packages/opencode/package.json (the release it is), or the pin's as a fallback. */
function opencodeVersionOf(git: Git, fallback: string): string {
  try {
    const version = JSON.parse(git.run(["show", "HEAD:packages/opencode/package.json"]).stdout).version
    return typeof version === "string" ? version : fallback
  } catch {
    return fallback
  }
}

/** Seconds since `started` (a `performance.now()`), as every stage reports its time. */
export function elapsed(started: number): string {
  return `${((performance.now() - started) / 1000).toFixed(1)} s`
}
