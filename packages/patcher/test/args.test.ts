import { expect, test } from "bun:test"
import { parseArgs } from "../src/args.ts"

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
