/** The commands a user runs, as processes: what they print and how they exit. */
import { expect, test } from "bun:test"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const MAIN = join(import.meta.dir, "../packages/combined-models/src/cli/main.ts")

/**
 * No credentials from this shell and an empty auth store, so which providers count as connected is the test's
 * choice (`keys`), as on a user's machine.
 */
const noCredentials = Object.fromEntries(Object.keys(process.env).filter((name) => /API_KEY|TOKEN|AWS_|GOOGLE_|GCP_|GCLOUD_|AICORE_/.test(name)).map((name) => [name, ""]))
const emptyData = mkdtempSync(join(tmpdir(), "cli-data-"))

function cliWith(keys: Record<string, string>, ...args: string[]) {
  const env = { ...process.env, ...noCredentials, XDG_DATA_HOME: emptyData, ...keys }
  const result = Bun.spawnSync(["bun", MAIN, ...args], { stdout: "pipe", stderr: "pipe", env })
  return { code: result.exitCode, out: result.stdout.toString(), err: result.stderr.toString() }
}

function cli(...args: string[]) {
  return cliWith({}, ...args)
}

test("demo: a live failover through real AI SDK clients, each tool run once", () => {
  const { code, out } = cli("demo")
  expect(code).toBe(0)
  expect(out).toContain("anthropic rate-limited, retry in 30 s → github-copilot")
  // A key to the symbols before the first turn; the cause (✗) comes before the switch it led to (↪).
  expect(out).toContain("\nkey: → step sent · ✗ failure (the cause) · ↪ failover's move · ⚙ tool call · ✓ done · [replay] ")
  expect(out.indexOf("key: ")).toBeLessThan(out.indexOf("▶ turn 1"))
  expect(out).toMatch(/\n {2}✗ anthropic rate-limited \[429\]: [^\n]*\n {2}↪ anthropic rate-limited, retry in 30 s → github-copilot\n/)
  expect(out).toMatch(/\n {2}✗ amazon-bedrock [^\n]*\n {2}↪ amazon-bedrock [^\n]*→ openrouter\n/)
  // Turn 3: the step after the tool is replayed; the turn goes on from the tool's result.
  expect(out).toContain("the next step, Bedrock is overloaded (503 ServiceUnavailableException): that step is replayed on the next provider and the turn goes on from the tool's result")
  expect(out).toContain("→ Claude Sonnet 4.5 (github-copilot) [replay]: It sends your request to the first healthy provider")
  expect(out).toContain("github-copilot could not be reached, retrying in 0.5 s")
  expect(out).toContain("→ amazon-bedrock")
  expect(out).toContain("✓ Claude Sonnet 4.5 (openrouter)")
  expect(out).toContain("read_file ran 1 time.")
  // Turn 2 skipped anthropic without a request: one request in all, the 429.
  expect(out).toContain("Requests sent: anthropic 1,")
})

test("rehearse: the user's priorities against chosen faults", () => {
  const dir = mkdtempSync(join(tmpdir(), "rehearse-"))
  const config = join(dir, "opencode.json")
  writeFileSync(
    config,
    `{
      // JSONC, as OpenCode reads it
      "provider_priority": ["openrouter", "anthropic"],
      "combined_models": { "timeouts": { "first_byte": "300ms" } },
    }`,
  )
  const keys = { OPENROUTER_API_KEY: "sk-or", ANTHROPIC_API_KEY: "sk-ant", AWS_BEARER_TOKEN_BEDROCK: "bedrock" }
  const { code, out } = cliWith(keys, "rehearse", "--config", config, "--fail", "openrouter=hang", "--fail", "anthropic=401", "--turns", "1")
  expect(code).toBe(0)
  expect(out.indexOf("openrouter/anthropic/claude-sonnet-4.5")).toBeLessThan(out.indexOf("anthropic/claude-sonnet-4-5"))
  expect(out).toContain("openrouter timed out")
  expect(out).toContain("anthropic rejected the credentials, out until its credential changes (at most 1 h) → amazon-bedrock")
  expect(out).toContain("✓ answered by Claude Sonnet 4.5 (amazon-bedrock)")
  expect(out).toContain("anthropic/*: auth, 1 h left")
})

test("rehearse: only the providers OpenCode would load are members; a fault never served is named", () => {
  const dir = mkdtempSync(join(tmpdir(), "rehearse-"))
  const config = join(dir, "opencode.json")
  writeFileSync(config, JSON.stringify({ provider_priority: ["anthropic", "github-copilot"] }))
  const keys = { ANTHROPIC_API_KEY: "sk-ant", GITHUB_TOKEN: "gho" }
  const { code, out, err } = cliWith(keys, "rehearse", "--config", config, "--turns", "1", "--fail", "anthropic=401", "--fail", "github-copilot=ok,500")
  expect(code, err).toBe(0)
  // Bedrock and OpenRouter are in the catalog, but this machine never set them up: no member, no switch to them.
  expect(out).not.toContain("amazon-bedrock")
  expect(out).toContain("members in priority order:\n  anthropic/claude-sonnet-4-5\n  anthropic/claude-sonnet-4-5-20250929\n  github-copilot/claude-sonnet-4.5\nkey: → step sent")
  expect(err).toContain("providers OpenCode loads here: anthropic, github-copilot (--all: every provider of the catalog)")
  expect(out).toContain("note: --fail github-copilot=ok,500: 1 fault not used (github-copilot got 1 request)")
  expect(cliWith(keys, "rehearse", "--config", config, "--fail", "github-copilot=429", "--turns", "1").out).toContain(
    "note: --fail github-copilot=429 was not used: the rehearsal never sent github-copilot a request",
  )
  // --all: every provider of the catalog, as before.
  expect(cliWith(keys, "rehearse", "--config", config, "--turns", "1", "--all").out).toContain("  amazon-bedrock/")
})

