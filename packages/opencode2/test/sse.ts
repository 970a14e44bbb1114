/** A member's 200 as server-sent events, each string one chunk of the body: what the stream guard reads. */
export function sseResponse(events: string[]): Response {
  return new Response(
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const event of events) controller.enqueue(new TextEncoder().encode(event))
        controller.close()
      },
    }),
    { headers: { "content-type": "text/event-stream" } },
  )
}
