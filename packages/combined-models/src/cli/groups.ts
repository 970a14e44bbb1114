/**
 * `combined-models groups [--catalog <api.json>] [--config <opencode.json>] [--all] [--json] [--explain <group-id>]`:
 * the groups OpenCode will make from its catalog, your config and the providers it can call, as a table, as JSON, or
 * with the reason each member joined.
 */
import { parseArgs } from "node:util"
import { buildGroups, type GroupingResult } from "../grouping.ts"
import type { Group } from "../types.ts"
import { loadCatalog, loadConfig, loadConfigFile, openCodeCatalogPath, usageProblem } from "./inputs.ts"
import { loadedProvidersNote, providersAsOpenCodeLoads, signedInProviders } from "./providers.ts"

export const USAGE = `usage: combined-models groups [--catalog <api.json>] [--config <opencode.json>] [--all] [--json] [--explain <group-id>]

What OpenCode will offer: the providers it loads (a key in their environment variables or the auth store, defined
in the config, or turned on by OpenCode's own loader), filtered by enabled_providers / disabled_providers.

  --catalog <file>    a models.dev api.json (default: the one OpenCode keeps, $XDG_CACHE_HOME/opencode/models.json,
                      or OPENCODE_MODELS_PATH), e.g. curl -o api.json https://models.dev/api.json
  --config <file>     an opencode.json / opencode.jsonc with provider_priority and combined_models
                      (default: the files OpenCode reads: global, OPENCODE_CONFIG, then the project's)
  --all               every provider of the catalog, connected or not (what you would get with every key set)
  --connected         only the providers OpenCode loads (the default; kept for scripts)
  --json              print {"groups":[{"id","name","members":[{"providerID","modelID"}],"left_out":[{"providerID","modelID","reasons"}]}]}
  --explain <id>      show why each member joined group <id> (or why a model is not grouped)`

interface Options {
  catalog?: string
  config?: string
  json: boolean
  /** Every provider of the catalog, not only the ones OpenCode loads. */
  all: boolean
  explain?: string
}

type Parsed = { ok: true; options: Options } | { ok: false; message: string }

function parseOptions(args: readonly string[]): Parsed {
  let values: { catalog?: string; config?: string; json?: boolean; connected?: boolean; all?: boolean; explain?: string }
  try {
    values = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        catalog: { type: "string" },
        config: { type: "string" },
        explain: { type: "string" },
        json: { type: "boolean" },
        connected: { type: "boolean" },
        all: { type: "boolean" },
      },
    }).values
  } catch (error) {
    return { ok: false, message: `${usageProblem(error)}\n\n${USAGE}` }
  }
  if (values.all && values.connected) return { ok: false, message: `--all and --connected: choose one\n\n${USAGE}` }
  for (const name of ["catalog", "config", "explain"] as const)
    if (values[name] === "") return { ok: false, message: `--${name} needs a value\n\n${USAGE}` }
  return {
    ok: true,
    options: { catalog: values.catalog, config: values.config, explain: values.explain, json: values.json === true, all: values.all === true },
  }
}

function formatTokens(count: number): string {
  if (count >= 1_000_000 && count % 1_000_000 === 0) return `${count / 1_000_000}M`
  if (count >= 1_000) return `${Math.round(count / 1_000)}k`
  return String(count)
}

function table(groups: readonly Group[]): string {
  const lines: string[] = []
  const idWidth = Math.min(40, Math.max(5, ...groups.map((group) => group.id.length)))
  const nameWidth = Math.min(36, Math.max(4, ...groups.map((group) => group.name.length)))
  lines.push(`${"GROUP".padEnd(idWidth)}  ${"NAME".padEnd(nameWidth)}  PROVIDERS  CONTEXT  MEMBERS (priority order)`)
  for (const group of groups) {
    const members = group.members.map((member) => `${member.providerID}/${member.modelID}`)
    const head = `${group.id.padEnd(idWidth)}  ${group.name.padEnd(nameWidth)}  ${String(group.providers.length).padStart(9)}  ${formatTokens(group.limit.context).padStart(7)}  `
    lines.push(`${head}${members[0] ?? ""}`)
    for (const member of members.slice(1)) lines.push(`${" ".repeat(head.length)}${member}`)
  }
  lines.push("", `${groups.length} combined model${groups.length === 1 ? "" : "s"}`)
  return lines.join("\n")
}

