import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs"
import { homedir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { PrepareError } from "../errors.ts"
import { shellQuote } from "../prepare-files.ts"
import { runCheck } from "./check.ts"
import { elapsed, runPrepare } from "./prepare.ts"

export interface BuildOptions {
  opencode: string
  patchesDir: string
  packagesDir: string
  /** Where the build happens (a copy of the checkout; default under ~/.cache). */
  out?: string
  /** The models.dev catalog the binary embeds; needed offline. */
  models?: string
  /** Copy the binary here when it is built. */
  install?: string
  log: (line: string) => void
}

/**
 * The user's whole path to a patched binary, in stages: check the series against the checkout, prepare a patched
 * copy (apply, install) and build it with upstream's `build --single` (prepare's own stages: one implementation for
 * this command, the end-to-end suite and `prepare --binary`), then copy the binary where asked. The checkout itself
 * is never touched. Each stage says how long it took; a failure names the stage.
 */
export function runBuild(options: BuildOptions): string {
  const { log } = options
  const out = resolve(options.out ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "opencode-combined-models", "build"))
  const stage = <T>(name: string, run: () => T): T => {
    const started = performance.now()
    log(`▶ ${name}`)
    try {
      const result = run()
      log(`✓ ${name} (${elapsed(started)})`)
      return result
    } catch (error) {
      log(`✗ ${name} failed`)
      throw error
    }
  }
  stage("check: the series against the checkout", () => {
    const code = runCheck({ opencode: options.opencode, patchesDir: options.patchesDir, packagesDir: options.packagesDir, branch: undefined, log: (line) => log(`  ${line}`) })
    if (code !== 0) throw new PrepareError(`check failed: the series does not apply to ${options.opencode} as written (see above)`)
  })
  const prepared = stage("apply, install and build --single in a copy", () =>
    runPrepare({
      out,
      opencode: options.opencode,
      patchesDir: options.patchesDir,
      packagesDir: options.packagesDir,
      binary: { models: options.models },
      log: (line) => log(`  ${line}`),
    }),
  )
  const binary = prepared.binary
  if (!binary) throw new PrepareError("prepare built no binary")
  if (!options.install) {
    log(`binary: ${binary}`)
    log(buildCopyNote(out, { installed: false }))
    return binary
  }
  const target = resolve(options.install)
  stage(`install to ${target}`, () => {
    mkdirSync(dirname(target), { recursive: true })
    // Copied next to the target and renamed over it, so a running OpenCode at that path is never half-written.
    const temporary = `${target}.combined-models-${process.pid}`
    try {
      copyFileSync(binary, temporary)
      chmodSync(temporary, 0o755)
      renameSync(temporary, target)
    } catch (error) {
      rmSync(temporary, { force: true })
      throw error
    }
  })
  log(`binary: ${target}`)
  const earlier = earlierSessionsNote(process.env)
  if (earlier) log(earlier)
  log(buildCopyNote(out, { installed: true }))
  return target
}

/**
 * Builds before this one kept their sessions in `opencode-combined-models.db` (they were built on a channel of their
 * own); this one opens OpenCode's `opencode.db`. When that older database is there, say where those sessions went and
 * how to open them, once, at the end of the build that changes it.
 */
export function earlierSessionsNote(env: Record<string, string | undefined>): string | undefined {
  const data = join(env.XDG_DATA_HOME || join(env.HOME || homedir(), ".local", "share"), "opencode")
  const earlier = join(data, "opencode-combined-models.db")
  if (!existsSync(earlier)) return undefined
  return (
    `Sessions: this binary opens OpenCode's own ${join(data, "opencode.db")}, as stock OpenCode does. Sessions from an ` +
    `earlier combined-models build are in ${earlier}: OPENCODE_DB=opencode-combined-models.db opencode session list`
  )
}

/**
 * The last words of a build: the copy it worked in is large (a clone, node_modules, the build output: about 2.6 GB at
 * v1.18.18) and kept, because the next build after a change reuses it; where it is and how to remove it.
 */
export function buildCopyNote(out: string, input: { installed: boolean }): string {
  const binary = join(out, "bin", "opencode")
  return (
    `The build copy is kept in ${out} (about 2.6 GB: the next build reuses it${input.installed ? "" : `; the binary is ${binary}`}). ` +
    `To free the space: rm -rf ${shellQuote(out)}${input.installed ? "" : " (after copying the binary out)"}`
  )
}

