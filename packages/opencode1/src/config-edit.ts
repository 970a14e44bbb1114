/**
 * Changing a combined model's provider order and exclusions in the user's opencode.json, as `opencode combined
 * priority|exclude` and the TUI's `/combined` view do: `jsonc-parser` edits (as OpenCode's own config writes use), so
 * the file's comments and formatting stay; the result is checked by the config schema before anything is written; a
 * file that cannot be read as JSONC, or cannot be written, says why and is left as it was.
 */
import { accessSync, constants, existsSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { applyEdits, modify, parse, printParseErrorCode, type ParseError } from "jsonc-parser"
import { isRecord, resolveConfig, stringList } from "combined-models"

export type ConfigScope = "project" | "global"

export type ConfigEditResult = { ok: true; file: string; changed: boolean } | { ok: false; file: string; message: string }

const FORMATTING = { formattingOptions: { insertSpaces: true, tabSize: 2 } }

/**
 * The file a change goes to. Global: OpenCode's global config (`opencode.jsonc`, `opencode.json`, `config.json` in its
 * config directory, the first that exists, as upstream picks it). Project: the nearest `opencode.jsonc` or
 * `opencode.json` from `directory` up to the repository root, else a new `opencode.json` in `directory`.
 */
export function configFileFor(input: { scope: ConfigScope; directory: string; globalDir: string }): string {
  if (input.scope === "global") {
    const candidates = ["opencode.jsonc", "opencode.json", "config.json"].map((file) => join(input.globalDir, file))
    return candidates.find((file) => existsSync(file)) ?? candidates[0]!
  }
  for (let dir = input.directory; ; dir = dirname(dir)) {
    for (const name of ["opencode.jsonc", "opencode.json"]) if (existsSync(join(dir, name))) return join(dir, name)
    if (existsSync(join(dir, ".git")) || dirname(dir) === dir) break
  }
  return join(input.directory, "opencode.json")
}

function parseProblem(text: string): string | undefined {
  const errors: ParseError[] = []
  parse(text, errors, { allowTrailingComma: true, disallowComments: false })
  const first = errors[0]
  if (!first) return undefined
  const before = text.slice(0, first.offset)
  const line = before.split("\n").length
  const column = first.offset - before.lastIndexOf("\n")
  return `${printParseErrorCode(first.error)} at line ${line}, column ${column}`
}

/** The group's rule as the file holds it now. */
function groupRule(text: string, group: string): Record<string, unknown> {
  const data = parse(text, [], { allowTrailingComma: true })
  const settings = isRecord(data) && isRecord(data.combined_models) ? data.combined_models : {}
  const groups = isRecord(settings.groups) ? settings.groups : {}
  return isRecord(groups[group]) ? groups[group] : {}
}

/** `combined_models.groups.<group>.priority` set to `providers` (an empty list removes it: back to provider_priority). */
export function withGroupPriority(text: string, group: string, providers: readonly string[]): string {
  const value = providers.length ? [...providers] : undefined
  return applyEdits(text, modify(text, ["combined_models", "groups", group, "priority"], value, FORMATTING))
}

/** `member` (`provider/model` or a provider) added to, or with `include` taken out of, the group's `exclude`. */
export function withGroupExclude(text: string, group: string, member: string, include = false): string {
  const current = stringList(groupRule(text, group).exclude) ?? []
  const next = include ? current.filter((entry) => entry !== member) : current.includes(member) ? current : [...current, member]
  return applyEdits(text, modify(text, ["combined_models", "groups", group, "exclude"], next.length ? next : undefined, FORMATTING))
}

/** Apply `edit` to the file, or say why not. Never throws; on any failure the file is as it was. */
export function editConfigFile(file: string, edit: (text: string) => string): ConfigEditResult {
  let before: string
  try {
    before = existsSync(file) ? readFileSync(file, "utf8") : "{}\n"
  } catch (error) {
    return { ok: false, file, message: `cannot read ${file} (${(error as Error).message}); nothing changed` }
  }
  const problem = parseProblem(before)
  if (problem) return { ok: false, file, message: `${file} is not valid JSONC (${problem}); fix it first, nothing changed` }
  const after = edit(before)
  if (after === before) return { ok: true, file, changed: false }
  const resolved = resolveConfig(parse(after, [], { allowTrailingComma: true }))
  if (!resolved.ok)
    return { ok: false, file, message: `the change would make ${file} invalid (${resolved.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}); nothing changed` }
  // Written in place, as OpenCode writes its config: the file keeps its mode and links; a read-only one stays as it is.
  try {
    if (existsSync(file)) accessSync(file, constants.W_OK)
    writeFileSync(file, after)
  } catch (error) {
    const code = (error as { code?: string }).code
    const why = code === "EACCES" || code === "EPERM" || code === "EROFS" ? "it is read-only" : (error as Error).message
    return { ok: false, file, message: `cannot write ${file} (${why}); nothing changed` }
  }
  return { ok: true, file, changed: true }
}

export interface OrderEditInput {
  action: "priority" | "exclude" | "include"
  group: string
  /** priority: provider ids in order; exclude/include: one `provider/model` or provider. */
  values: readonly string[]
  scope: ConfigScope
  directory: string
  globalDir: string
  /** The group's members now, to check what the user named. */
  members: readonly { providerID: string; modelID: string }[] | undefined
}

/** `opencode combined priority|exclude|include <group> …`: the change, written, or why not. Text for the terminal. */
export function editGroupOrder(input: OrderEditInput): { code: number; output: string } {
  if (!input.members) return { code: 1, output: `no combined model "${input.group}"; \`opencode combined\` lists them\n` }
  const providers = [...new Set(input.members.map((member) => member.providerID))]
  const file = configFileFor(input)
  let result: ConfigEditResult
  if (input.action === "priority") {
    const unknown = input.values.filter((id) => !providers.includes(id))
    if (unknown.length)
      return { code: 1, output: `${unknown.join(", ")} ${unknown.length === 1 ? "is" : "are"} not a provider of "${input.group}" (its providers: ${providers.join(", ")}); nothing changed\n` }
    result = editConfigFile(file, (text) => withGroupPriority(text, input.group, input.values))
  } else {
    const [member] = input.values
    const known = member !== undefined && (providers.includes(member) || input.members.some((m) => `${m.providerID}/${m.modelID}` === member))
    if (!member || input.values.length !== 1 || (!known && input.action === "exclude"))
      return { code: 1, output: `name one member of "${input.group}" as provider/model or a provider (its members: ${input.members.map((m) => `${m.providerID}/${m.modelID}`).join(", ")}); nothing changed\n` }
    result = editConfigFile(file, (text) => withGroupExclude(text, input.group, member, input.action === "include"))
  }
  if (!result.ok) return { code: 1, output: `${result.message}\n` }
  const what =
    input.action === "priority"
      ? input.values.length
        ? `"${input.group}" now tries ${input.values.join(" → ")} first`
        : `"${input.group}" follows provider_priority again`
      : input.action === "exclude"
        ? `"${input.group}" no longer uses ${input.values[0]}`
        : `"${input.group}" uses ${input.values[0]} again`
  return { code: 0, output: `${what} (${result.changed ? `written to ${result.file}` : `${result.file} already says so`})\n` }
}

/** The command's entry point: the group's members from the providers OpenCode loaded, then `editGroupOrder`. */
export function combinedOrderEdit(
  groups: ReadonlyMap<string, { members: readonly { providerID: string; modelID: string }[] }>,
  input: Omit<OrderEditInput, "members" | "scope"> & { global?: boolean },
): { code: number; output: string } {
  return editGroupOrder({ ...input, scope: input.global ? "global" : "project", members: groups.get(input.group)?.members })
}
