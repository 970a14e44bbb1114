/**
 * What each provider SDK needs at the edge to report its failures faithfully. The OpenCode adapter installs these on
 * member providers and the driver's rehearsal on its clients, so both read the same streams.
 */
import { watchBedrockStream } from "./bedrock.ts"
import { watchGoogleStream } from "./google.ts"
import { isWatchedFetch, type Fetch } from "./stream-watch.ts"

export { BedrockStreamException, watchBedrockStream } from "./bedrock.ts"
export { GoogleStreamError, watchGoogleStream } from "./google.ts"

/** The SDK packages whose streams hide failures at the pin, and the wrapper that brings them out. */
const STREAM_WATCHERS: Record<string, (inner?: Fetch) => Fetch> = {
  "@ai-sdk/amazon-bedrock": watchBedrockStream,
  "@ai-sdk/google": watchGoogleStream,
}

/**
 * The `fetch` to give a provider SDK (`npm` package name): the caller's own (or the global one), wrapped where that
 * SDK drops errors from the stream. Undefined when nothing needs wrapping and the caller had none.
 */
export function fetchForSdk(npm: string | undefined, inner?: Fetch): Fetch | undefined {
  const watch = npm ? STREAM_WATCHERS[npm] : undefined
  if (!watch || isWatchedFetch(inner)) return inner
  return watch(inner)
}
