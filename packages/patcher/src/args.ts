import { parseArgs as parseFlags } from "node:util"
import { UsageError } from "./errors.ts"

export const COMMANDS = ["check", "apply", "export", "prepare", "build"] as const
export type CommandName = (typeof COMMANDS)[number]

export interface ParsedArgs {
  command: CommandName
  opencode: string | undefined
  patches: string | undefined
  packages: string | undefined
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

const VALUE_FLAGS = ["opencode", "patches", "packages", "branch", "out", "models", "install"] as const
const BOOLEAN_FLAGS = ["force", "continue", "binary"] as const

/** Each command's line in the usage: its flags, then what it does. */
const COMMAND_USAGE: Record<CommandName, string> = {
  check: `  check    --opencode <dir>                         where the checkout stands vs. the pin; dry-run the series`,
  apply: `  apply    --opencode <dir> [--branch <name>] [--force] [--continue]
                                                    make the patched branch (engine commit + one commit per patch)`,
  export: `  export   --opencode <dir> [--branch <name>]       rewrite patches/ from the branch's commits`,
  build: `  build    --opencode <dir> [--install <path>] [--models <api.json>] [--out <dir>]
                                                    check, then apply, install and build --single in a copy
                                                    (default ~/.cache/opencode-combined-models/build); copy the
                                                    binary to --install`,
  prepare: `  prepare  --out <dir> --opencode <dir> [--binary [--models <api.json>]]
                                                    patched copy that runs from source: <out>/bin/opencode;
                                                    with --binary, <out>/bin/opencode is the compiled binary
                                                    (upstream's build --single) and the source launcher is
                                                    <out>/bin/opencode-source`,
}

const COMMON_FLAGS = `options of every command:
  --patches <dir>   series, patch files and upstream.json (default: this repository's patches/)
  --packages <dir>  where the engine (combined-models/) and the OpenCode 1 adapter (opencode1/) are copied from
                    (default: this repository's packages/)
  --help, -h        this command's usage`

export const USAGE = `usage: bun run patch <command> --opencode <dir> [options]

commands:
${COMMANDS.map((name) => COMMAND_USAGE[name]).join("\n")}

${COMMON_FLAGS}`

/** One command's usage, as `bun run patch <command> --help` prints it. */
export function commandUsage(command: CommandName): string {
  return `usage: bun run patch ${command} [options]\n\n${COMMAND_USAGE[command]}\n\n${COMMON_FLAGS}`
}

/**
 * The usage to print when the user asked for help (`--help`/`-h` anywhere, `help [<command>]`, or a bare `--help`), else
 * undefined. Help wins over every other flag, as in every CLI a user knows: `build --opencode x --help` prints build's usage.
 */
export function helpRequested(argv: readonly string[]): string | undefined {
  const [first, ...rest] = argv
  if (first === "help") {
    const topic = rest[0]
    return topic !== undefined && (COMMANDS as readonly string[]).includes(topic) ? commandUsage(topic as CommandName) : USAGE
  }
  if (!argv.includes("--help") && !argv.includes("-h")) return undefined
  return first !== undefined && (COMMANDS as readonly string[]).includes(first) ? commandUsage(first as CommandName) : USAGE
}

/** `node:util`'s parse errors, in this CLI's words: which flag, and the usage. */
function usageErrorOf(error: unknown): UsageError {
  const code = (error as { code?: string }).code
  const message = error instanceof Error ? error.message : String(error)
  const flag = /'(-{1,2}[^'\s]+)/.exec(message)?.[1] ?? ""
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return new UsageError(`unknown option ${flag}\n\n${USAGE}`)
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const what = message.includes("does not take an argument") ? "takes no value" : "needs a value"
    return new UsageError(`${flag.split("=")[0]} ${what}\n\n${USAGE}`)
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") return new UsageError(`unexpected argument "${/'([^']+)'/.exec(message)?.[1] ?? ""}"\n\n${USAGE}`)
  return new UsageError(`${message}\n\n${USAGE}`)
}

/** Parses `<command> --flag value --flag=value --switch` with `node:util`'s parseArgs; unknown flags and missing values are usage errors. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const [command, ...rest] = argv
  if (command === undefined) throw new UsageError(USAGE)
  if (!(COMMANDS as readonly string[]).includes(command)) throw new UsageError(`unknown command "${command}"\n\n${USAGE}`)
  let parsedFlags: { values: Record<string, string | boolean | undefined> }
  try {
    parsedFlags = parseFlags({
      args: [...rest],
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(VALUE_FLAGS.map((name) => [name, { type: "string" as const }])),
        ...Object.fromEntries(BOOLEAN_FLAGS.map((name) => [name, { type: "boolean" as const }])),
      },
    })
  } catch (error) {
    throw usageErrorOf(error)
  }
  const values: Partial<Record<(typeof VALUE_FLAGS)[number], string>> = {}
  const switches: Partial<Record<(typeof BOOLEAN_FLAGS)[number], boolean>> = {}
  for (const name of VALUE_FLAGS) {
    const value = parsedFlags.values[name]
    if (value === "") throw new UsageError(`--${name} needs a value\n\n${USAGE}`)
    if (typeof value === "string") values[name] = value
  }
  for (const name of BOOLEAN_FLAGS) if (parsedFlags.values[name] === true) switches[name] = true
  const parsed: ParsedArgs = {
    command: command as CommandName,
    opencode: values.opencode,
    patches: values.patches,
    packages: values.packages,
    branch: values.branch,
    out: values.out,
    models: values.models,
    install: values.install,
    force: switches.force ?? false,
    continue: switches.continue ?? false,
    binary: switches.binary ?? false,
  }
  // A required flag left out: the command's usage follows, so the user sees what else it takes.
  if (parsed.opencode === undefined)
    throw new UsageError(`${command} needs --opencode <dir> (an OpenCode git checkout)\n\n${commandUsage(parsed.command)}`)
  if (command === "prepare" && parsed.out === undefined) throw new UsageError(`prepare needs --out <dir>\n\n${commandUsage("prepare")}`)
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
