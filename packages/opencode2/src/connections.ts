/**
 * Accounts on OpenCode 2's own connections. OpenCode 2 stores several credentials per integration (provider), one
 * active at a time, and rotates none of them. Each further key connection of a provider whose models are in the
 * catalog becomes a provider of its own, `<provider>@<label>`, with the same wire, endpoint and models and that
 * connection's key: a member like any other, with its own quota, cooldowns and readings, grouped with its provider's
 * models and routed and failed over by the same router. The provider's own entry keeps the active connection.
 *
 * The connections are read while the plugin starts (`ctx.integration.list`, `ctx.integration.connection.resolve`,
 * both async: `setup` returns the promise, with a time limit), so the first catalog already has the connection
 * providers.
 */
import type { AccountConfig } from "combined-models"
import type { ModelEditor, V2Model, V2ProviderInfo } from "./api.ts"

/** A key connection beyond an integration's active one. */
export interface ExtraConnection {
  /** The provider (integration) it belongs to, e.g. `anthropic`. */
  providerID: string
  /** The member provider it becomes, e.g. `anthropic@work`. */
  id: string
  label: string
  key: string
}

type ConnectionRef = { type: string; id?: string; label?: string; name?: string; method?: string; [key: string]: unknown }

/** What the plugin reads connections through (`ctx.integration`). */
export interface IntegrationAccess {
  list(): Promise<unknown>
  connection: {
    active(integrationID: string): Promise<ConnectionRef | undefined>
    resolve(connection: ConnectionRef): Promise<{ type: string; key?: unknown } | undefined>
  }
}

/** `work` from a label: what may follow `@` in a provider id. */
export function labelSlug(label: string): string {
  return label.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || "key"
}

function sameConnection(a: ConnectionRef | undefined, b: ConnectionRef): boolean {
  return !!a && a.type === b.type && (a.id ?? a.name) === (b.id ?? b.name)
}

/**
 * Every integration's stored key connections beyond its active one (`ctx.integration.list()` lists each integration
 * with its connections). Never throws: an integration whose connections cannot be read gets no extra members.
 */
export async function readExtraConnections(access: IntegrationAccess | undefined): Promise<ExtraConnection[]> {
  if (!access || typeof access.list !== "function" || typeof access.connection?.resolve !== "function") return []
  let integrations: { id?: unknown; connections?: unknown }[] = []
  try {
    const answer = (await access.list()) as { data?: unknown } | unknown[] | undefined
    const data = Array.isArray(answer) ? answer : (answer as { data?: unknown })?.data
    integrations = Array.isArray(data) ? data : []
  } catch {
    return []
  }
  const extras: ExtraConnection[] = []
  for (const integration of integrations) {
    const providerID = integration?.id
    if (typeof providerID !== "string" || !Array.isArray(integration.connections)) continue
    const stored = (integration.connections as ConnectionRef[]).filter((c) => c && c.type === "credential" && typeof c.id === "string")
    if (stored.length === 0) continue
    try {
      const active = await access.connection.active(providerID).catch(() => undefined)
      const taken = new Set<string>()
      for (const connection of stored) {
        if (sameConnection(active, connection)) continue
        const resolved = await access.connection.resolve(connection).catch(() => undefined)
        if (resolved?.type !== "key" || typeof resolved.key !== "string" || resolved.key === "") continue
        let slug = labelSlug(typeof connection.label === "string" ? connection.label : String(connection.id))
        while (taken.has(slug)) slug = `${slug}-2`
        taken.add(slug)
        extras.push({ providerID, id: `${providerID}@${slug}`, label: typeof connection.label === "string" ? connection.label : slug, key: resolved.key })
      }
    } catch {}
  }
  return extras
}

/**
 * `combined_models.accounts`, the 1.x edition's setting, on OpenCode 2: each account becomes a member provider under
 * its own id exactly as a stored connection does, with the key its `env` variables hold. An account whose key is not
 * set is left out and said why (OpenCode 2's own way needs no setting: every stored key of a provider is a member).
 */
export function accountMembers(
  accounts: Record<string, AccountConfig>,
  env: Record<string, string | undefined> = process.env,
): { members: ExtraConnection[]; problems: string[] } {
  const members: ExtraConnection[] = []
  const problems: string[] = []
  for (const [id, account] of Object.entries(accounts)) {
    const variables = account.env ?? []
    const key = variables.map((name) => env[name]).find((value): value is string => typeof value === "string" && value !== "")
    if (key) members.push({ providerID: account.provider, id, label: account.name ?? id, key })
    else
      problems.push(
        `combined_models.accounts.${id}: no key, so it is not a member: ${variables.length ? `set ${variables.join(" or ")}` : 'give it "env": ["<VARIABLE>"] with the variable set'}, or store the key as a connection of ${account.provider} (opencode auth login: every stored key of a provider is a member)`,
      )
  }
  return { members, problems }
}

/** The provider editor as OpenCode 2 hands it: `get` and `add` are what this file uses. */
export interface ConnectionProviderEditor {
  get?(providerID: string): unknown
  add(entry: { info: V2ProviderInfo; models: V2Model[] }): void
}

/**
 * The connection providers, added in the provider transform: the base provider's info under the new id, with the
 * connection's key in `settings` and no integration of its own (bound to its integration, or given the editor's
 * `sourceConnection`, the provider's models were not listed on 2.2.5). Their models come in the model transform
 * (`addConnectionModels`): at the provider transform the catalog holds no models yet. Returns the providers added.
 */
export function addConnectionProviders(editor: ConnectionProviderEditor, extras: readonly ExtraConnection[]): string[] {
  if (typeof editor.get !== "function") return []
  const added: string[] = []
  for (const extra of extras) {
    // An id OpenCode already has (an account named like a provider) is not taken over.
    if (editor.get(extra.id)) continue
    const entry = editor.get(extra.providerID) as { info?: V2ProviderInfo; provider?: V2ProviderInfo; models?: unknown } | undefined
    const base = entry?.info ?? entry?.provider
    if (!base || typeof base.id !== "string") continue
    const models = (Array.isArray(entry?.models) ? entry.models : typeof entry?.models === "object" && entry.models !== null ? Object.values(entry.models) : []) as V2Model[]
    const info: V2ProviderInfo = structuredClone({ ...base, id: extra.id, name: `${base.name ?? extra.providerID} (${extra.label})`, activation: "enabled" })
    info.settings = { ...(base.settings ?? {}), apiKey: extra.key }
    delete info.integrationID
    editor.add({
      info,
      models: models.filter((model) => model && typeof model.id === "string").map((model) => structuredClone({ ...model, providerID: extra.id })),
    })
    added.push(extra.id)
  }
  return added
}

/**
 * The model transform, before the router's: each connection provider gets its base provider's models (as OpenCode
 * merged them with the config), with the base provider's settings and the connection's key, which the combined model
 * copies when it points at the member. Returns how many models were added.
 */
export function addConnectionModels(editor: ModelEditor, extras: readonly ExtraConnection[]): number {
  let count = 0
  for (const extra of extras) {
    if (!editor.provider.get(extra.id)) continue
    const base = editor.provider.get(extra.providerID)?.provider
    for (const model of editor.list(extra.providerID)) {
      if (model.providerID !== extra.providerID) continue
      editor.update(extra.id, model.id, (target) => {
        Object.assign(target, structuredClone({ ...model, providerID: extra.id }))
        target.package = model.package ?? base?.package
        target.settings = { ...(base?.settings ?? {}), ...(model.settings ?? {}), apiKey: extra.key }
      })
      count++
    }
  }
  return count
}
