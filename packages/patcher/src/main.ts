#!/usr/bin/env bun
import { resolve } from "node:path"
import { helpRequested, parseArgs, type ParsedArgs } from "./args.ts"
import { runApply } from "./commands/apply.ts"
import { runBuild } from "./commands/build.ts"
import { runCheck } from "./commands/check.ts"
import { runExport } from "./commands/export.ts"
import { runPrepare } from "./commands/prepare.ts"
import { PatcherError } from "./errors.ts"
import { DEFAULT_PACKAGES_DIR, DEFAULT_PATCHES_DIR } from "./series.ts"

/** Runs one command and returns the process exit code; everything it says goes through `log` / `logError`. */
export function main(
  argv: readonly string[],
  log: (line: string) => void = (line) => console.log(line),
  logError: (line: string) => void = (line) => console.error(line),
): number {
  const help = helpRequested(argv)
  if (help !== undefined) {
    log(help)
    return 0
  }
  try {
    const args = parseArgs(argv)
    return runCommand(args, log)
  } catch (error) {
    if (PatcherError.isInstance(error)) {
      logError(`${error.exitCode === 2 ? "" : "error: "}${error.message}`)
      return error.exitCode
    }
    throw error
  }
}

function runCommand(args: ParsedArgs, log: (line: string) => void): number {
  const opencode = resolve(args.opencode ?? ".")
  const patchesDir = resolve(args.patches ?? DEFAULT_PATCHES_DIR)
  const packagesDir = resolve(args.packages ?? DEFAULT_PACKAGES_DIR)
  switch (args.command) {
    case "check":
      return runCheck({ opencode, patchesDir, packagesDir, branch: args.branch, log })
    case "apply":
      runApply({ opencode, patchesDir, packagesDir, branch: args.branch, force: args.force, continue: args.continue, log })
      return 0
    case "export":
      runExport({ opencode, patchesDir, branch: args.branch, log })
      return 0
    case "build":
      runBuild({
        opencode,
        patchesDir,
        packagesDir,
        out: args.out === undefined ? undefined : resolve(args.out),
        models: args.models === undefined ? undefined : resolve(args.models),
        install: args.install,
        log,
      })
      return 0
    case "prepare":
      runPrepare({
        out: resolve(args.out ?? ""),
        opencode,
        patchesDir,
        packagesDir,
        binary: args.binary ? { models: args.models === undefined ? undefined : resolve(args.models) } : undefined,
        log,
      })
      return 0
  }
}

if (import.meta.main) process.exit(main(process.argv.slice(2)))
