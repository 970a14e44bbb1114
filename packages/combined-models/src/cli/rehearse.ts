/**
 * `combined-models rehearse`: play the user's own groups and priorities against simulated failures, through the
 * real AI SDK clients on loopback, so they see what failover will do before it happens.
 */
import { parseArgs } from "node:util"
import { buildGroups } from "../grouping.ts"
import { describeEvent, describeHealth, EVENT_KEY, startRehearsal } from "../driver/rehearsal.ts"
import { label } from "../label.ts"
import { faults, type SimFault, type SimStep } from "../simulator/index.ts"
import demoCatalog from "./demo-catalog.json" with { type: "json" }
import { loadCatalog, loadConfig, loadConfigFile, usageProblem } from "./inputs.ts"
import { loadedProvidersNote, providersAsOpenCodeLoads, signedInProviders } from "./providers.ts"

export const USAGE = `usage: combined-models rehearse [--config opencode.json] [--catalog api.json] [--model <group-id>] [--all]
                               [--fail <provider>=<fault>[,<fault>…]]… [--budget <provider>=<tokens>]… [--turns N]

The members are the providers OpenCode would load here (a key in their environment variables or the auth store,
defined in the config); --all takes every provider of the catalog.

Faults, one per request the provider gets, in order:
  429, 429:<seconds>   rate limit, optionally with Retry-After
  quota                out of quota (insufficient_quota / credit balance)
  529, overloaded      overloaded
  500, 503             server errors
  401, 403             bad or insufficient credentials
  context              context length exceeded (moves to a larger window only with
                       "context_overflow" in failover_on; else OpenCode compacts)
  cut                  connection cut after some text
  hang                 no first byte (uses timeouts.first_byte)
  stall                stream stops after some text (uses timeouts.stall)
  ok                   a normal answer

--budget gives a provider a token budget per minute, as its rate limit: every answer carries its rate-limit
headers and a request that does not fit is refused with a 429, so read-ahead and "least_limited" can be seen.

Without --catalog an embedded slice of models.dev is used (Claude Sonnet 4.5, Haiku 4.5 and GPT-5 Mini on
anthropic, github-copilot, amazon-bedrock and openrouter). Example:
  combined-models rehearse --config opencode.json --fail anthropic=429:30 --fail github-copilot=cut`

/** One fault word from the command line as simulator data, or why it is not one. */
export function parseFault(word: string): SimStep | string {
  const [name, argument] = word.split(":")
  const seconds = argument === undefined ? undefined : Number(argument)
  if (argument !== undefined && (!Number.isFinite(seconds) || seconds! < 0))
    return `"${word}": the part after ":" must be a number of seconds`
  const fault = ((): SimFault | null | undefined => {
    switch (name) {
      case "429":
      case "rate-limit":
        return faults.rateLimit(seconds === undefined ? {} : { retryAfter: seconds })
      case "quota":
        return faults.quota()
      case "529":
      case "overloaded":
        return faults.overloaded()
      case "500":
        return faults.serverError()
      case "503":
        return faults.unavailable()
      case "401":
        return faults.auth()
      case "403":
        return faults.forbidden()
      case "context":
        return faults.contextLength()
      case "cut":
        return faults.cut("after-text")
      case "hang":
        return faults.hang("before-first-byte")
      case "stall":
        return faults.stall()
      case "ok":
        return null
      default:
        return undefined
    }
  })()
  if (fault === undefined) return `unknown fault "${word}"; see --help for the list`
  return fault === null ? {} : { text: "A partial answer that", fault }
}

