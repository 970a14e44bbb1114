import { afterAll, expect, test } from "bun:test"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describeWithCatalog, FIXTURE_PATH } from "./catalog-fixture.ts"

const MAIN = join(import.meta.dir, "../src/cli/main.ts")
const dir = mkdtempSync(join(tmpdir(), "cli-groups-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Every provider of the catalog (`--all`): what grouping makes of it, whatever this machine has connected. */
async function groups(...args: string[]) {
  return groupsIn({}, "--all", ...args)
}

async function groupsIn(where: { cwd?: string; env?: Record<string, string> }, ...args: string[]) {
  const proc = Bun.spawn(["bun", MAIN, "groups", ...args], { stdout: "pipe", stderr: "pipe", cwd: where.cwd, env: { ...process.env, ...where.env } })
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  return { stdout, stderr, code }
}

function file(name: string, text: string) {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

describeWithCatalog("combined-models groups", () => {
  test("--json lists every member, aliases included", async () => {
    const { stdout, code } = await groups("--catalog", FIXTURE_PATH, "--json")
    expect(code).toBe(0)
    const parsed = JSON.parse(stdout) as {
      groups: { id: string; name: string; members: { providerID: string; modelID: string }[]; left_out: { providerID: string; modelID: string; reasons: string[] }[] }[]
    }
    // Each group says what grouping left out of it and why (the source --explain reads too).
    const withLeftOut = parsed.groups.find((group) => group.left_out.length > 0)
    expect(withLeftOut?.left_out[0]?.reasons[0]).toEqual(expect.any(String))
    const sonnet = parsed.groups.find((group) => group.id === "claude-sonnet-4-5")!
    expect(sonnet.name).toBe("Claude Sonnet 4.5")
    expect(sonnet.members).toContainEqual({ providerID: "anthropic", modelID: "claude-sonnet-4-5" })
    expect(sonnet.members).toContainEqual({ providerID: "anthropic", modelID: "claude-sonnet-4-5-20250929" })
    expect(sonnet.members).toContainEqual({ providerID: "github-copilot", modelID: "claude-sonnet-4.5" })
    expect(Object.keys(parsed)).toEqual(["groups"])
    expect(Object.keys(sonnet)).toEqual(["id", "name", "members", "left_out"])
  })

  test("the table and --explain", async () => {
    const table = await groups("--catalog", FIXTURE_PATH)
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/^claude-sonnet-4-5\s+Claude Sonnet 4\.5\s+\d+\s+200k\s+/m)
    const explained = await groups("--catalog", FIXTURE_PATH, "--explain", "claude-sonnet-4-5")
    expect(explained.code).toBe(0)
    expect(explained.stdout).toContain('region profile "us."')
    expect(explained.stdout).toContain("github-copilot/claude-sonnet-4.5")
    const missing = await groups("--catalog", FIXTURE_PATH, "--explain", "deepseek-chat")
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain("moving alias")
  })

  test("--explain lists the members left out of the group and why", async () => {
    const { stdout, code } = await groups("--catalog", FIXTURE_PATH, "--explain", "gpt-4o-mini")
    expect(code).toBe(0)
    expect(stdout).toContain("left out of this group:")
    expect(stdout).toContain("  poe/openai/gpt-4o-mini\n      output limit 4,096 is below half the group's typical 16,384")
    expect(stdout).toContain("combined_models.groups.gpt-4o-mini.add")
  })

  test("a JSONC config with manual rules changes the groups", async () => {
    const config = file(
      "opencode.jsonc",
      `{
        // OpenCode accepts comments and trailing commas
        "provider_priority": ["github-copilot", "anthropic"],
        "combined_models": {
          "groups": { "claude-sonnet-4-5": { "name": "Sonnet", "exclude": ["amazon-bedrock"], }, },
        },
      }`,
    )
    const { stdout, code } = await groups("--catalog", FIXTURE_PATH, "--config", config, "--json")
    expect(code).toBe(0)
    const sonnet = (JSON.parse(stdout) as { groups: { id: string; name: string; members: { providerID: string }[] }[] }).groups.find(
      (group) => group.id === "claude-sonnet-4-5",
    )!
    expect(sonnet.name).toBe("Sonnet")
    expect(sonnet.members[0]!.providerID).toBe("github-copilot")
    expect(sonnet.members.some((member) => member.providerID === "amazon-bedrock")).toBe(false)
  })

  test("errors: no catalog, missing file, not JSON, not a catalog, bad config", async () => {
    // No --catalog and no catalog OpenCode kept: say where it was looked for and how to get one.
    const none = await groupsIn({ env: { XDG_CACHE_HOME: join(dir, "empty-cache"), OPENCODE_MODELS_PATH: "", OPENCODE_MODELS_URL: "" } }, "--all")
    expect(none.code).toBe(2)
    expect(none.stderr).toContain("--catalog <api.json> is needed: OpenCode has not kept a catalog here yet")

    const missing = await groups("--catalog", join(dir, "nope.json"))
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain("nope.json: no such file")

    const notJson = await groups("--catalog", file("bad.json", "{ nope"))
    expect(notJson.code).toBe(1)
    expect(notJson.stderr).toContain("bad.json: not valid JSON")

    const notCatalog = await groups("--catalog", file("list.json", "[1,2]"))
    expect(notCatalog.code).toBe(1)
    expect(notCatalog.stderr).toContain("is not a models.dev api.json")

    const badConfig = await groups(
      "--catalog",
      FIXTURE_PATH,
      "--config",
      file("bad-config.json", JSON.stringify({ combined_models: { min_providers: 0, grups: {} } })),
    )
    expect(badConfig.code).toBe(1)
    expect(badConfig.stderr).toContain("combined_models")
    expect(badConfig.stderr).toContain("min_providers")
  })

  test("warnings go to stderr and do not fail", async () => {
    const config = file("warn.json", JSON.stringify({ provider_priority: ["nosuchprovider"], combined_models: { exclude: ["nowhere/x"] } }))
    const { code, stderr, stdout } = await groups("--catalog", FIXTURE_PATH, "--config", config, "--json")
    expect(code).toBe(0)
    expect(stderr).toContain("provider_priority[0]")
    expect(stderr).toContain("combined_models.exclude[0]")
    expect(() => JSON.parse(stdout)).not.toThrow()
  })
})

describeWithCatalog("combined-models groups sees the providers OpenCode would load", () => {
  type Listed = { groups: { id: string; members: { providerID: string; modelID: string }[] }[] }
  const sonnetProviders = (stdout: string) =>
    [...new Set((JSON.parse(stdout) as Listed).groups.find((group) => group.id === "claude-sonnet-4-5")?.members.map((m) => m.providerID) ?? [])].sort()

  test("enabled_providers and disabled_providers, as OpenCode applies them", async () => {
    const enabled = file("enabled.jsonc", '{ // only two\n "enabled_providers": ["amazon-bedrock", "openrouter"], }')
    const only = await groups("--catalog", FIXTURE_PATH, "--config", enabled, "--json")
    expect(only.code, only.stderr).toBe(0)
    expect(sonnetProviders(only.stdout)).toEqual(["amazon-bedrock", "openrouter"])
    const disabled = file("disabled.json", JSON.stringify({ disabled_providers: ["openrouter"] }))
    const without = await groups("--catalog", FIXTURE_PATH, "--config", disabled, "--json")
    expect(sonnetProviders(without.stdout)).not.toContain("openrouter")
    expect(sonnetProviders(without.stdout)).toContain("anthropic")
  })

  test("a provider defined only in the config joins with its models; whitelist narrows a provider", async () => {
    const config = file(
      "own.json",
      JSON.stringify({
        enabled_providers: ["anthropic", "my-proxy"],
        provider: {
          "my-proxy": {
            name: "My proxy",
            models: {
              "claude-sonnet-4-5": {
                name: "Claude Sonnet 4.5",
                family: "claude-sonnet",
                tool_call: true,
                reasoning: true,
                attachment: true,
                temperature: true,
                release_date: "2025-09-29",
                modalities: { input: ["text", "image"], output: ["text"] },
                limit: { context: 200000, output: 64000 },
              },
            },
          },
          anthropic: { whitelist: ["claude-sonnet-4-5"] },
        },
      }),
    )
    const { stdout, stderr, code } = await groups("--catalog", FIXTURE_PATH, "--config", config, "--json")
    expect(code, stderr).toBe(0)
    const sonnet = (JSON.parse(stdout) as Listed).groups.find((group) => group.id === "claude-sonnet-4-5")!
    expect(sonnet.members).toEqual([
      { providerID: "anthropic", modelID: "claude-sonnet-4-5" },
      { providerID: "my-proxy", modelID: "claude-sonnet-4-5" },
    ])
  })
})

describeWithCatalog("combined-models groups without --config reads what OpenCode reads", () => {
  test("the global config, then the project's (nearer wins), merged as OpenCode merges them", async () => {
    const home = join(dir, "home")
    const project = join(dir, "project")
    const { mkdirSync } = await import("node:fs")
    mkdirSync(join(home, ".config", "opencode"), { recursive: true })
    mkdirSync(join(project, ".git"), { recursive: true })
    writeFileSync(join(home, ".config", "opencode", "opencode.json"), JSON.stringify({ disabled_providers: ["openrouter"], provider_priority: ["anthropic"] }))
    writeFileSync(join(project, "opencode.jsonc"), '{ // this project prefers Copilot\n "provider_priority": ["github-copilot", "anthropic"] }')
    const env = { HOME: home, XDG_CONFIG_HOME: "", OPENCODE_CONFIG: "", OPENCODE_DISABLE_PROJECT_CONFIG: "" }
    const { stdout, stderr, code } = await groupsIn({ cwd: project, env }, "--catalog", FIXTURE_PATH, "--all", "--json")
    expect(code, stderr).toBe(0)
    expect(stderr).toContain(`config: read ${join(home, ".config", "opencode", "opencode.json")}, ${join(project, "opencode.jsonc")}`)
    const sonnet = (JSON.parse(stdout) as { groups: { id: string; members: { providerID: string }[] }[] }).groups.find((g) => g.id === "claude-sonnet-4-5")!
    expect(sonnet.members[0]?.providerID).toBe("github-copilot")
    expect(sonnet.members.map((member) => member.providerID)).not.toContain("openrouter")
  })
})

describeWithCatalog("combined-models groups --connected", () => {
  test("only providers OpenCode can call: a key in the environment, a login in the auth store, or the config", async () => {
    const data = join(dir, "data")
    const { mkdirSync } = await import("node:fs")
    mkdirSync(join(data, "opencode"), { recursive: true })
    writeFileSync(join(data, "opencode", "auth.json"), JSON.stringify({ "github-copilot": { type: "oauth", refresh: "r", access: "a", expires: 0 } }))
    const config = file("connected.json", JSON.stringify({ provider: { openrouter: { options: { apiKey: "sk-or" } } } }))
    const clean = Object.fromEntries(Object.keys(process.env).filter((name) => /API_KEY|TOKEN|AWS_/.test(name)).map((name) => [name, ""]))
    const env = { ...clean, XDG_DATA_HOME: data, ANTHROPIC_API_KEY: "sk-ant" }
    const providersOf = (stdout: string) =>
      [...new Set((JSON.parse(stdout) as { groups: { members: { providerID: string }[] }[] }).groups.flatMap((g) => g.members.map((m) => m.providerID)))].sort()
    const { stdout, stderr, code } = await groupsIn({ env }, "--catalog", FIXTURE_PATH, "--config", config, "--connected", "--json")
    expect(code, stderr).toBe(0)
    expect(providersOf(stdout)).toEqual(["anthropic", "github-copilot", "openrouter"])
    // The default: what OpenCode will load, so the preview shows the combined models the binary will list.
    const byDefault = await groupsIn({ env }, "--catalog", FIXTURE_PATH, "--config", config, "--json")
    expect(byDefault.code, byDefault.stderr).toBe(0)
    expect(providersOf(byDefault.stdout)).toEqual(["anthropic", "github-copilot", "openrouter"])
    expect(byDefault.stderr).toContain("providers OpenCode loads here: ")
    expect(byDefault.stderr).toContain("(--all: every provider of the catalog)")
    const all = await groupsIn({ env }, "--catalog", FIXTURE_PATH, "--config", config, "--all", "--json")
    expect(providersOf(all.stdout).length).toBeGreaterThan(10)
    // Bedrock through its own loader's credentials (a profile), not only the catalog's env list.
    const profile = await groupsIn({ env: { ...env, AWS_PROFILE: "work" } }, "--catalog", FIXTURE_PATH, "--config", config, "--json")
    expect(providersOf(profile.stdout)).toContain("amazon-bedrock")
  })

  test("without --catalog, the catalog OpenCode keeps in its cache dir", async () => {
    const { mkdirSync, copyFileSync } = await import("node:fs")
    const cache = join(dir, "cache")
    mkdirSync(join(cache, "opencode"), { recursive: true })
    copyFileSync(FIXTURE_PATH, join(cache, "opencode", "models.json"))
    const config = file("cached.json", JSON.stringify({ enabled_providers: ["anthropic", "github-copilot"] }))
    const env = { XDG_CACHE_HOME: cache, OPENCODE_MODELS_PATH: "", OPENCODE_MODELS_URL: "" }
    const { stdout, stderr, code } = await groupsIn({ env }, "--config", config, "--all", "--json")
    expect(code, stderr).toBe(0)
    expect(stderr).toContain(`catalog: ${join(cache, "opencode", "models.json")} (OpenCode's)`)
    expect((JSON.parse(stdout) as { groups: { id: string }[] }).groups.map((group) => group.id)).toContain("claude-sonnet-4-5")
  })

  test("without --catalog, an OPENCODE_MODELS_PATH naming no file is named in the error, not mistaken for a first run", async () => {
    const missing = join(dir, "nowhere", "api.json")
    const { stderr, code } = await groupsIn({ env: { OPENCODE_MODELS_PATH: missing } }, "--all", "--json")
    expect(code).toBe(2)
    expect(stderr).toStartWith(`combined-models groups: OPENCODE_MODELS_PATH names ${missing}, which is not there:`)
    expect(stderr).toContain("--catalog <api.json>")
  })
})
