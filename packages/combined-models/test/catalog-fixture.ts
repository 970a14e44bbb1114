/**
 * The real models.dev snapshot, loaded once for the identity, grouping and property tests. It lives in the
 * project's shared/ folder beside the repository (as CI has it), or wherever COMBINED_MODELS_CATALOG points; without
 * it those tests are skipped by name rather than failing on a clone that has only the repository.
 */
import { describe } from "bun:test"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { fromModelsDev } from "../src/catalog.ts"
import type { CatalogModel, CatalogProvider } from "../src/types.ts"

export const FIXTURE_PATH =
  process.env.COMBINED_MODELS_CATALOG ?? join(import.meta.dir, "../../../../shared/fixtures/models-dev-2026-07-02.json")

export const hasFixture = existsSync(FIXTURE_PATH)
if (!hasFixture) console.warn(`skipping tests on the real catalog: no ${FIXTURE_PATH} (set COMBINED_MODELS_CATALOG)`)

/** `describe` for blocks that need the real catalog. */
export const describeWithCatalog = hasFixture ? describe : describe.skip

export const fixtureJson: unknown = hasFixture ? await Bun.file(FIXTURE_PATH).json() : {}
export const fixtureProviders: CatalogProvider[] = fromModelsDev(fixtureJson).providers

const byRef = new Map<string, CatalogModel>()
for (const provider of fixtureProviders) for (const model of provider.models) byRef.set(`${provider.id}/${model.modelID}`, model)

/** `"anthropic/claude-sonnet-4-5"` → that catalog model; throws when the fixture lacks it, so tables stay real. */
export function fixtureModel(ref: string): CatalogModel {
  const model = byRef.get(ref)
  if (!model) throw new Error(`fixture has no model ${ref}`)
  return model
}
