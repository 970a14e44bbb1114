import { UsageError } from "./errors.ts"

export const COMMANDS = ["check", "apply", "export", "prepare", "build"] as const
export type CommandName = (typeof COMMANDS)[number]

export interface ParsedArgs {
  command: CommandName
  opencode: string | undefined
  patches: string | undefined
  engine: string | undefined
  branch: string | undefined
  out: string | undefined
  /** prepare, build: the models.dev catalog (api.json) a binary build embeds instead of downloading it. */
  models: string | undefined
  /** build: where to copy the binary. */
  install: string | undefined
  force: boolean
  continue: boolean
  /** prepare: build the binary users run (upstream's `build --single`) as `<out>/bin/opencode`. */
  binary: boolean
}

const VALUE_FLAGS = ["opencode", "patches", "engine", "branch", "out", "models", "install"] as const
const BOOLEAN_FLAGS = ["force", "continue", "binary"] as const

export const USAGE = `usage: bun run patch <command> --opencode <dir> [options]

commands:
  check    --opencode <dir>                         where the checkout stands vs. the pin; dry-run the series
  apply    --opencode <dir> [--branch <name>] [--force] [--continue]
                                                    make the patched branch (engine commit + one commit per patch)
  export   --opencode <dir> [--branch <name>]       rewrite patches/ from the branch's commits
  build    --opencode <dir> [--install <path>] [--models <api.json>] [--out <dir>]
                                                    check, then apply, install and build --single in a copy
                                                    (default ~/.cache/opencode-combined-models/build); copy the
                                                    binary to --install
  prepare  --out <dir> --opencode <dir> [--binary [--models <api.json>]]
                                                    patched copy that runs from source: <out>/bin/opencode;
                                                    with --binary, <out>/bin/opencode is the compiled binary
                                                    (upstream's build --single) and the source launcher is
                                                    <out>/bin/opencode-source

every command:
  --patches <dir>   series, patch files and upstream.json (default: this repository's patches/)
  --engine <dir>    the engine package to copy (default: this repository's packages/combined-models)`

/** Parses `<command> --flag value --flag=value --switch`; unknown flags and missing values are usage errors. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const [command, ...rest] = argv
  if (command === undefined || command === "help" || command === "--help" || command === "-h") throw new UsageError(USAGE)
  if (!(COMMANDS as readonly string[]).includes(command)) throw new UsageError(`unknown command "${command}"\n\n${USAGE}`)
  const values: Partial<Record<(typeof VALUE_FLAGS)[number], string>> = {}
  const switches: Partial<Record<(typeof BOOLEAN_FLAGS)[number], boolean>> = {}
  for (let index = 0; index < rest.length; index++) {
    const argument = rest[index] ?? ""
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(argument)
    if (!match) throw new UsageError(`unexpected argument "${argument}"\n\n${USAGE}`)
    const [, name = "", inline] = match
    if ((BOOLEAN_FLAGS as readonly string[]).includes(name)) {
      switches[name as (typeof BOOLEAN_FLAGS)[number]] = true
    } else if ((VALUE_FLAGS as readonly string[]).includes(name)) {
      const value = inline ?? rest[++index]
      if (value === undefined || value === "") throw new UsageError(`--${name} needs a value\n\n${USAGE}`)
      values[name as (typeof VALUE_FLAGS)[number]] = value
    } else {
      throw new UsageError(`unknown option --${name}\n\n${USAGE}`)
    }
  }
  const parsed: ParsedArgs = {
    command: command as CommandName,
    opencode: values.opencode,
    patches: values.patches,
    engine: values.engine,
    branch: values.branch,
    out: values.out,
    models: values.models,
    install: values.install,
    force: switches.force ?? false,
    continue: switches.continue ?? false,
    binary: switches.binary ?? false,
  }
  if (parsed.opencode === undefined) throw new UsageError(`${command} needs --opencode <dir> (an OpenCode git checkout)`)
  if (command === "prepare" && parsed.out === undefined) throw new UsageError("prepare needs --out <dir>")
  if ((parsed.force || parsed.continue) && command !== "apply") throw new UsageError("--force and --continue are apply options")
  if (parsed.binary && command !== "prepare") throw new UsageError("--binary is a prepare option (build always builds one)")
  if (parsed.models !== undefined && command !== "build" && !(command === "prepare" && parsed.binary))
    throw new UsageError("--models is for --binary builds (the catalog the binary embeds)")
  if (parsed.install !== undefined && command !== "build") throw new UsageError("--install is a build option")
  if (parsed.branch !== undefined && (command === "prepare" || command === "build")) {
    throw new UsageError(`${command} always uses the branch named in upstream.json`)
  }
  return parsed
}
