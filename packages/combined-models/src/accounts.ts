/**
 * `combined_models.accounts`: a second (third, …) account of a provider becomes a provider of its own, with the
 * provider's models, under the account id. Its own id gives it its own credential (auth store entry, environment
 * variables, `provider.<id>` options), its own cooldowns and its own rate-limit readings, with nothing else to learn:
 * routing already treats one provider id as one quota. Pure: the OpenCode adapter and the CLI apply this to their
 * own provider shapes.
 */
import { Account, ACCOUNT_ID, type AccountConfig } from "./config.ts"
import { isRecord } from "./record.ts"

export interface AccountProblem {
  path: string
  message: string
}

/**
 * The valid accounts of a raw `opencode.json`: id → its settings, read through the config schema. An entry the schema
 * refuses is left out here; the config check names it (OpenCode refuses such a file before providers load).
 */
export function accountsOf(config: unknown): Record<string, AccountConfig> {
  const settings = isRecord(config) && isRecord(config.combined_models) ? config.combined_models : undefined
  const accounts = settings && isRecord(settings.accounts) ? settings.accounts : {}
  const result: Record<string, AccountConfig> = {}
  for (const [id, account] of Object.entries(accounts)) {
    const parsed = Account.safeParse(account)
    if (ACCOUNT_ID.test(id) && parsed.success) result[id] = parsed.data
  }
  return result
}

/**
 * Which accounts can be added to the catalog, and why the others cannot: each must name a catalog provider, and its
 * id must not be one already. A `provider.<account id>` block in opencode.json is not a clash: it configures the
 * account (its key, its options).
 */
export function plannedAccounts(
  accounts: Record<string, AccountConfig>,
  known: (id: string) => boolean,
): { accepted: [string, AccountConfig][]; problems: AccountProblem[] } {
  const accepted: [string, AccountConfig][] = []
  const problems: AccountProblem[] = []
  for (const [id, account] of Object.entries(accounts)) {
    const path = `combined_models.accounts.${id}`
    if (id === "combined") problems.push({ path, message: '"combined" is the combined models\' own provider id; choose another account id' })
    else if (known(id))
      problems.push({ path, message: `"${id}" is already a provider id; an account needs an id of its own, e.g. "${account.provider}-work"` })
    else if (accounts[account.provider]) problems.push({ path: `${path}.provider`, message: `"${account.provider}" is an account itself; name the provider it is an account of` })
    else if (!known(account.provider))
      problems.push({
        path: `${path}.provider`,
        message: `provider "${account.provider}" is not in OpenCode's catalog; the account is left out (a provider of your own needs no account: define a second one in the provider block)`,
      })
    else {
      accepted.push([id, account])
      continue
    }
  }
  return { accepted, problems }
}

/** `Anthropic (anthropic-work)`, unless the account names itself. */
export function accountName(providerName: string, id: string, account: AccountConfig): string {
  return account.name ?? `${providerName} (${id})`
}
