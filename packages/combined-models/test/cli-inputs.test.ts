import { afterAll, expect, test } from "bun:test"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseJsonc, readJsonFile, substituteVariables, usageProblem } from "../src/cli/inputs.ts"

const dir = mkdtempSync(join(tmpdir(), "cm-inputs-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test("JSONC as OpenCode reads it: comments and trailing commas, strings untouched (a `,}` inside one too)", () => {
  const text = `{
    // a comment
    "a": "keep ,} and ,] and // and /* */ as written", /* another */
    "b": [1, 2,],
  }`
  expect(parseJsonc(text)).toEqual({ a: "keep ,} and ,] and // and /* */ as written", b: [1, 2] })
  expect(() => parseJsonc('{ "a": 1,, }')).toThrow(/at line 1, column \d+/)
})

test("{env:…} and {file:…} as OpenCode substitutes them; a {file:…} on a comment line is left alone", async () => {
  const configPath = join(dir, "opencode.jsonc")
  writeFileSync(join(dir, "key.txt"), 'sk-"quoted"\n')
  const text = '{\n  // {file:nope.txt}\n  "a": "{env:CM_TEST_VAR}", "b": "{env:CM_UNSET}", "c": "{file:key.txt}"\n}'
  const out = await substituteVariables(text, { configPath, env: { CM_TEST_VAR: "from-env" } })
  expect(parseJsonc(out)).toEqual({ a: "from-env", b: "", c: 'sk-"quoted"' })
  await expect(substituteVariables('{"c": "{file:missing.txt}"}', { configPath })).rejects.toThrow('bad file reference: "{file:missing.txt}"')
})

test("readJsonFile names the file and the problem", async () => {
  const bad = join(dir, "bad.jsonc")
  writeFileSync(bad, '{ "provider_priority": [ "anthropic" ')
  const read = await readJsonFile(bad, "config", true)
  expect(read.ok).toBe(false)
  expect(!read.ok && read.message).toMatch(new RegExp(`^config ${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: not valid JSON \\(.*line 1`))
})

test("every CLI's flag errors name the flag (node:util parseArgs underneath)", () => {
  const { parseArgs } = require("node:util") as typeof import("node:util")
  const problem = (args: string[]) => {
    try {
      parseArgs({ args, strict: true, allowPositionals: false, options: { json: { type: "boolean" }, catalog: { type: "string" } } })
      return "parsed"
    } catch (error) {
      return usageProblem(error)
    }
  }
  expect(problem(["--nope"])).toBe("unknown option --nope")
  expect(problem(["--catalog"])).toBe("--catalog needs a value")
  expect(problem(["--json=1"])).toBe("--json takes no value")
  expect(problem(["stray"])).toBe('unexpected argument "stray"')
})
