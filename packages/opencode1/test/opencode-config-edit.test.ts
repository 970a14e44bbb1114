import { afterAll, expect, test } from "bun:test"
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { configFileFor, editConfigFile, editGroupOrder, withGroupExclude, withGroupPriority } from "../src/config-edit.ts"

const dir = mkdtempSync(join(tmpdir(), "combined-models-config-edit-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const WITH_COMMENTS = `{
  // My providers, best first.
  "provider_priority": ["anthropic", "github-copilot"], // keep in sync with the team
  "combined_models": {
    /* tuned by hand */
    "min_providers": 2,
  },
}
`

const members = [
  { providerID: "anthropic", modelID: "claude-sonnet-4-5" },
  { providerID: "github-copilot", modelID: "claude-sonnet-4.5" },
  { providerID: "openrouter", modelID: "anthropic/claude-sonnet-4.5" },
]

test("a group's priority and exclude are written with the file's comments and formatting kept", () => {
  let text = withGroupPriority(WITH_COMMENTS, "claude-sonnet-4-5", ["github-copilot", "anthropic"])
  text = withGroupExclude(text, "claude-sonnet-4-5", "openrouter")
  expect(text).toContain("// My providers, best first.")
  expect(text).toContain("// keep in sync with the team")
  expect(text).toContain("/* tuned by hand */")
  expect(text).toContain('"min_providers": 2,')
  expect(text).toMatch(/"claude-sonnet-4-5": \{\s+"priority": \[\s+"github-copilot",\s+"anthropic"\s+\],\s+"exclude": \[\s+"openrouter"\s+\]/)
  // Bringing it back and clearing the order leave no empty leftovers.
  text = withGroupPriority(withGroupExclude(text, "claude-sonnet-4-5", "openrouter", true), "claude-sonnet-4-5", [])
  expect(text).not.toContain('"priority"')
  expect(text).not.toContain('"exclude"')
})

test("the project file is the nearest opencode.json(c) up to the repository root; global follows upstream's order", () => {
  const repo = join(dir, "repo")
  mkdirSync(join(repo, ".git"), { recursive: true })
  mkdirSync(join(repo, "src/deep"), { recursive: true })
  expect(configFileFor({ scope: "project", directory: join(repo, "src/deep"), globalDir: dir })).toBe(join(repo, "src/deep", "opencode.json"))
  writeFileSync(join(repo, "opencode.jsonc"), "{}")
  expect(configFileFor({ scope: "project", directory: join(repo, "src/deep"), globalDir: dir })).toBe(join(repo, "opencode.jsonc"))
  const global = join(dir, "global")
  mkdirSync(global)
  expect(configFileFor({ scope: "global", directory: repo, globalDir: global })).toBe(join(global, "opencode.jsonc"))
  writeFileSync(join(global, "opencode.json"), "{}")
  expect(configFileFor({ scope: "global", directory: repo, globalDir: global })).toBe(join(global, "opencode.json"))
})

test("invalid JSONC, a read-only file, or a change the schema refuses: said why, nothing changed", () => {
  const broken = join(dir, "broken.json")
  writeFileSync(broken, '{ "provider_priority": ["anthropic" }')
  const first = editConfigFile(broken, (text) => withGroupPriority(text, "g", ["anthropic"]))
  expect(first).toMatchObject({ ok: false })
  expect(!first.ok && first.message).toMatch(/is not valid JSONC \(.+ at line 1, column \d+\)/)
  expect(readFileSync(broken, "utf8")).toBe('{ "provider_priority": ["anthropic" }')

  const readOnly = join(dir, "readonly.json")
  writeFileSync(readOnly, WITH_COMMENTS)
  chmodSync(readOnly, 0o444)
  // root ignores file modes: then the same call runs in a child process as nobody.
  const second =
    process.getuid?.() === 0
      ? asNobody(readOnly)
      : editConfigFile(readOnly, (text) => withGroupPriority(text, "g", ["anthropic"]))
  expect(second).toMatchObject({ ok: false })
  expect(!second.ok && second.message).toContain("read-only")
  expect(readFileSync(readOnly, "utf8")).toBe(WITH_COMMENTS)
  chmodSync(readOnly, 0o644)

  const invalid = join(dir, "invalid.json")
  writeFileSync(invalid, '{ "combined_models": { "min_providers": 0 } }')
  const third = editConfigFile(invalid, (text) => withGroupPriority(text, "g", ["anthropic"]))
  expect(!third.ok && third.message).toContain("combined_models.min_providers")
  expect(readFileSync(invalid, "utf8")).toBe('{ "combined_models": { "min_providers": 0 } }')
})

/** `editConfigFile` on `file` in a process running as nobody (uid 65534), which file modes apply to. */
function asNobody(file: string): ReturnType<typeof editConfigFile> {
  chmodSync(dir, 0o755)
  const module = new URL("../src/config-edit.ts", import.meta.url).pathname
  // Loaded first, as root: the checkout may sit where nobody cannot read (a private temporary directory).
  const script = `const m = await import(${JSON.stringify(module)}); process.setuid(65534); console.log(JSON.stringify(m.editConfigFile(${JSON.stringify(file)}, (t) => m.withGroupPriority(t, "g", ["anthropic"]))))`
  const child = Bun.spawnSync([process.execPath, "-e", script])
  if (child.exitCode !== 0) throw new Error(child.stderr.toString())
  return JSON.parse(child.stdout.toString())
}

test("opencode combined priority|exclude: checks what is named against the group, writes, and says where", () => {
  const project = join(dir, "project")
  mkdirSync(join(project, ".git"), { recursive: true })
  const base = { group: "claude-sonnet-4-5", scope: "project" as const, directory: project, globalDir: join(dir, "global"), members }
  const written = editGroupOrder({ ...base, action: "priority", values: ["github-copilot", "anthropic"] })
  expect(written.code).toBe(0)
  expect(written.output).toContain(`"claude-sonnet-4-5" now tries github-copilot → anthropic first (written to ${join(project, "opencode.json")})`)
  expect(JSON.parse(readFileSync(join(project, "opencode.json"), "utf8"))).toEqual({ combined_models: { groups: { "claude-sonnet-4-5": { priority: ["github-copilot", "anthropic"] } } } })

  expect(editGroupOrder({ ...base, action: "priority", values: ["bedrock"] })).toMatchObject({ code: 1 })
  expect(editGroupOrder({ ...base, action: "priority", values: ["bedrock"] }).output).toContain("not a provider of")
  expect(editGroupOrder({ ...base, action: "exclude", values: ["nope/x"] }).code).toBe(1)
  expect(editGroupOrder({ ...base, members: undefined, action: "exclude", values: ["openrouter"] }).output).toContain('no combined model "claude-sonnet-4-5"')
  expect(editGroupOrder({ ...base, action: "exclude", values: ["openrouter/anthropic/claude-sonnet-4.5"] }).code).toBe(0)
  expect(JSON.parse(readFileSync(join(project, "opencode.json"), "utf8")).combined_models.groups["claude-sonnet-4-5"].exclude).toEqual(["openrouter/anthropic/claude-sonnet-4.5"])
})

test("the order view: providers in routing order then what is excluded; moves and excludes written to the chosen file", async () => {
  const { movedOrder, orderGroupFor, orderRows, writeOrderChange } = await import("../src/order-view.ts")
  const providers = [
    { id: "combined", name: "Combined", models: { "claude-sonnet-4-5": { name: "Claude Sonnet 4.5", options: { members: [...members, { providerID: "anthropic", modelID: "claude-sonnet-4-5-20250929" }] } } } },
  ]
  const config = { combined_models: { groups: { "claude-sonnet-4-5": { exclude: ["amazon-bedrock"] } } } }
  const rows = orderRows({ providers, config, group: "claude-sonnet-4-5" })
  expect(rows).toEqual([
    { id: "anthropic", providerID: "anthropic", excluded: false },
    { id: "github-copilot", providerID: "github-copilot", excluded: false },
    { id: "openrouter", providerID: "openrouter", excluded: false },
    { id: "amazon-bedrock", providerID: "amazon-bedrock", excluded: true },
  ])
  expect(movedOrder(rows, "github-copilot", -1)).toEqual(["github-copilot", "anthropic", "openrouter"])
  expect(movedOrder(rows, "anthropic", -1)).toEqual(["anthropic", "github-copilot", "openrouter"])
  expect(movedOrder(rows, "openrouter", 1)).toEqual(["anthropic", "github-copilot", "openrouter"])
  expect(orderGroupFor(providers, { providerID: "anthropic", modelID: "x" })).toBe("claude-sonnet-4-5")

  const globalDir = join(dir, "order-global")
  mkdirSync(globalDir, { recursive: true })
  writeFileSync(join(globalDir, "opencode.jsonc"), "{\n  // global settings\n}\n")
  const base = { rows, group: "claude-sonnet-4-5", scope: "global" as const, directory: dir, globalDir }
  expect(writeOrderChange({ ...base, change: { type: "move", providerID: "openrouter", delta: -1 } })).toMatchObject({ ok: true, changed: true })
  expect(writeOrderChange({ ...base, change: { type: "include", id: "amazon-bedrock" } })).toMatchObject({ ok: true })
  const text = readFileSync(join(globalDir, "opencode.jsonc"), "utf8")
  expect(text).toContain("// global settings")
  expect(text).toContain('"priority": [\n          "anthropic",\n          "openrouter",\n          "github-copilot"\n        ]')
})
