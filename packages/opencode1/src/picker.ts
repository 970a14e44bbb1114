/**
 * The TUI's model picker with combined models: one entry per model. A concrete model that is a member of a combined
 * model is listed once, as the combined model, instead of once per provider; models in no group stay where they are.
 * Favorites and recents that point at a member show as its combined model (what is stored is left as it is). Search
 * finds a combined model by any member's id or name. `combined_models.picker: "all"` (or the dialog's toggle) shows
 * every provider's entry as stock does.
 *
 * Pure: built from what the TUI holds (the provider list with the combined models' members) and, for the entry's
 * description, the health file the server writes. Nothing is fetched.
 */
import { fileHealthView, findProvider, membersOf } from "./command.ts"
import type { ModelRef, ProviderList } from "./label.ts"
import { PROVIDER_ID } from "./runtime.ts"
import { distinctProviders, formatDuration, memberKey, providerCooldowns, type HealthView, type PickerMode } from "combined-models"

export { PICKER_MODES, pickerMode, type PickerMode } from "combined-models"

export interface PickerView {
  mode: PickerMode
  /** Whether the picker lists this concrete model under its provider. */
  listed(model: ModelRef): boolean
  /** What a favorite or recent pointing at `model` shows as: its combined model in "combined" mode, else itself. */
  shownAs(model: ModelRef): ModelRef
  /** Text a search matches a combined model by, besides its own name: its members' ids and names. */
  searchText(model: ModelRef): string
  /** A combined entry's description: how many providers serve it and which answers now. */
  description(model: ModelRef, now?: number): string | undefined
}

const key = memberKey

export function pickerView(input: { providers: ProviderList; mode?: PickerMode; stateDir?: string; health?: HealthView }): PickerView {
  const mode = input.mode ?? "combined"
  const { providers } = input
  const memberOf = new Map<string, ModelRef>()
  const members = new Map<string, ModelRef[]>()
  for (const modelID of Object.keys(findProvider(providers, PROVIDER_ID)?.models ?? {})) {
    const combined = { providerID: PROVIDER_ID, modelID }
    const list = membersOf(providers, combined)
    members.set(modelID, list)
    for (const member of list) if (!memberOf.has(key(member))) memberOf.set(key(member), combined)
  }
  // The view is rebuilt when the provider list or the mode changes, not per keystroke: search text and descriptions
  // are worked out once per combined model.
  const searchTexts = new Map<string, string>()
  const descriptions = new Map<string, string | undefined>()
  let health = input.health
  const healthView = () => (health ??= input.stateDir ? fileHealthView(input.stateDir) : undefined)

  return {
    mode,
    listed: (model) => mode === "all" || model.providerID === PROVIDER_ID || !memberOf.has(key(model)),
    shownAs: (model) => (mode === "combined" && memberOf.get(key(model))) || model,
    searchText(model) {
      if (model.providerID !== PROVIDER_ID) return ""
      let text = searchTexts.get(model.modelID)
      if (text === undefined) {
        text = (members.get(model.modelID) ?? [])
          .map((member) => `${key(member)} ${findProvider(providers, member.providerID)?.models[member.modelID]?.name ?? ""}`)
          .join(" ")
        searchTexts.set(model.modelID, text)
      }
      return text
    },
    description(model, now = Date.now()) {
      if (model.providerID !== PROVIDER_ID) return undefined
      if (!descriptions.has(model.modelID)) descriptions.set(model.modelID, describe(members.get(model.modelID) ?? [], healthView(), now))
      return descriptions.get(model.modelID)
    },
  }
}

/** `3 providers · anthropic cooling 20 s → github-copilot`: a provider cools as routing sees it (its longest). */
function describe(list: readonly ModelRef[], view: HealthView | undefined, now: number): string | undefined {
  const providerIDs = distinctProviders(list)
  if (providerIDs.length === 0) return undefined
  const count = `${providerIDs.length} provider${providerIDs.length === 1 ? "" : "s"}`
  const cooling = view ? providerCooldowns(list, view, now) : new Map()
  const route: string[] = []
  for (const providerID of providerIDs) {
    const entry = cooling.get(providerID)
    if (!entry) return `${count} · ${[...route, providerID].join(" → ")}`
    route.push(`${providerID} cooling ${formatDuration(entry.until - now)}`)
  }
  return `${count} · every provider cooling (${route.join(", ")})`
}

/**
 * Favorites or recents as the picker shows them: each as `shownAs`, the first of several that show as one combined
 * model kept. Whatever else an item carries stays.
 */
export function shownAsAll<T extends ModelRef>(view: PickerView, items: readonly T[]): T[] {
  const seen = new Set<string>()
  const shown: T[] = []
  for (const item of items) {
    const ref = view.shownAs(item)
    if (seen.has(key(ref))) continue
    seen.add(key(ref))
    shown.push(ref === item ? item : { ...item, providerID: ref.providerID, modelID: ref.modelID })
  }
  return shown
}
