/**
 * Accounts on OpenCode 2's own connections, end to end on the released binary: two stored keys of one provider
 * (`POST /api/credential`, as `opencode auth` stores them), the active one out of quota. The plugin makes the second
 * key a member of its own (`anthropic@work`), and the same step is served with it.
 */
import { spawnSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, test } from "bun:test"
import { faults } from "../../../packages/combined-models/src/simulator/index.ts"
import { binary, skipReason, v2Env, withTools } from "./harness.ts"

const TIMEOUT = 180_000
const suite = skipReason ? describe.skip : describe
const name = (title: string) => (skipReason ? `${title} (skipped: ${skipReason})` : title)

suite(name("OpenCode 2 plugin: connections as members on the real binary"), () => {
  test("two keys of one provider, the active one out of quota: the other key serves the same step", async () => {
    await using env = await v2Env({ providers: ["anthropic"], priority: ["anthropic"] })
    // The provider's key comes from OpenCode's connections, not the config.
    const config = JSON.parse(readFileSync(env.configFile, "utf8"))
    delete config.providers.anthropic.settings.apiKey
    config.plugins.push({ package: join(import.meta.dir, "fixtures/request-log"), options: {} })
    writeFileSync(env.configFile, JSON.stringify(config, null, 2))
    const log = join(env.root, "requests.jsonl")
    env.env.REQUEST_LOG = log
    const api = (...args: string[]) => spawnSync(binary!, ["api", "--standalone", ...args], { cwd: env.project, env: env.env, encoding: "utf8", timeout: 90_000 })
    const personal = api("POST", "/api/credential", "-d", JSON.stringify({ integrationID: "anthropic", label: "personal", value: { type: "key", key: "key-personal" } }))
    const work = api("POST", "/api/credential", "-d", JSON.stringify({ integrationID: "anthropic", label: "work", value: { type: "key", key: "key-work" }, activate: false }))
    expect([personal.status, work.status]).toEqual([0, 0])

    env.sim.script("anthropic", [{ fault: faults.quota({ wire: "anthropic" }) }, { text: "served by the work key" }], { match: withTools })
    const run = await env.run("say hi")
    expect({ exit: run.exitCode, errors: run.errors, answer: run.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "served by the work key" })
    const primary = readFileSync(log, "utf8").trim().split("\n").map((line) => JSON.parse(line)).filter((request) => request.kind === "primary")
    expect(primary.map((request) => request.xApiKey)).toEqual(["key-personal", "key-work"])

    // The status view: the active connection cooling for its quota, the other one healthy, each a member.
    const status = api("POST", "/api/rpc/combined-models/status", "-d", JSON.stringify({ input: {} }))
    const text = JSON.parse(status.stdout).output.text as string
    const lines = text.split("\n")
    const start = lines.findIndex((line) => line.startsWith("combined/claude-sonnet-4-5 "))
    const group = lines.slice(start, lines.findIndex((line, index) => index > start && line === ""))
    expect(group.find((line) => line.includes(" anthropic/claude-sonnet-4-5 "))).toMatch(/cooling down \(anthropic out of quota/)
    expect(group.find((line) => line.includes("anthropic@work/claude-sonnet-4-5 "))).toMatch(/healthy$/)
    expect(text).toContain("anthropic out of quota")
  }, TIMEOUT)

  test("combined_models.accounts (the 1.x edition's setting): an account with its key in its env variable is a member, and serves when the provider's own key is out of quota", async () => {
    await using env = await v2Env({
      providers: ["anthropic"],
      priority: ["anthropic", "anthropic-work"],
      options: { combined_models: { accounts: { "anthropic-work": { provider: "anthropic", env: ["ANTHROPIC_WORK_KEY"] }, "anthropic-spare": { provider: "anthropic", env: ["ANTHROPIC_SPARE_KEY"] } } } },
    })
    const config = JSON.parse(readFileSync(env.configFile, "utf8"))
    config.plugins.push({ package: join(import.meta.dir, "fixtures/request-log"), options: {} })
    writeFileSync(env.configFile, JSON.stringify(config, null, 2))
    const log = join(env.root, "requests.jsonl")
    env.env.REQUEST_LOG = log
    env.env.ANTHROPIC_WORK_KEY = "key-work"
    env.sim.script("anthropic", [{ fault: faults.quota({ wire: "anthropic" }) }, { text: "served by the work account" }], { match: withTools })
    const run = await env.run("say hi")
    expect({ exit: run.exitCode, errors: run.errors, answer: run.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "served by the work account" })
    const primary = readFileSync(log, "utf8").trim().split("\n").map((line) => JSON.parse(line)).filter((request) => request.kind === "primary")
    expect(primary.map((request) => request.xApiKey)).toEqual(["key-anthropic", "key-work"])
    const text = env.status().text
    expect(text).toMatch(/anthropic-work\/claude-sonnet-4-5 +healthy/)
    // The account without its key set is no member, and the plugin's log says how to give it one.
    expect(text).not.toContain("anthropic-spare/")
    expect(readFileSync(join(env.env.XDG_STATE_HOME!, "opencode", "combined-models", "opencode2.log"), "utf8")).toContain("combined_models.accounts.anthropic-spare: no key, so it is not a member: set ANTHROPIC_SPARE_KEY")
  }, TIMEOUT)

  test("a key OpenCode holds (a stored connection) refused with a 401: the next member serves; once the user stores a new key, the provider is asked again at once", async () => {
    await using env = await v2Env({ providers: ["anthropic", "openrouter"] })
    const config = JSON.parse(readFileSync(env.configFile, "utf8"))
    delete config.providers.anthropic.settings.apiKey
    writeFileSync(env.configFile, JSON.stringify(config, null, 2))
    const api = (...args: string[]) => spawnSync(binary!, ["api", "--standalone", ...args], { cwd: env.project, env: env.env, encoding: "utf8", timeout: 90_000 })
    expect(api("POST", "/api/credential", "-d", JSON.stringify({ integrationID: "anthropic", label: "old", value: { type: "key", key: "key-revoked" } })).status).toBe(0)
    env.sim.script("anthropic", [{ fault: faults.auth() }, { text: "Anthropic, with the new key." }], { match: withTools })
    env.sim.script("openrouter", [{ text: "OpenRouter, while the key was refused." }, { text: "OpenRouter again." }], { match: withTools })
    expect((await env.run("first")).texts.join("")).toBe("OpenRouter, while the key was refused.")
    // The refused key keeps anthropic out (an auth cooldown lasts an hour).
    expect((await env.run("second")).texts.join("")).toBe("OpenRouter again.")
    expect(env.requests("anthropic").filter(withTools)).toHaveLength(1)
    // The user stores a new key: it is not the one that was refused.
    expect(api("POST", "/api/credential", "-d", JSON.stringify({ integrationID: "anthropic", label: "new", value: { type: "key", key: "key-new" }, activate: true })).status).toBe(0)
    const third = await env.run("third")
    expect({ exit: third.exitCode, errors: third.errors, answer: third.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "Anthropic, with the new key." })
  }, TIMEOUT)
})
