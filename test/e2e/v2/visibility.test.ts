/**
 * What the user sees and steers in OpenCode 2, end to end on the released binary: the status view through the
 * plugin's RPC from the CLI (`opencode api … /api/rpc/combined-models/status`), `round_robin` over consecutive
 * `opencode run`s, and the TUI's footer under tmux naming the member that served after a switch.
 */
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { describe, expect, test } from "bun:test"
import { faults } from "../../../packages/combined-models/src/simulator/index.ts"
import { binary, hasTmux, skipReason, tui, v2Env, withTools } from "./harness.ts"

const TIMEOUT = 180_000
const suite = skipReason ? describe.skip : describe
const name = (title: string) => (skipReason ? `${title} (skipped: ${skipReason})` : title)


/** Lines of the status text about one combined model. */
function groupLines(text: string, model: string): string[] {
  const lines = text.split("\n")
  const start = lines.findIndex((line) => line.startsWith(`combined/${model} `))
  if (start < 0) return []
  const end = lines.findIndex((line, index) => index > start && !line.startsWith("  "))
  return lines.slice(start, end < 0 ? undefined : end)
}



/** The model dialog's entries for a search, as their cells on screen (`● Claude Sonnet 4.5`). */
function dialogEntries(screen: string, name: string): string[] {
  return screen.split("\n").flatMap((line) => line.split(/\s{2,}/).map((cell) => cell.trim())).filter((cell) => cell.replace(/^● /, "").startsWith(name) && !cell.includes("Combined"))
}

