/**
 * The model a provider request names, read from the request itself: a rate-limit reading belongs to the allowance of
 * the model that was asked (a title request on the small model is not the main model's), and only the request says
 * which one that was. The AI SDK's JSON wires (Anthropic, OpenAI and the APIs that copy it, OpenRouter, Copilot) put
 * `"model"` first in the body; Bedrock and Google name it in the path.
 */
import type { Fetch } from "./stream-watch.ts"

/** How far into a body the model is looked for: the SDKs write it first, so a long conversation is never scanned. */
const MODEL_WITHIN = 4_096

/** A top-level `"model":"…"` (a string value: inside another string its quotes would be escaped, so it cannot match). */
const BODY_MODEL = /"model"\s*:\s*"((?:[^"\\]|\\.)*)"/

/** `/model/<id>/converse-stream` (Bedrock), `/models/<id>:streamGenerateContent` (Google). */
const PATH_MODEL = /\/models?\/([^/:]+)(?:[/:]|$)/

export function requestedModel(input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]): string | undefined {
  const body = init?.body
  if (typeof body === "string") {
    const found = BODY_MODEL.exec(body.slice(0, MODEL_WITHIN))
    if (found) {
      try {
        return JSON.parse(`"${found[1]}"`) as string
      } catch {
        return found[1]
      }
    }
  }
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url
  try {
    const found = PATH_MODEL.exec(new URL(url).pathname)
    return found ? decodeURIComponent(found[1]!) : undefined
  } catch {
    return undefined
  }
}
