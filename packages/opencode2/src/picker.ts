/**
 * One entry per model in OpenCode 2's model list. OpenCode 2's model dialog (and the mini client's) lists every model
 * of the catalog whose `status` is not `deprecated`; a plugin cannot change the dialog, only the catalog. So in
 * `"combined"` mode (the default, `combined_models.picker` as in the 1.x edition) the members of each combined model
 * are given the status `deprecated` in the catalog after the router read them: the dialog then lists the combined
 * model once, while the members stay in the catalog, routable and listed by `opencode models`. `"all"` (the option,
 * or `/combined members` in the TUI, kept in a state file for the machine) leaves every provider's entry listed.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { defaultHealthPath, type Group } from "combined-models"
import { pickerMode, type PickerMode } from "combined-models"
import type { ModelEditor } from "./api.ts"
import { PROVIDER_ID } from "./catalog.ts"

export type { PickerMode }

export function pickerFile(stateDir: string): string {
  return join(dirname(defaultHealthPath(stateDir)), "picker-opencode2.json")
}

/** The mode chosen in the TUI (`/combined members`), if any: it wins over the option until chosen again. */
export function readPickerChoice(file: string): PickerMode | undefined {
  try {
    const mode = (JSON.parse(readFileSync(file, "utf8")) as { mode?: unknown }).mode
    return mode === "all" || mode === "combined" ? mode : undefined
  } catch {
    return undefined
  }
}

export function writePickerChoice(file: string, mode: PickerMode): void {
  mkdirSync(dirname(file), { recursive: true })
  const temporary = `${file}.${process.pid}.tmp`
  writeFileSync(temporary, JSON.stringify({ version: 1, mode }))
  renameSync(temporary, file)
}

/** The mode in force: the TUI's choice, else the plugin option, else `"combined"`. */
export function currentPickerMode(options: unknown, file: string): PickerMode {
  return readPickerChoice(file) ?? pickerMode(options)
}

/**
 * The catalog as the model list should show it: in `"combined"` mode each member of a combined model is marked
 * `deprecated` (listed nowhere in the dialog), each combined model is not (it copies its serving member's entry,
 * status included). Returns the members hidden.
 */
export function applyPickerMode(editor: ModelEditor, groups: Iterable<Group>, mode: PickerMode): string[] {
  const hidden: string[] = []
  for (const group of groups) {
    if (!editor.get(PROVIDER_ID, group.id)) continue
    editor.update(PROVIDER_ID, group.id, (model) => {
      if (model.status === "deprecated") delete model.status
    })
    if (mode === "all") continue
    for (const member of group.members) {
      if (!editor.get(member.providerID, member.modelID)) continue
      editor.update(member.providerID, member.modelID, (model) => {
        model.status = "deprecated"
      })
      hidden.push(`${member.providerID}/${member.modelID}`)
    }
  }
  return hidden
}
