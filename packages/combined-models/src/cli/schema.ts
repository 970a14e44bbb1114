import { configJsonSchema } from "../config.ts"

export const USAGE = `usage: combined-models schema

Prints the JSON Schema of provider_priority and combined_models (opencode.json's keys this project adds), for an
editor's completion and checks: combined-models schema > combined-models.schema.json`

export async function run(args: string[]): Promise<number> {
  if (args.length > 0) {
    console.error(`combined-models schema: takes no arguments (got ${args.join(" ")})\n\n${USAGE}`)
    return 2
  }
  console.log(JSON.stringify(configJsonSchema(), null, 2))
  return 0
}