function explain(result: GroupingResult, id: string): { text: string; found: boolean } {
  const group = result.groups.find((candidate) => candidate.id === id)
  if (!group) {
    const lines = [`no combined model "${id}".`]
    const ungrouped = result.ungrouped.filter(
      (model) => model.groupID === id || model.modelID === id || model.modelID.toLowerCase().includes(id.toLowerCase()),
    )
    if (ungrouped.length) {
      lines.push("Models with a similar id that are not grouped automatically:")
      for (const model of ungrouped.slice(0, 20)) lines.push(`  ${model.providerID}/${model.modelID}: ${model.reason}`)
    }
    const similar = result.groups.filter((candidate) => candidate.id.includes(id) || id.includes(candidate.id)).slice(0, 10)
    if (similar.length) lines.push(`Similar groups: ${similar.map((candidate) => candidate.id).join(", ")}`)
    return { text: lines.join("\n"), found: false }
  }
  const refsWhere = (pick: (member: Group["members"][number]) => boolean) =>
    group.members.filter(pick).map((member) => `${member.providerID}/${member.modelID}`)
  const limitedBy = (value: number | undefined, pick: (member: Group["members"][number]) => number | undefined) =>
    value === undefined ? "" : ` [${refsWhere((member) => (pick(member) ?? member.limit.context) === value).slice(0, 3).join(", ")}]`
  const flags = [
    ["reasoning", (member: Group["members"][number]) => member.capabilities.reasoning],
    ["tool calls", (member: Group["members"][number]) => member.capabilities.toolCall],
    ["attachments", (member: Group["members"][number]) => member.capabilities.attachment],
    ["temperature", (member: Group["members"][number]) => member.capabilities.temperature],
  ] as const
  const lines = [
    `${group.id} "${group.name}"${group.manual ? " (changed by your config)" : ""}`,
    `providers: ${group.providers.join(", ")}`,
    "limits (the smallest member's, so no member is promised more than it takes):",
    `  context ${group.limit.context}${limitedBy(group.limit.context, (member) => member.limit.context)}`,
    ...(group.limit.input === undefined
      ? []
      : [`  input ${group.limit.input}${limitedBy(group.limit.input, (member) => member.limit.input)}`]),
    `  output ${group.limit.output}${limitedBy(group.limit.output, (member) => member.limit.output)}`,
    "capabilities (what every member has):",
    ...flags.map(([label, has]) => {
      const lacking = refsWhere((member) => !has(member))
      return lacking.length === 0
        ? `  ${label}: yes`
        : lacking.length === group.members.length
          ? `  ${label}: no`
          : `  ${label}: no, missing at ${lacking.slice(0, 3).join(", ")}${lacking.length > 3 ? ` and ${lacking.length - 3} more` : ""}`
    }),
    `  input ${group.capabilities.input.join("+") || "none"}, output ${group.capabilities.output.join("+") || "none"}`,
    ...(group.priority ? [`priority (this group): ${group.priority.join(", ")}`] : []),
    "",
    "members, in priority order:",
  ]
  for (const member of group.members) {
    const why =
      member.joined.kind === "manual"
        ? `by hand: ${member.joined.rule}`
        : `identity "${member.joined.key}": ${member.joined.detail}`
    lines.push(`  ${member.providerID}/${member.modelID}  "${member.name}"  ${member.releaseDate ?? "no date"}  ${member.limit.context}/${member.limit.output}`)
    lines.push(`      ${why}`)
  }
  const leftOut = result.ungrouped.filter((model) => model.groupID === id)
  if (leftOut.length) {
    lines.push("", "left out of this group:")
    for (const model of leftOut) lines.push(`  ${model.providerID}/${model.modelID}`, `      ${model.reason}`)
  }
  return { text: lines.join("\n"), found: true }
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseOptions(args)
  // --help never gets here: the CLI's entry prints USAGE for every command (main.ts).
  if (!parsed.ok) {
    console.error(`combined-models groups: ${parsed.message}`)
    return 2
  }
  const { options } = parsed
  // Without --catalog, the catalog OpenCode itself reads, so the preview is of the same models.
  const catalogPath = options.catalog ?? openCodeCatalogPath()
  if (!catalogPath) {
    const named = process.env.OPENCODE_MODELS_PATH
    console.error(
      named
        ? `combined-models groups: OPENCODE_MODELS_PATH names ${named}, which is not there: point it at a models.dev ` +
            `api.json (OpenCode falls back to its own copy meanwhile), or pass --catalog <api.json>\n\n${USAGE}`
        : "combined-models groups: --catalog <api.json> is needed: OpenCode has not kept a catalog here yet " +
            "($XDG_CACHE_HOME/opencode/models.json, written when OpenCode first runs); " +
            `run opencode once, or download https://models.dev/api.json\n\n${USAGE}`,
    )
    return 2
  }
  if (!options.catalog) console.error(`catalog: ${catalogPath} (OpenCode's)`)

  const catalog = await loadCatalog(catalogPath)
  if (!catalog.ok) {
    console.error(`combined-models groups: ${catalog.message}`)
    return 1
  }
  for (const warning of catalog.warnings) console.error(`warning: ${warning}`)
  const file = await loadConfigFile(options.config)
  if (!file.ok) {
    console.error(`combined-models groups: ${file.message}`)
    return 1
  }
  for (const note of file.warnings) console.error(note)
  // The providers OpenCode would load for this config, before grouping them.
  const connected = options.all ? undefined : { signedIn: await signedInProviders() }
  const loaded = providersAsOpenCodeLoads(catalog.value, file.value, { connected })
  for (const warning of loaded.warnings) console.error(`warning: ${warning}`)
  if (connected) console.error(loadedProvidersNote(loaded.providers))
  const config = await loadConfig(options.config, loaded.providers.map((provider) => provider.id), file)
  if (!config.ok) {
    console.error(`combined-models groups: ${config.message}`)
    return 1
  }
  for (const warning of config.warnings) console.error(`warning: ${warning}`)

  const result = buildGroups(loaded.providers, config.value)
  for (const problem of result.problems) console.error(`warning: ${problem.path}: ${problem.message}`)

  if (options.explain !== undefined) {
    const explained = explain(result, options.explain)
    if (!explained.found) {
      console.error(explained.text)
      return 1
    }
    console.log(explained.text)
    return 0
  }
  if (options.json) {
    const groups = result.groups.map((group) => ({
      id: group.id,
      name: group.name,
      members: group.members.map((member) => ({ providerID: member.providerID, modelID: member.modelID })),
      // What grouping detected for this group and left out, and why: the source --explain reads too.
      left_out: result.ungrouped
        .filter((model) => model.groupID === group.id)
        .map((model) => ({ providerID: model.providerID, modelID: model.modelID, reasons: [model.reason] })),
    }))
    console.log(JSON.stringify({ groups }))
    return 0
  }
  console.log(table(result.groups))
  return 0
}