suite(name("OpenCode 2 plugin: status view, round_robin, footer on the real binary"), () => {
  test("the status view from the CLI lists the members in order, the cooling one with its reason and time left, and the switch", async () => {
    await using env = await v2Env()
    const before = env.status()
    expect(before.exitCode).toBe(0)
    expect(groupLines(before.text, "claude-sonnet-4-5")[0]).toContain("(order: provider_priority, then alphabetical)")
    expect(before.text).toContain("Provider switches: none recorded")

    env.sim.script("anthropic", [{ fault: faults.rateLimit({ retryAfter: 30 }) }], { match: withTools })
    env.sim.script("openrouter", [{ text: "Served by the second member." }], { match: withTools })
    const run = await env.run("say hi")
    expect(run.exitCode).toBe(0)
    const requestsBefore = env.requests("anthropic").length + env.requests("openrouter").length

    const after = env.status()
    expect(after.exitCode).toBe(0)
    const lines = groupLines(after.text, "claude-sonnet-4-5")
    const anthropic = lines.find((line) => line.includes("anthropic/claude-sonnet-4-5 "))
    expect(anthropic).toMatch(/^ {2}1\. anthropic\/claude-sonnet-4-5 .*cooling down \(anthropic rate-limited: .*\), \d+ s left$/)
    const openrouter = lines.find((line) => line.includes("openrouter/anthropic/claude-sonnet-4.5"))
    expect(openrouter).toMatch(/healthy$/)
    expect(lines.indexOf(anthropic!)).toBeLessThan(lines.indexOf(openrouter!))
    expect(after.text).toMatch(/Latest provider switches \(newest first, 1 of 1\):\n {2}\S+ \S+ {2}combined\/claude-sonnet-4-5 {2}anthropic → openrouter {2}anthropic rate-limited, retry in 30 s → openrouter/)
    // No model was called to show it.
    expect(env.requests("anthropic").length + env.requests("openrouter").length).toBe(requestsBefore)
  }, TIMEOUT)

  test("the status view from another process lists the member that served each step of a session, with its tokens and cost", async () => {
    await using env = await v2Env()
    env.sim.script("anthropic", [{ fault: faults.rateLimit({ retryAfter: 30 }) }], { match: withTools })
    env.sim.script("openrouter", [{ text: "Served by the second member." }], { match: withTools })
    const run = await env.run("say hi")
    expect(run.exitCode).toBe(0)
    expect(run.texts.join("")).toBe("Served by the second member.")
    const sessionID = run.events.map((event) => event.sessionID).find((id): id is string => typeof id === "string")
    expect(sessionID).toMatch(/^ses_/)
    // OpenCode 2 asks chat completions for the usage chunk; the loopback sends it after the finish, as OpenRouter does.
    expect((env.requests("openrouter").filter(withTools)[0]?.body as { stream_options?: unknown })?.stream_options).toEqual({ include_usage: true })

    // A separate process: `opencode run` has exited, the steps come from the state file.
    const status = env.status(sessionID)
    expect(status.exitCode).toBe(0)
    const steps = status.output?.steps as { member: { providerID: string }; usage?: { input: number; output: number }; cost?: number }[]
    expect(steps.map((step) => step.member.providerID)).toEqual(["openrouter"])
    const usage = steps[0]!.usage!
    // The loopback's count for "Served by the second member." (28 characters, 4 to a token) and a real input count.
    expect(usage.output).toBe(7)
    expect(usage.input).toBeGreaterThan(100)
    // The bundled catalog's OpenRouter price of Claude Sonnet 4.5: $3 in, $15 out per million tokens.
    expect(steps[0]!.cost).toBeCloseTo((usage.input * 3 + usage.output * 15) / 1e6, 10)
    const input = usage.input.toLocaleString("en-US")
    const cost = `$${steps[0]!.cost!.toFixed(4)}`
    expect(status.text).toContain(`This session (${sessionID}): 1 step on combined models`)
    expect(status.text).toMatch(
      new RegExp(`  1\\. \\S+Z  combined/claude-sonnet-4-5  openrouter/anthropic/claude-sonnet-4\\.5  ${input} in / 7 out, \\${cost.replace(".", "\\.")}  after anthropic rate-limited, retry in 30 s → openrouter`),
    )
    expect(status.text).toContain(`  Tokens and cost per member:\n    openrouter/anthropic/claude-sonnet-4.5: 1 step, ${input} in / 7 out, ${cost}\n`)
  }, TIMEOUT)

  test("the session itself records the member that served each step, with its tokens and cost (its metadata, as OpenCode 2's API returns the session)", async () => {
    await using env = await v2Env()
    env.sim.script("anthropic", [{ fault: faults.rateLimit({ retryAfter: 30 }) }], { match: withTools })
    env.sim.script("openrouter", [{ text: "Served by the second member." }, { text: "And the next turn too." }], { match: withTools })
    const first = await env.run("say hi")
    const second = await env.run("go on", { session: first.sessionID })
    expect([first.exitCode, second.exitCode]).toEqual([0, 0])
    const session = spawnSync(binary!, ["api", "--standalone", "GET", `/api/session/${first.sessionID}`], { cwd: env.project, env: env.env, encoding: "utf8", timeout: 90_000 })
    const record = JSON.parse(session.stdout).data.metadata["combined-models"] as { steps: { model: string; member: string; switches: string[]; tokens: { input: number; output: number }; cost: number }[] }
    // Both processes' steps, in order: the first after the switch, the second where the session went on.
    expect(record.steps.map((step) => [step.model, step.member, step.switches])).toEqual([
      ["combined/claude-sonnet-4-5", "openrouter/anthropic/claude-sonnet-4.5", ["anthropic rate-limited, retry in 30 s → openrouter"]],
      ["combined/claude-sonnet-4-5", "openrouter/anthropic/claude-sonnet-4.5", []],
    ])
    expect(record.steps.map((step) => step.tokens.output)).toEqual([7, 6])
    expect(record.steps[1]!.cost).toBeCloseTo((record.steps[1]!.tokens.input * 3 + 6 * 15) / 1e6, 10)
  }, TIMEOUT)

  test("round_robin: consecutive opencode runs start at the next provider of the order", async () => {
    await using env = await v2Env({ options: { combined_models: { strategy: "round_robin" } } })
    const served: string[] = []
    for (let turn = 0; turn < 4; turn++) {
      env.sim.script("anthropic", [{ text: "from anthropic" }], { match: withTools })
      env.sim.script("openrouter", [{ text: "from openrouter" }], { match: withTools })
      const run = await env.run(`turn ${turn}`)
      expect(run.exitCode).toBe(0)
      served.push(run.texts.join(""))
    }
    expect(served).toEqual(["from anthropic", "from openrouter", "from anthropic", "from openrouter"])
    // Each turn went to one provider only: nothing failed over.
    expect(env.requests("anthropic").filter(withTools)).toHaveLength(2)
    expect(env.requests("openrouter").filter(withTools)).toHaveLength(2)
    const status = env.status()
    expect(groupLines(status.text, "claude-sonnet-4-5")[0]).toContain("(order: strategy round_robin: each turn starts at the next healthy provider of this order)")
  }, TIMEOUT)

  test("steering from the CLI reorders a combined model in the plugin's options; the next process routes in that order", async () => {
    await using env = await v2Env()
    const steered = spawnSync(
      binary!,
      ["api", "--standalone", "POST", "/api/rpc/combined-models/steer", "-d", JSON.stringify({ input: { group: "combined/claude-sonnet-4-5", action: "priority", providers: ["openrouter", "anthropic"] } })],
      { cwd: env.project, env: env.env, encoding: "utf8", timeout: 90_000 },
    )
    expect(steered.status).toBe(0)
    expect(JSON.parse(steered.stdout).output).toMatchObject({ ok: true })
    const plugins = JSON.parse(readFileSync(env.configFile, "utf8")).plugins as { options: Record<string, any> }[]
    expect(plugins[0]!.options.combined_models.groups["claude-sonnet-4-5"].priority).toEqual(["openrouter", "anthropic"])
    const lines = groupLines(env.status().text, "claude-sonnet-4-5")
    expect(lines[0]).toContain("(order: combined_models.groups.claude-sonnet-4-5.priority)")
    expect(lines[1]).toContain("1. openrouter/anthropic/claude-sonnet-4.5")
    env.sim.script("openrouter", [{ text: "from openrouter" }], { match: withTools })
    const run = await env.run("hi")
    expect(run.texts.join("")).toBe("from openrouter")
    expect(env.requests("anthropic").filter(withTools)).toHaveLength(0)
  }, TIMEOUT)

  test("TUI under tmux: after a switch the footer names the member that served and the switch; /combined shows the status view", async () => {
    if (!hasTmux) return console.warn("tmux is not installed: the TUI footer test did not run")
    await using env = await v2Env()
    env.sim.script("anthropic", [{ fault: faults.rateLimit({ retryAfter: 30 }) }], { match: withTools })
    env.sim.script("openrouter", [{ text: "Served by the second member." }], { match: withTools })
    using screen = await tui(env)
    expect(screen.screen()).toContain("Claude Sonnet 4.5 Combined")
    screen.type("say hi")
    screen.key("Enter")
    const footer = await screen.until((text) => text.includes("Served by the second member.") && text.includes("(openrouter)"))
    expect(footer).toContain("Served by the second member.")
    expect(footer).toContain("Claude Sonnet 4.5 (openrouter)  ·  anthropic rate-limited, retry in 30 s → openrouter")
    screen.type("/combined")
    await screen.until((text) => text.includes("order, exclude or include a member"), 5_000)
    screen.key("Enter")
    await Bun.sleep(500)
    screen.key("Enter")
    const dialog = await screen.until((text) => text.includes("Combined (combined):"), 10_000)
    expect(dialog).toContain("Combined models")
    // The open session's steps first: the one step, served by OpenRouter after Anthropic's rate limit.
    expect(dialog).toMatch(/This session \(ses_\w+\): 1 step\s/)
    expect(dialog).toContain("Steps per provider: openrouter 1")
  }, TIMEOUT)

  test("TUI under tmux: /combined order applies at once: the session's next question goes to the new first member", async () => {
    if (!hasTmux) return console.warn("tmux is not installed: the TUI steering test did not run")
    await using env = await v2Env()
    env.sim.script("anthropic", [{ text: "Anthropic answered." }, { text: "Anthropic again." }], { match: withTools })
    env.sim.script("openrouter", [{ text: "OpenRouter answered after the reorder." }], { match: withTools })
    using screen = await tui(env)
    screen.type("first question")
    screen.key("Enter")
    await screen.until((text) => text.includes("Anthropic answered.") && text.includes("Claude Sonnet 4.5 (anthropic)"))
    screen.type("/combined order claude-sonnet-4-5 openrouter anthropic")
    await Bun.sleep(500)
    screen.key("Enter")
    await Bun.sleep(500)
    screen.key("Enter")
    const priority = () => (JSON.parse(readFileSync(env.configFile, "utf8")).plugins as { options: Record<string, any> }[])[0]!.options.combined_models?.groups?.["claude-sonnet-4-5"]?.priority
    for (const started = Date.now(); !priority() && Date.now() - started < 10_000; ) await Bun.sleep(250)
    expect(priority()).toEqual(["openrouter", "anthropic"])
    // No restart, no reload: the same TUI routes the next question in the new order.
    await Bun.sleep(1_000)
    screen.type("second question")
    screen.key("Enter")
    const after = await screen.until((text) => text.includes("OpenRouter answered after the reorder.") && text.includes("Claude Sonnet 4.5 (openrouter)"))
    expect(after).toContain("OpenRouter answered after the reorder.")
    expect(after).toContain("Claude Sonnet 4.5 (openrouter)")
    expect(env.requests("anthropic").filter(withTools)).toHaveLength(1)
  }, TIMEOUT)

  test("a member hidden from the model list still serves when picked by its own id; opencode models still lists it", async () => {
    await using env = await v2Env()
    env.sim.script("openrouter", [{ text: "member direct" }], { match: withTools })
    const run = await env.run("hi", { model: "openrouter/anthropic/claude-sonnet-4.5" })
    expect({ exit: run.exitCode, errors: run.errors, answer: run.texts.join("") }).toEqual({ exit: 0, errors: [], answer: "member direct" })
    const models = spawnSync(binary!, ["models"], { cwd: env.project, env: env.env, encoding: "utf8", timeout: 90_000 })
    expect(models.stdout.split("\n")).toEqual(expect.arrayContaining(["combined/claude-sonnet-4-5", "anthropic/claude-sonnet-4-5", "openrouter/anthropic/claude-sonnet-4.5"]))
  }, TIMEOUT)

  test("TUI under tmux: the model list shows the combined model once; /combined members shows every provider's entry", async () => {
    if (!hasTmux) return console.warn("tmux is not installed: the model list test did not run")
    await using env = await v2Env()
    using screen = await tui(env)
    const search = async () => {
      screen.type("/models")
      await Bun.sleep(500)
      screen.key("Enter")
      await screen.until((text) => text.includes("Select model"), 10_000)
      await Bun.sleep(300)
      screen.type("sonnet 4.5")
      await Bun.sleep(1_500)
      const entries = dialogEntries(screen.screen(), "Claude Sonnet 4.5")
      screen.key("Escape")
      await screen.until((text) => !text.includes("Select model"), 5_000)
      return entries
    }
    expect(await search()).toEqual(["● Claude Sonnet 4.5"])
    screen.type("/combined members")
    await Bun.sleep(500)
    screen.key("Enter")
    await Bun.sleep(500)
    screen.key("Enter")
    await screen.until((text) => text.includes("every provider's entry"), 10_000)
    const all = await search()
    // The combined model, Anthropic's two ids and OpenRouter's.
    expect(all.length).toBeGreaterThanOrEqual(3)
    expect(all).toContain("● Claude Sonnet 4.5")
  }, TIMEOUT)

  test("round_robin in one TUI session: consecutive turns alternate providers, the footer follows", async () => {
    if (!hasTmux) return console.warn("tmux is not installed: the TUI round_robin test did not run")
    await using env = await v2Env({ options: { combined_models: { strategy: "round_robin" } } })
    for (let turn = 0; turn < 2; turn++) {
      env.sim.script("anthropic", [{ text: `anthropic answered ${turn}` }], { match: withTools })
      env.sim.script("openrouter", [{ text: `openrouter answered ${turn}` }], { match: withTools })
    }
    using screen = await tui(env)
    screen.type("first question")
    screen.key("Enter")
    const first = await screen.until((text) => text.includes("answered 0") && text.includes("Claude Sonnet 4.5 (anthropic)"))
    expect(first).toContain("anthropic answered 0")
    expect(first).toContain("Claude Sonnet 4.5 (anthropic)")
    screen.type("second question")
    screen.key("Enter")
    const second = await screen.until((text) => text.includes("openrouter answered") && text.includes("Claude Sonnet 4.5 (openrouter)"))
    expect(second).toContain("openrouter answered 0")
    expect(second).toContain("Claude Sonnet 4.5 (openrouter)")
    expect(env.requests("anthropic").filter(withTools)).toHaveLength(1)
    expect(env.requests("openrouter").filter(withTools)).toHaveLength(1)
  }, TIMEOUT)
})
