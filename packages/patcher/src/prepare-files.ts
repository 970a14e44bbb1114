/**
 * What `prepare` writes, as pure functions of their inputs: the cut root package.json, the bunfig and the launcher.
 */
import { COPIED_PACKAGES } from "./engine.ts"

/**
 * The workspaces `packages/opencode` needs. A root `bun install` of upstream fails offline (packages/app pulls
 * ghostty-web from GitHub, the catalog pins @solidjs/start from pkg.pr.new); with the root workspaces cut to this
 * closure it installs from npm alone. See the project's shared/upstream.md.
 */
export const OPENCODE_WORKSPACE_CLOSURE: readonly string[] = [
  "packages/opencode",
  "packages/script",
  "packages/http-recorder",
  "packages/core",
  "packages/plugin",
  "packages/sdk/js",
  "packages/schema",
  "packages/llm",
  "packages/effect-sqlite-node",
  "packages/effect-drizzle-sqlite",
  "packages/tui",
  "packages/ui",
  "packages/server",
  "packages/protocol",
  "packages/codemode",
  ...COPIED_PACKAGES.map((pkg) => pkg.path),
]

/** Root package.json with its workspace list replaced by the closure; `catalog` and everything else stay. */
export function cutWorkspaces(rootPackageJsonText: string, closure: readonly string[] = OPENCODE_WORKSPACE_CLOSURE): string {
  const data = JSON.parse(rootPackageJsonText) as Record<string, unknown>
  const workspaces = data.workspaces
  if (Array.isArray(workspaces) || workspaces === undefined) {
    data.workspaces = [...closure]
  } else if (typeof workspaces === "object" && workspaces !== null) {
    data.workspaces = { ...(workspaces as Record<string, unknown>), packages: [...closure] }
  } else {
    throw new Error(`root package.json has an unexpected "workspaces": ${JSON.stringify(workspaces)}`)
  }
  return `${JSON.stringify(data, null, 2)}\n`
}

/**
 * bunfig with the OpenTUI preload by absolute path. Upstream's relative `@opentui/solid/preload` resolves from the
 * caller's working directory, and from a foreign one bun silently installs @opentui/solid from npm instead.
 * `OPENCODE_VERSION` is a define that upstream's release build sets; without it a from-source run reports its
 * version as "local", so we define it to the version of the copy (what `--version` and the server report).
 */
export function bunfigText(preloadPath: string, opencodeVersion: string): string {
  return [
    "# Written by `bun run patch prepare`: the OpenTUI preload of this install by absolute path, and the version",
    "# upstream's release build would define.",
    `preload = [${JSON.stringify(preloadPath)}]`,
    "",
    "[define]",
    `OPENCODE_VERSION = ${JSON.stringify(JSON.stringify(opencodeVersion))}`,
    "",
  ].join("\n")
}

export interface LauncherPaths {
  /** The bun executable to run (absolute, so a caller's stripped PATH still finds it). */
  bun: string
  bunfig: string
  /** packages/opencode/src/index.ts of the patched copy. */
  entry: string
}

/**
 * `bin/opencode`: runs the patched OpenCode from source with the caller's arguments, working directory and
 * environment. `--no-install` stops bun from auto-installing anything; `--conditions=browser` is what upstream's
 * own dev script uses (the Solid/OpenTUI packages resolve their browser builds).
 */
export function launcherScript(paths: LauncherPaths): string {
  return [
    "#!/bin/sh",
    "# Written by `bun run patch prepare`: the patched OpenCode, run from source.",
    `exec ${shellQuote(paths.bun)} --config=${shellQuote(paths.bunfig)} run --no-install --conditions=browser ${shellQuote(paths.entry)} "$@"`,
    "",
  ].join("\n")
}

export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./=:@%+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`
}

/** Where an install may have put `@opentui/solid/scripts/preload.js`, most specific first. */
export function preloadCandidates(opencodeRoot: string): string[] {
  return [
    `${opencodeRoot}/packages/opencode/node_modules/@opentui/solid/scripts/preload.js`,
    `${opencodeRoot}/packages/tui/node_modules/@opentui/solid/scripts/preload.js`,
    `${opencodeRoot}/node_modules/@opentui/solid/scripts/preload.js`,
  ]
}
