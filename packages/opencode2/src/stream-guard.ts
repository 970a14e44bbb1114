/**
 * A member's streamed 200, watched as OpenCode reads it. For now: tells the router when the stream ended cleanly.
 */
export interface GuardOptions {
  served: () => void
}

export function guardStream(response: Response, options: GuardOptions): Response {
  const body = response.body
  if (!body) {
    options.served()
    return response
  }
  const reader = body.getReader()
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read()
      if (done) {
        controller.close()
        options.served()
        return
      }
      controller.enqueue(value)
    },
    cancel(reason) {
      return reader.cancel(reason)
    },
  })
  return new Response(stream, { status: response.status, statusText: response.statusText, headers: response.headers })
}
