import { configJsonSchema } from "../config.ts"

export async function run(_args: string[]): Promise<number> {
  console.log(JSON.stringify(configJsonSchema(), null, 2))
  return 0
}