test("rehearse: accounts, round_robin, a token budget read ahead, and the context-window fallback", () => {
  const dir = mkdtempSync(join(tmpdir(), "rehearse-"))
  const config = join(dir, "opencode.json")
  writeFileSync(
    config,
    JSON.stringify({
      provider_priority: ["anthropic", "anthropic-work", "github-copilot", "amazon-bedrock", "openrouter"],
      combined_models: {
        strategy: "round_robin",
        accounts: { "anthropic-work": { provider: "anthropic" } },
        failover_on: ["rate_limit", "context_overflow"],
      },
    }),
  )
  const rotating = cli("rehearse", "--config", config, "--turns", "3", "--all")
  expect(rotating.code).toBe(0)
  expect(rotating.out).toContain("members in priority order; round_robin starts each turn at the next healthy one")
  expect(rotating.out).toContain("  anthropic-work/claude-sonnet-4-5\n")
  expect(rotating.out.match(/✓ answered by Claude Sonnet 4\.5 \((.*?)\)/g)).toEqual([
    "✓ answered by Claude Sonnet 4.5 (anthropic)",
    "✓ answered by Claude Sonnet 4.5 (anthropic-work)",
    "✓ answered by Claude Sonnet 4.5 (github-copilot)",
  ])
  // The account speaks Anthropic's wire, through Anthropic's SDK: the rehearsal's default answer came back from it.
  expect(rotating.out).toContain("Hello from anthropic-work.")

  const overflow = cli("rehearse", "--config", config, "--turns", "1", "--fail", "anthropic=context", "--all")
  expect(overflow.out).toContain("the conversation no longer fits anthropic (200k) → openrouter (1M)")

  writeFileSync(config, JSON.stringify({ provider_priority: ["anthropic", "github-copilot"] }))
  const budgeted = cli("rehearse", "--config", config, "--turns", "6", "--budget", "anthropic=150", "--all")
  expect(budgeted.code).toBe(0)
  expect(budgeted.out).toMatch(/anthropic near its limit, resets in (\d+ s|1 min) → github-copilot/)
  expect(budgeted.out).not.toContain("rate-limited")
  expect(cli("rehearse", "--budget", "anthropic=lots", "--all").err).toContain("--budget anthropic=lots: expected <provider>=<tokens per minute>")
})

test("rehearse explains bad input instead of failing obscurely", () => {
  expect(cli("rehearse", "--all", "--fail", "nope=429")).toMatchObject({ code: 1 })
  expect(cli("rehearse", "--all", "--fail", "nope=429").err).toContain('"nope" is not a provider of claude-sonnet-4-5; its providers:')
  expect(cli("rehearse", "--all", "--fail", "anthropic=teapot").err).toContain('unknown fault "teapot"')
  expect(cli("rehearse", "--all", "--fail", "anthropic=429:soon").err).toContain("must be a number of seconds")
  const unknown = cli("rehearse", "--all", "--model", "gpt-99").err
  expect(unknown).toContain('no combined model "gpt-99"')
  // The embedded catalog has three models: the error says how to rehearse any other.
  expect(unknown).toContain("--catalog <api.json> for any other model")
  // Nothing connected: say so, and how to rehearse anyway.
  expect(cli("rehearse").err).toContain("none of the catalog's is connected here")
  expect(cli("rehearse").err).toContain("--all takes every provider of the catalog")
  expect(cli("rehearse", "--config", "/nonexistent/opencode.json").err).toContain("config /nonexistent/opencode.json: no such file")
  expect(cli("rehearse", "--turns", "0")).toMatchObject({ code: 2 })
  // Ten CLI processes one after another: a loaded two-core machine needs more than the default 5 s.
}, 40_000)

test("unknown command and help", () => {
  expect(cli("frobnicate")).toMatchObject({ code: 2 })
  expect(cli("frobnicate").err).toContain('unknown command "frobnicate"')
  const help = cli("--help")
  expect(help.code).toBe(0)
  for (const command of ["groups", "rehearse", "demo", "schema"]) expect(help.out).toContain(command)
})

test("every command's --help prints its usage and exits 0, doing nothing else", () => {
  for (const command of ["groups", "rehearse", "demo", "schema"]) {
    for (const argv of [[command, "--help"], [command, "-h"], ["help", command]]) {
      const { code, out, err } = cli(...argv)
      expect({ argv, code, err }).toEqual({ argv, code: 0, err: "" })
      expect(out).toStartWith(`usage: combined-models ${command}`)
    }
  }
  // Help wins over the other flags: no catalog is read, no schema printed.
  expect(cli("groups", "--catalog", "/nonexistent/api.json", "--help")).toMatchObject({ code: 0, err: "" })
  expect(cli("schema", "--help").out).not.toContain("$schema")
  // An argument a command does not take is a usage error, not ignored.
  expect(cli("schema", "--bogus")).toMatchObject({ code: 2, out: "" })
  expect(cli("demo", "--bogus")).toMatchObject({ code: 2, out: "" })
  expect(cli()).toMatchObject({ code: 2, out: "" })
}, 30_000)
