import { expect, test } from "bun:test"
import { COMMANDS, parseArgs, USAGE } from "../src/args.ts"
import { main } from "../src/main.ts"

const firstLine = (argv: string[]) => {
  try {
    parseArgs(argv)
    return "parsed"
  } catch (error) {
    return (error as Error).message.split("\n")[0]
  }
}

test("flags through node:util's parseArgs, errors in this CLI's words", () => {
  expect(parseArgs(["check", "--opencode", "../oc"]).opencode).toBe("../oc")
  expect(parseArgs(["apply", "--opencode=../oc", "--force"])).toMatchObject({ opencode: "../oc", force: true })
  expect(firstLine(["check", "--nope"])).toBe("unknown option --nope")
  expect(firstLine(["check", "--opencode"])).toBe("--opencode needs a value")
  expect(firstLine(["check", "--opencode="])).toBe("--opencode needs a value")
  expect(firstLine(["check", "stray", "--opencode", "x"])).toBe('unexpected argument "stray"')
  expect(firstLine(["apply", "--force=1", "--opencode", "x"])).toBe("--force takes no value")
  expect(firstLine(["nope"])).toBe('unknown command "nope"')
})

test("--help anywhere prints that command's usage on stdout and exits 0", () => {
  const run = (argv: string[]) => {
    const out: string[] = []
    const err: string[] = []
    const code = main(argv, (line) => out.push(line), (line) => err.push(line))
    return { code, out: out.join("\n"), err: err.join("\n") }
  }
  for (const command of COMMANDS) {
    for (const argv of [[command, "--help"], [command, "-h"], [command, "--opencode", "/nowhere", "--help"], ["help", command]]) {
      const { code, out, err } = run(argv)
      expect({ argv, code, err }).toEqual({ argv, code: 0, err: "" })
      expect(out).toStartWith(`usage: bun run patch ${command}`)
      expect(out).toContain(`  ${command} `)
      for (const other of COMMANDS.filter((name) => name !== command)) expect(out).not.toContain(`\n  ${other} `)
    }
  }
  for (const argv of [["--help"], ["-h"], ["help"]]) expect(run(argv)).toMatchObject({ code: 0, out: USAGE })
  // Asked for nothing: the usage is the error.
  expect(run([])).toMatchObject({ code: 2, out: "" })
})
