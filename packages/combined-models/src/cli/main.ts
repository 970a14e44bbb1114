#!/usr/bin/env bun
/**
 * `combined-models <command>`: each command lives in its own module exporting `run(args): Promise<number>`
 * (the exit code), loaded only when asked for so `--help` stays instant.
 */
export {}

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run: (args: string[]) => Promise<number> }> }> = {
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

const [commandName, ...args] = process.argv.slice(2)
if (!commandName || commandName === "--help" || commandName === "-h" || commandName === "help") {
  console.log(usage())
  process.exit(commandName ? 0 : 2)
}
const command = COMMANDS[commandName]
if (!command) {
  console.error(`combined-models: unknown command "${commandName}"\n\n${usage()}`)
  process.exit(2)
}
process.exitCode = await (await command.load()).run(args)