export async function run(args: string[]): Promise<number> {
  let values: { config?: string; catalog?: string; model?: string; fail?: string[]; budget?: string[]; turns?: string; all?: boolean }
  try {
    values = parseArgs({
      args,
      options: {
        config: { type: "string" },
        catalog: { type: "string" },
        model: { type: "string" },
        fail: { type: "string", multiple: true },
        budget: { type: "string", multiple: true },
        turns: { type: "string" },
        all: { type: "boolean" },
      },
    }).values
  } catch (error) {
    console.error(`combined-models rehearse: ${usageProblem(error)}\n\n${USAGE}`)
    return 2
  }
  const turns = values.turns === undefined ? 2 : Number(values.turns)
  if (!Number.isInteger(turns) || turns < 1) {
    console.error(`combined-models rehearse: --turns must be a whole number of turns, at least 1`)
    return 2
  }

  const catalog = await loadCatalog(values.catalog, demoCatalog)
  if (!catalog.ok) return fail(catalog.message)
  const file = await loadConfigFile(values.config)
  if (!file.ok) return fail(file.message)
  for (const note of file.warnings) console.error(note)
  // The providers OpenCode would load for this config, as `groups` previews them: a provider the user never set up
  // (no key, no login, not in the config) is no member in OpenCode, so it is none here.
  const connected = values.all ? undefined : { signedIn: await signedInProviders() }
  const loaded = providersAsOpenCodeLoads(catalog.value, file.value, { connected })
  const config = await loadConfig(values.config, loaded.providers.map((provider) => provider.id), file)
  if (!config.ok) return fail(config.message)
  for (const warning of [...catalog.warnings, ...loaded.warnings, ...config.warnings]) console.error(`warning: ${warning}`)
  if (connected) console.error(loadedProvidersNote(loaded.providers))

  const { groups } = buildGroups(loaded.providers, config.value)
  const group = values.model
    ? groups.find((candidate) => candidate.id === values.model)
    : (groups.find((candidate) => candidate.id === "claude-sonnet-4-5") ?? groups[0])
  if (!group) {
    const known = groups.map((candidate) => candidate.id)
    const knownText = known.length ? `known: ${known.slice(0, 20).join(", ")}${known.length > 20 ? ", …" : ""}` : "the catalog and config produce none"
    // What would widen the search: a full catalog (the embedded one has three models), every provider (--all).
    const wider = [
      ...(values.model === undefined ? [] : [values.catalog === undefined
        ? "without --catalog only an embedded slice of models.dev is played (Claude Sonnet 4.5, Claude Haiku 4.5, GPT-5 Mini): --catalog <api.json> for any other model"
        : "combined-models groups --explain <id> says why a model is not combined"]),
      ...(connected ? ["--all takes every provider of the catalog, not only the ones connected here"] : []),
    ]
    return fail(`${values.model ? `no combined model "${values.model}"; ${knownText}` : "the catalog and config produce no combined model"}\n${wider.map((line) => `  ${line}`).join("\n")}`)
  }

  const scripts = new Map<string, SimStep[]>()
  for (const spec of values.fail ?? []) {
    const [providerID, list] = spec.split("=")
    if (!providerID || !list) return fail(`--fail ${spec}: expected <provider>=<fault>, e.g. anthropic=429`)
    if (!group.providers.includes(providerID))
      return fail(`--fail ${spec}: "${providerID}" is not a provider of ${group.id}; its providers: ${group.providers.join(", ")}`)
    const steps: SimStep[] = []
    for (const word of list.split(",")) {
      const step = parseFault(word.trim())
      if (typeof step === "string") return fail(`--fail ${spec}: ${step}`)
      steps.push(step)
    }
    scripts.set(providerID, [...(scripts.get(providerID) ?? []), ...steps])
  }

  const budgets = new Map<string, number>()
  for (const spec of values.budget ?? []) {
    const [providerID, amount] = spec.split("=")
    const tokens = Number(amount)
    if (!providerID || !amount || !Number.isInteger(tokens) || tokens < 1)
      return fail(`--budget ${spec}: expected <provider>=<tokens per minute>, e.g. anthropic=6000`)
    if (!group.providers.includes(providerID))
      return fail(`--budget ${spec}: "${providerID}" is not a provider of ${group.id}; its providers: ${group.providers.join(", ")}`)
    budgets.set(providerID, tokens)
  }

  const out = (text: string) => process.stdout.write(text)
  out(`${group.name} (${group.id}), members in ${STRATEGY_ORDER[group.strategy ?? "priority"]}:\n`)
  for (const member of group.members) out(`  ${member.providerID}/${member.modelID}\n`)
  out(`${EVENT_KEY}\n`)
  const accounts = config.value.accounts

  await using stage = await startRehearsal({ groups: [group], config: config.value, providerOf: (id) => accounts[id]?.provider })
  for (const [providerID, steps] of scripts) stage.sim.script(providerID, steps)
  for (const [providerID, tokens] of budgets) stage.sim.budget(providerID, { tokens })
  const session = stage.session(group.id)
  // One conversation, as a session is: each turn carries the ones before (what read-ahead estimates a step by).
  let messages: Parameters<typeof session.runTurn>[0]["messages"] = []
  for (let turn = 1; turn <= turns; turn++) {
    out(`\n▶ turn ${turn}`)
    messages = [...messages, { role: "user", content: `Rehearsal turn ${turn}` }]
    const result = await session.runTurn({
      messages,
      onEvent: (event) => {
        const line = describeEvent(event, group)
        if (line) out(line)
      },
    })
    out(`\n  ${result.status === "answered" ? `✓ answered by ${label(group, result.servedBy)}` : `✗ ${result.status}`}\n`)
    messages = result.messages
  }
  out(`\nProvider health after the rehearsal:\n${describeHealth(stage.health, Date.now()).join("\n")}\n`)
  // A fault the rehearsal never served changed nothing above: say so, rather than let it look played.
  for (const line of unusedFaults(values.fail ?? [], (id) => ({ left: stage.sim.pending(id), requests: stage.sim.requests(id).length })))
    out(`${line}\n`)
  return 0
}

/**
 * Notes for `--fail` faults left unserved: a provider the rehearsal never sent a request (members before it answered
 * every step), or one that got fewer requests than faults were queued for it.
 */
export function unusedFaults(specs: readonly string[], served: (providerID: string) => { left: number; requests: number }): string[] {
  const providers = [...new Set(specs.map((spec) => spec.split("=")[0]!))]
  return providers.flatMap((providerID) => {
    const { left, requests } = served(providerID)
    if (left === 0) return []
    const flags = specs.filter((spec) => spec.split("=")[0] === providerID).map((spec) => `--fail ${spec}`).join(" ")
    return requests === 0
      ? [`note: ${flags} was not used: the rehearsal never sent ${providerID} a request (the members before it answered every step; more --turns or faults for them reach it)`]
      : [`note: ${flags}: ${left} fault${left === 1 ? "" : "s"} not used (${providerID} got ${requests} request${requests === 1 ? "" : "s"})`]
  })
}

/** How the listed order is used, by strategy. */
const STRATEGY_ORDER: Record<string, string> = {
  priority: "priority order",
  cost: "cost order (cheapest first, then priority)",
  round_robin: "priority order; round_robin starts each turn at the next healthy one",
  least_limited: "priority order; least_limited takes the one with the most left by its rate-limit headers",
}

function fail(message: string): number {
  console.error(`combined-models rehearse: ${message}`)
  return 1
}
