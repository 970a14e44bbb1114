#!/usr/bin/env bun
/**
 * `combined-models <command>`: each command lives in its own module exporting `run(args): Promise<number>`
 * (the exit code), loaded only when asked for so `--help` stays instant.
 */
export {}

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ USAGE: string; run: (args: string[]) => Promise<number> }> }> = {
  groups: { summary: "show the combined groups a catalog and config produce", load: () => import("./groups.ts") },
  rehearse: { summary: "play your groups and priorities against simulated failures", load: () => import("./rehearse.ts") },
  demo: { summary: "a scripted live failover through real AI SDK providers on loopback", load: () => import("./demo.ts") },
  schema: { summary: "print the JSON Schema of provider_priority and combined_models", load: () => import("./schema.ts") },
}

function usage() {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length))
  return [
    "usage: combined-models <command> [options]",
    "",
    ...Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`),
    "",
    "Run `combined-models <command> --help` for a command's options.",
  ].join("\n")
}

const argv = process.argv.slice(2)
// `help <command>` is `<command> --help`.
const [commandName, ...args] = argv[0] === "help" && argv[1] !== undefined && argv[1] in COMMANDS ? [argv[1], "--help"] : argv
if (!commandName) {
  console.error(usage())
  process.exit(2)
}
if (commandName === "--help" || commandName === "-h" || commandName === "help") {
  console.log(usage())
  process.exit(0)
}
const command = Object.hasOwn(COMMANDS, commandName) ? COMMANDS[commandName] : undefined
if (!command) {
  console.error(`combined-models: unknown command "${commandName}"\n\n${usage()}`)
  process.exit(2)
}
const loaded = await command.load()
// `--help` (or `-h`) anywhere after the command prints that command's usage and nothing else, as every CLI a user
// knows does: `schema --help` does not print the schema, `groups --catalog x --help` does not read x.
if (args.includes("--help") || args.includes("-h")) {
  console.log(loaded.USAGE)
  process.exit(0)
}
process.exitCode = await loaded.run(args)
