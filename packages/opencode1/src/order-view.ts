/**
 * The TUI's provider-order view (from `/combined`): a combined model's providers in the order routing tries them,
 * then the members the config excludes, and the changes a person makes there (move a provider up or down, exclude a
 * member or bring it back), written to the opencode.json they choose with `config-edit.ts`. Pure but for that write.
 */
import { configFileFor, editConfigFile, withGroupExclude, withGroupPriority, type ConfigEditResult, type ConfigScope } from "./config-edit.ts"
import { findProvider, membersOf } from "./command.ts"
import type { ModelRef, ProviderList } from "./label.ts"
import { PROVIDER_ID } from "./runtime.ts"
import { isRecord, stringList } from "combined-models"

export interface OrderRow {
  /** What an exclude names: a provider (all its members) or `provider/model`. */
  id: string
  providerID: string
  excluded: boolean
}

/** The rows for one combined model: its providers in routing order, then what `combined_models.groups.<id>.exclude` leaves out. */
export function orderRows(input: { providers: ProviderList; config: unknown; group: string }): OrderRow[] {
  const members = membersOf(input.providers, { providerID: PROVIDER_ID, modelID: input.group })
  const rows: OrderRow[] = []
  for (const member of members)
    if (!rows.some((row) => row.providerID === member.providerID)) rows.push({ id: member.providerID, providerID: member.providerID, excluded: false })
  const settings = isRecord(input.config) && isRecord(input.config.combined_models) ? input.config.combined_models : {}
  const groups = isRecord(settings.groups) ? settings.groups : {}
  const rule = isRecord(groups[input.group]) ? groups[input.group] : {}
  for (const id of stringList((rule as Record<string, unknown>).exclude) ?? [])
    rows.push({ id, providerID: id.split("/")[0] ?? id, excluded: true })
  return rows
}

/** The provider order after moving `providerID` by `delta` places among the included providers. */
export function movedOrder(rows: readonly OrderRow[], providerID: string, delta: -1 | 1): string[] {
  const order = rows.filter((row) => !row.excluded).map((row) => row.providerID)
  const from = order.indexOf(providerID)
  const to = from + delta
  if (from === -1 || to < 0 || to >= order.length) return order
  const next = [...order]
  next.splice(from, 1)
  next.splice(to, 0, providerID)
  return next
}

/** The combined model the view is about: the session's selection when it is one, else the first combined model. */
export function orderGroupFor(providers: ProviderList, selection: ModelRef | undefined): string | undefined {
  if (selection?.providerID === PROVIDER_ID) return selection.modelID
  const combined = findProvider(providers, PROVIDER_ID)
  return combined ? Object.keys(combined.models).sort()[0] : undefined
}

export type OrderChange = { type: "move"; providerID: string; delta: -1 | 1 } | { type: "exclude" | "include"; id: string }

/** Write one change of the view to the chosen file; says why not when it cannot. */
export function writeOrderChange(input: {
  rows: readonly OrderRow[]
  group: string
  change: OrderChange
  scope: ConfigScope
  directory: string
  globalDir: string
}): ConfigEditResult {
  const file = configFileFor(input)
  const { change } = input
  if (change.type === "move") {
    const order = movedOrder(input.rows, change.providerID, change.delta)
    return editConfigFile(file, (text) => withGroupPriority(text, input.group, order))
  }
  return editConfigFile(file, (text) => withGroupExclude(text, input.group, change.id, change.type === "include"))
}
