/** The real models.dev snapshot, loaded once for the identity, grouping and property tests. */
import { fromModelsDev } from "../src/catalog.ts"
import type { CatalogModel, CatalogProvider } from "../src/types.ts"

export const FIXTURE_PATH = "/work/shared/fixtures/models-dev-2026-07-02.json"

export const fixtureJson: unknown = await Bun.file(FIXTURE_PATH).json()
export const fixtureProviders: CatalogProvider[] = fromModelsDev(fixtureJson).providers

const byRef = new Map<string, CatalogModel>()
for (const provider of fixtureProviders) for (const model of provider.models) byRef.set(`${provider.id}/${model.modelID}`, model)

/** `"anthropic/claude-sonnet-4-5"` → that catalog model; throws when the fixture lacks it, so tables stay real. */
export function fixtureModel(ref: string): CatalogModel {
  const model = byRef.get(ref)
  if (!model) throw new Error(`fixture has no model ${ref}`)
  return model
}
