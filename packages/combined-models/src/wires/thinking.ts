/**
 * A provider refusing the reasoning a request's history carried. Claude binds each thinking block's signature to the
 * model that wrote it; a block it cannot verify is answered with a 400 `invalid_request_error`,
 * "messages.1.content.0: Invalid `signature` in `thinking` block", which Amazon Bedrock passes on in a
 * `ValidationException` ("The model returned the following errors: messages.1.content.0: Invalid `signature` in
 * `thinking` block"; some clients print it without the backticks). A thinking block sent without its signature is
 * refused as a missing field ("messages.3.content.0.thinking.signature: Field required"). Resent without that
 * reasoning, the same request goes through.
 */
const REFUSED_SIGNATURE = [
  /invalid\s*`?signature`?\s*in\s*`?(?:redacted_)?thinking`?\s*block/i,
  /\.thinking\.signature:\s*field required/i,
] as const

/** Whether a refused request's text says the thinking in its history could not be verified. */
export function refusesThinkingSignature(text: string): boolean {
  return REFUSED_SIGNATURE.some((pattern) => pattern.test(text))
}
