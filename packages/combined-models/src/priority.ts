/**
 * Routing order of a group's members: providers listed in the priority (per-group `priority`, else
 * `provider_priority`) first, in that order; the rest alphabetically by provider id, so the order never depends on
 * catalog order. Inside one provider, members by model id.
 */
import type { MemberRef } from "./types.ts"

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export function orderMembers<T extends MemberRef>(members: readonly T[], priority: readonly string[]): T[] {
  // Unlisted providers share one rank after every listed one. A priority is a handful of ids: `indexOf` beats
  // building a map for every group of a catalog.
  const rankOf = (providerID: string) => {
    const index = priority.indexOf(providerID)
    return index === -1 ? priority.length : index
  }
  return [...members].sort((a, b) => {
    const byRank = rankOf(a.providerID) - rankOf(b.providerID)
    if (byRank !== 0) return byRank
    return compareText(a.providerID, b.providerID) || compareText(a.modelID, b.modelID)
  })
}

/** What a member costs per million tokens, input plus output; undefined when the catalog gives no price. */
function priceOf(member: MemberRef & { cost?: { input: number; output: number } }): number | undefined {
  return member.cost ? member.cost.input + member.cost.output : undefined
}

/**
 * The `cost` strategy: cheapest first by the catalog's price of that model at each provider; a subscription (price 0)
 * comes first, a member without a price last (nothing says it is cheap); the priority order breaks ties. OpenCode's
 * provider state has no "no price": it turns a missing one into 0, so there such a member sorts as free.
 */
export function orderMembersByCost<T extends MemberRef & { cost?: { input: number; output: number } }>(
  members: readonly T[],
  priority: readonly string[],
): T[] {
  const rank = (member: T) => priceOf(member) ?? Number.POSITIVE_INFINITY
  // `sort` is stable: equal prices keep the priority order.
  return orderMembers(members, priority).sort((a, b) => rank(a) - rank(b))
}

/** Distinct provider ids of already ordered members, first appearance wins. */
export function distinctProviders(members: readonly MemberRef[]): string[] {
  const providers: string[] = []
  for (const member of members) if (!providers.includes(member.providerID)) providers.push(member.providerID)
  return providers
}
