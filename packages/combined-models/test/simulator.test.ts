/**
 * The simulator, driven through the real AI SDK clients. The fault matrix below documents how each failure reaches a
 * `streamText` caller (ai 6, @ai-sdk/anthropic 3, @ai-sdk/openai-compatible 2, on Bun): the engine's classifier relies
 * on exactly these channels.
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { createAmazonBedrock } from "@ai-sdk/amazon-bedrock";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenRouter } from "@openrouter/ai-sdk-provider";
import { APICallError, generateText, stepCountIs, streamText, tool, type LanguageModel } from "ai";
import { z } from "zod";
import { FAULT_CATALOG, faults, startSimulator, type CatalogWire, type Simulator } from "../src/simulator/index.ts";
import { BedrockStreamException, fetchForSdk, GoogleStreamError } from "../src/wires/index.ts";

const sim = await startSimulator();
afterAll(() => sim.stop());

// Ids as OpenCode names the providers; one per wire is enough for the matrix.
/** Every wire format; `copilot` is three of them under one provider, tested on its own below. */
type TestedWire = CatalogWire;
const providerFor: Record<TestedWire, string> = {
  google: "google",
  anthropic: "anthropic",
  openai: "github-copilot",
  openrouter: "openrouter",
  bedrock: "amazon-bedrock",
  responses: "openai",
};
sim.addProvider("anthropic", "anthropic");
sim.addProvider("amazon-bedrock", "bedrock");
sim.addProvider("openai", "responses");
sim.addProvider("google", "google");
sim.addProvider("github-copilot", "openai");
sim.addProvider("openrouter", "openrouter");

function modelFor(wire: TestedWire, simulator: Simulator = sim): LanguageModel {
  const id = providerFor[wire];
  // Bedrock as OpenCode's members reach it: the SDK with the stream watcher that surfaces its exception frames.
  if (wire === "bedrock")
    return createAmazonBedrock({ baseURL: simulator.baseURL(id), region: "us-east-1", apiKey: "bedrock-secret", fetch: fetchForSdk("@ai-sdk/amazon-bedrock") })(
      "anthropic.claude-sonnet-4-5-20250929-v1:0",
    );
  // Gemini as OpenCode's members reach it: the SDK with the watcher that surfaces its in-stream error chunks.
  if (wire === "google")
    return createGoogleGenerativeAI({ baseURL: simulator.baseURL(id), apiKey: "google-secret", fetch: fetchForSdk("@ai-sdk/google") })("gemini-2.5-pro");
  if (wire === "responses") return createOpenAI({ baseURL: simulator.baseURL(id), apiKey: "sk-proj-secret" }).responses("gpt-5");
  if (wire === "openrouter") return createOpenRouter({ baseURL: simulator.baseURL(id), apiKey: "sk-or-secret" }).chat("anthropic/claude-sonnet-4.5");
  return wire === "anthropic"
    ? createAnthropic({ baseURL: simulator.baseURL(id), apiKey: "sk-ant-secret" })("claude-sonnet-4-5")
    : createOpenAICompatible({ name: id, baseURL: simulator.baseURL(id), apiKey: "sk-secret" })("gpt-4o");
}

const wires: TestedWire[] = ["anthropic", "openai", "openrouter", "bedrock", "responses", "google"];

beforeEach(() => sim.reset());

/** Everything a caller of `fullStream` can observe, by channel. */
type Observation = {
  text: string;
  reasoning: string;
  textDeltas: number;
  errors: unknown[];
  finishReason: string | undefined;
  aborted: boolean;
  thrown: unknown;
};

async function observe(result: { fullStream: AsyncIterable<{ type: string }> }): Promise<Observation> {
  const seen: Observation = { text: "", reasoning: "", textDeltas: 0, errors: [], finishReason: undefined, aborted: false, thrown: undefined };
  try {
    for await (const part of result.fullStream as AsyncIterable<any>) {
      if (part.type === "text-delta") {
        seen.text += part.text;
        seen.textDeltas++;
      }
      if (part.type === "reasoning-delta") seen.reasoning += part.text;
      if (part.type === "error") seen.errors.push(part.error);
      if (part.type === "finish") seen.finishReason = part.finishReason;
      if (part.type === "abort") seen.aborted = true;
    }
  } catch (error) {
    seen.thrown = error;
  }
  return seen;
}

function stream(wire: TestedWire, options: { abortSignal?: AbortSignal } = {}) {
  return streamText({
    model: modelFor(wire),
    prompt: "Say hello.",
    maxRetries: 0,
    // The default onError logs to the console; the observation captures errors instead.
    onError: () => {},
    abortSignal: options.abortSignal ?? AbortSignal.timeout(1500),
  });
}

describe("healthy replies", () => {
  for (const wire of wires) {
    test(`${wire}: the default reply streams in several chunks and the request is recorded without credentials`, async () => {
      const seen = await observe(stream(wire));
      const id = providerFor[wire];
      expect(seen).toMatchObject({ text: `Hello from ${id}.`, finishReason: "stop", errors: [], thrown: undefined });
      expect(seen.textDeltas).toBeGreaterThanOrEqual(3);

      const [request, ...others] = sim.requests(id);
      expect(others).toHaveLength(0);
      const model = { anthropic: "claude-sonnet-4-5", openai: "gpt-4o", openrouter: "anthropic/claude-sonnet-4.5", bedrock: "anthropic.claude-sonnet-4-5-20250929-v1:0", responses: "gpt-5", google: "gemini-2.5-pro" }[wire];
      expect(request).toMatchObject({ method: "POST", model, stream: true });
      const path = { anthropic: "messages", openai: "chat/completions", openrouter: "chat/completions", bedrock: `model/${encodeURIComponent(model)}/converse-stream`, responses: "responses", google: `models/${model}:streamGenerateContent` }[wire];
      expect(request?.path).toBe(`/${id}/v1/${path}`);
      expect(request?.headers["content-type"]).toContain("application/json");
      expect(request?.headers).not.toHaveProperty("authorization");
      expect(request?.headers).not.toHaveProperty("x-api-key");
      expect(JSON.stringify(request)).not.toContain("secret");
    });

    test(`${wire}: scripted text, reasoning and chunk delays`, async () => {
      const id = providerFor[wire];
      sim.script(id, [{ reasoning: "Thinking it over.", text: "One two three four.", chunkDelayMs: 20 }, { text: "Second." }]);
      expect(sim.pending(id)).toBe(2);
      const started = Date.now();
      const first = await observe(stream(wire));
      expect(first).toMatchObject({ text: "One two three four.", reasoning: "Thinking it over.", finishReason: "stop" });
      // Seven content writes at 20 ms each (more for Anthropic's block events).
      expect(Date.now() - started).toBeGreaterThanOrEqual(7 * 20 - 5);
      expect((await observe(stream(wire))).text).toBe("Second.");
      // The queue is empty again: back to the default reply.
      expect((await observe(stream(wire))).text).toBe(`Hello from ${id}.`);
      expect(sim.requests(id)).toHaveLength(3);
    });

    test(`${wire}: non-streaming requests get a JSON answer, and HTTP faults apply to them too`, async () => {
      const id = providerFor[wire];
      sim.script(id, [{ text: "Not streamed." }, { fault: faults.rateLimit({ retryAfter: 3 }) }]);
      const answer = await generateText({ model: modelFor(wire), prompt: "hi", maxRetries: 0 });
      expect(answer.text).toBe("Not streamed.");
      expect(answer.finishReason).toBe("stop");
      expect(sim.requests(id)[0]?.stream).toBe(false);

      const failure = await generateText({ model: modelFor(wire), prompt: "hi", maxRetries: 0 }).catch((error: unknown) => error);
      expect(APICallError.isInstance(failure)).toBe(true);
      expect(failure).toMatchObject({ statusCode: 429, responseHeaders: { "retry-after": "3" } });
    });

    test(`${wire}: GET /models lists a few models`, async () => {
      const response = await fetch(`${sim.baseURL(providerFor[wire])}/models`);
      expect(response.status).toBe(200);
      // Bedrock's control plane names its list `modelSummaries`, Gemini's `models`.
      const body = (await response.json()) as { data?: unknown[]; modelSummaries?: unknown[]; models?: unknown[] };
      expect((body.data ?? body.modelSummaries ?? body.models ?? []).length).toBeGreaterThan(0);
    });
  }

  test("unknown providers and routes are 404s, in the wire's error shape where there is a wire", async () => {
    expect(() => sim.baseURL("nope")).toThrow(/unknown provider "nope"/);
    expect(() => sim.script("nope", [])).toThrow();
    expect((await fetch(`${sim.url}/nope/v1/messages`, { method: "POST", body: "{}" })).status).toBe(404);

    const wrongRoute = await fetch(`${sim.baseURL("anthropic")}/chat/completions`, { method: "POST", body: "{}" });
    expect(wrongRoute.status).toBe(404);
    expect(await wrongRoute.json()).toMatchObject({ type: "error", error: { type: "not_found_error" } });
  });

  test("providers are independent: scripts and request logs are per provider", async () => {
    sim.script("openrouter", [{ text: "From the router." }]);
    const router = createOpenAICompatible({ name: "openrouter", baseURL: sim.baseURL("openrouter"), apiKey: "x" })("anthropic/claude-sonnet-4.5");
    const result = await observe(streamText({ model: router, prompt: "hi", maxRetries: 0 }));
    expect(result.text).toBe("From the router.");
    expect(sim.requests("openrouter")).toHaveLength(1);
    expect(sim.requests("github-copilot")).toHaveLength(0);
    expect(sim.requests("openrouter")[0]?.model).toBe("anthropic/claude-sonnet-4.5");
  });
});

describe("scripts for some requests only", () => {
  const withTools = (request: { body: unknown }) =>
    typeof request.body === "object" && request.body !== null && ("tools" in request.body || "toolConfig" in request.body);

  for (const wire of wires) {
    test(`${wire}: steps with a match are served only to matching requests; others take plain steps or the default`, async () => {
      const id = providerFor[wire];
      const getWeather = tool({ description: "weather", inputSchema: z.object({ city: z.string() }) });
      sim.script(id, [{ fault: faults.rateLimit() }, { text: "Tools seen." }], { match: withTools });
      sim.script(id, [{ text: "Plain step." }]);
      expect(sim.pending(id)).toBe(3);

      // A request without tools (like OpenCode's title call) skips the matched steps.
      expect((await observe(streamText({ model: modelFor(wire), prompt: "title", maxRetries: 0 }))).text).toBe("Plain step.");
      expect((await observe(streamText({ model: modelFor(wire), prompt: "title", maxRetries: 0 }))).text).toBe(`Hello from ${id}.`);
      expect(sim.pending(id)).toBe(2);

      const failed = await observe(streamText({ model: modelFor(wire), prompt: "hi", tools: { getWeather }, maxRetries: 0 }));
      expect(failed.errors).toHaveLength(1);
      expect((await observe(streamText({ model: modelFor(wire), prompt: "hi", tools: { getWeather }, maxRetries: 0 }))).text).toBe("Tools seen.");
      expect(sim.pending(id)).toBe(0);
      expect(sim.requests(id)).toHaveLength(4);
    });
  }
});

describe("tool-call round trip", () => {
  for (const wire of wires) {
    test(`${wire}: the model calls read_file, the SDK runs it, the second request carries the result`, async () => {
      const id = providerFor[wire];
      sim.script(id, [
        { text: "Let me look.", toolCall: { name: "read_file", input: { path: "README.md" } } },
        { text: "The README says hello." },
      ]);
      const reads: string[] = [];
      const result = streamText({
        model: modelFor(wire),
        prompt: "What does the README say?",
        maxRetries: 0,
        abortSignal: AbortSignal.timeout(1500),
        stopWhen: stepCountIs(3),
        tools: {
          read_file: tool({
            description: "Read a file",
            inputSchema: z.object({ path: z.string() }),
            execute: async ({ path }) => {
              reads.push(path);
              return `contents of ${path}: hello from the simulator`;
            },
          }),
        },
      });
      const seen = await observe(result);
      expect(reads).toEqual(["README.md"]);
      expect(seen.text).toBe("Let me look.The README says hello.");
      expect((await result.steps).map((step) => step.finishReason)).toEqual(["tool-calls", "stop"]);

      const requests = sim.requests(id);
      expect(requests).toHaveLength(2);
      const secondBody = JSON.stringify(requests[1]?.body);
      expect(secondBody).toContain("contents of README.md: hello from the simulator");
      // The tool result is sent in the wire's own shape, linked to the call.
      expect(secondBody).toContain({ anthropic: '"type":"tool_result"', openai: '"role":"tool"', openrouter: '"role":"tool"', bedrock: '"toolResult":', responses: '"type":"function_call_output"', google: '"functionResponse":' }[wire]);
      expect(secondBody).toContain({ anthropic: "toolu_sim", openai: "call_sim", openrouter: "call_sim", bedrock: "tooluse_sim", responses: "call_sim", google: '"name":"read_file"' }[wire]);
    });
  }
});

/**
 * What the caller observes, per catalog fault. `text` is what arrived before the fault. Faults that strike after text
 * stream the step's text ("Partial answer.") first.
 */
type Expected =
  | { channel: "error-part"; error: "APICallError"; statusCode: number | undefined; retryable: boolean; finishReason?: undefined }
  /** `finishReason: undefined`: the SDK failed the stream while it was still starting it (no finish part). */
  | { channel: "error-part"; error: "object" | "string"; finishReason: "error" | undefined }
  | { channel: "throw"; code: "ECONNRESET" }
  | { channel: "throw"; exception: string }
  | { channel: "throw"; errorName: "GoogleStreamError"; status: string }
  | { channel: "abort" }
  | { channel: "finish"; finishReason: "other" };

const apiError = (statusCode: number | undefined, retryable: boolean): Expected => ({ channel: "error-part", error: "APICallError", statusCode, retryable });

const expectations: Record<string, Partial<Record<TestedWire, { expected: Expected; text: string }>>> = {
  "rate-limit": { anthropic: { expected: apiError(429, true), text: "" }, openai: { expected: apiError(429, true), text: "" }, bedrock: { expected: apiError(429, true), text: "" }, openrouter: { expected: apiError(429, true), text: "" }, responses: { expected: apiError(429, true), text: "" }, google: { expected: apiError(429, true), text: "" } },
  "rate-limit-retry-after": { anthropic: { expected: apiError(429, true), text: "" }, openai: { expected: apiError(429, true), text: "" }, bedrock: { expected: apiError(429, true), text: "" }, openrouter: { expected: apiError(429, true), text: "" }, responses: { expected: apiError(429, true), text: "" }, google: { expected: apiError(429, true), text: "" } },
  "rate-limit-retry-after-ms": { anthropic: { expected: apiError(429, true), text: "" }, openai: { expected: apiError(429, true), text: "" }, bedrock: { expected: apiError(429, true), text: "" }, openrouter: { expected: apiError(429, true), text: "" }, responses: { expected: apiError(429, true), text: "" }, google: { expected: apiError(429, true), text: "" } },
  // Retryable by status code, though it will not clear for hours: read the body.
  "insufficient-quota": { openai: { expected: apiError(429, true), text: "" }, bedrock: { expected: apiError(429, true), text: "" }, responses: { expected: apiError(429, true), text: "" }, google: { expected: apiError(429, true), text: "" } },
  "insufficient-credits-402": { openrouter: { expected: apiError(402, false), text: "" } },
  "credit-balance-too-low": { anthropic: { expected: apiError(400, false), text: "" } },
  "overloaded-529": { anthropic: { expected: apiError(529, true), text: "" }, openai: { expected: apiError(529, true), text: "" } },
  "server-error-500": { anthropic: { expected: apiError(500, true), text: "" }, openai: { expected: apiError(500, true), text: "" }, bedrock: { expected: apiError(500, true), text: "" }, openrouter: { expected: apiError(500, true), text: "" }, responses: { expected: apiError(500, true), text: "" }, google: { expected: apiError(500, true), text: "" } },
  "unavailable-503": { anthropic: { expected: apiError(503, true), text: "" }, openai: { expected: apiError(503, true), text: "" }, bedrock: { expected: apiError(503, true), text: "" }, openrouter: { expected: apiError(503, true), text: "" }, responses: { expected: apiError(503, true), text: "" }, google: { expected: apiError(503, true), text: "" } },
  "auth-401": { anthropic: { expected: apiError(401, false), text: "" }, openai: { expected: apiError(401, false), text: "" }, bedrock: { expected: apiError(401, false), text: "" }, openrouter: { expected: apiError(401, false), text: "" }, responses: { expected: apiError(401, false), text: "" }, google: { expected: apiError(401, false), text: "" } },
  "forbidden-403": { anthropic: { expected: apiError(403, false), text: "" }, openai: { expected: apiError(403, false), text: "" }, bedrock: { expected: apiError(403, false), text: "" }, openrouter: { expected: apiError(403, false), text: "" }, responses: { expected: apiError(403, false), text: "" }, google: { expected: apiError(403, false), text: "" } },
  "context-length-400": { anthropic: { expected: apiError(400, false), text: "" }, openai: { expected: apiError(400, false), text: "" }, bedrock: { expected: apiError(400, false), text: "" }, openrouter: { expected: apiError(400, false), text: "" }, responses: { expected: apiError(400, false), text: "" }, google: { expected: apiError(400, false), text: "" } },
  // Anthropic: doStream reads the first event and throws an APICallError (overloaded → 529, anything else → 500).
  // OpenAI-compatible: just an error chunk, surfaced as its message string.
  "stream-error-first-event": {
    anthropic: { expected: apiError(529, true), text: "" },
    openai: { expected: { channel: "error-part", error: "string", finishReason: "error" }, text: "" },
    bedrock: { expected: { channel: "throw", exception: "serviceUnavailableException" }, text: "" },
    openrouter: { expected: { channel: "error-part", error: "object", finishReason: "error" }, text: "" },
    responses: { expected: apiError(500, true), text: "" },
    google: { expected: { channel: "throw", errorName: "GoogleStreamError", status: "UNAVAILABLE" }, text: "" },
  },
  "stream-error-after-text": {
    anthropic: { expected: { channel: "error-part", error: "object", finishReason: "error" }, text: "Partial answer." },
    openai: { expected: { channel: "error-part", error: "string", finishReason: "error" }, text: "Partial answer." },
    bedrock: { expected: { channel: "throw", exception: "serviceUnavailableException" }, text: "Partial answer." },
    openrouter: { expected: { channel: "error-part", error: "object", finishReason: "error" }, text: "Partial answer." },
    responses: { expected: { channel: "error-part", error: "object", finishReason: "error" }, text: "Partial answer." },
    google: { expected: { channel: "throw", errorName: "GoogleStreamError", status: "UNAVAILABLE" }, text: "Partial answer." },
  },
  // fetch fails before a response: wrapped as APICallError without statusCode ("Cannot connect to API"), cause ECONNRESET.
  "cut-before-first-byte": { anthropic: { expected: apiError(undefined, true), text: "" }, openai: { expected: apiError(undefined, true), text: "" }, bedrock: { expected: apiError(undefined, true), text: "" }, openrouter: { expected: apiError(undefined, true), text: "" }, responses: { expected: apiError(undefined, true), text: "" }, google: { expected: apiError(undefined, true), text: "" } },
  "cut-after-metadata": {
    anthropic: { expected: { channel: "throw", code: "ECONNRESET" }, text: "" },
    openai: { expected: { channel: "throw", code: "ECONNRESET" }, text: "" },
    bedrock: { expected: { channel: "throw", code: "ECONNRESET" }, text: "" },
    // @openrouter/ai-sdk-provider catches the socket error and passes it on as an error part.
    openrouter: { expected: { channel: "error-part", error: "object", finishReason: "error" }, text: "" },
    // @ai-sdk/openai reads the first events before it hands the stream over: a cut there is an error part.
    responses: { expected: { channel: "error-part", error: "object", finishReason: undefined }, text: "" },
    google: { expected: { channel: "throw", code: "ECONNRESET" }, text: "" },
  },
  "cut-after-text": {
    anthropic: { expected: { channel: "throw", code: "ECONNRESET" }, text: "Partial answer." },
    openai: { expected: { channel: "throw", code: "ECONNRESET" }, text: "Partial answer." },
    bedrock: { expected: { channel: "throw", code: "ECONNRESET" }, text: "Partial answer." },
    openrouter: { expected: { channel: "error-part", error: "object", finishReason: "error" }, text: "Partial answer." },
    responses: { expected: { channel: "throw", code: "ECONNRESET" }, text: "Partial answer." },
    google: { expected: { channel: "throw", code: "ECONNRESET" }, text: "Partial answer." },
  },
  "hang-before-first-byte": Object.fromEntries(wires.map((wire) => [wire, { expected: { channel: "abort" }, text: "" }])),
  "hang-after-metadata": Object.fromEntries(wires.map((wire) => [wire, { expected: { channel: "abort" }, text: "" }])),
  "stall-after-text": Object.fromEntries(wires.map((wire) => [wire, { expected: { channel: "abort" }, text: "Partial answer." }])),
  // A clean end of body without the terminal events: no error anywhere, only finishReason "other".
  "truncate-after-text": {
    anthropic: { expected: { channel: "finish", finishReason: "other" }, text: "Partial answer." },
    openai: { expected: { channel: "finish", finishReason: "other" }, text: "Partial answer." },
    bedrock: { expected: { channel: "finish", finishReason: "other" }, text: "Partial answer." },
    openrouter: { expected: { channel: "finish", finishReason: "other" }, text: "Partial answer." },
    responses: { expected: { channel: "finish", finishReason: "other" }, text: "Partial answer." },
    google: { expected: { channel: "finish", finishReason: "other" }, text: "Partial answer." },
  },
  // Bedrock's exception frames fail the stream through the watcher (@ai-sdk/amazon-bedrock 4.0.112 alone drops
  // them and ends with finish reason "other"), after the text that came before them.
  "stream-rate-limit-after-text": {
    anthropic: { expected: { channel: "error-part", error: "object", finishReason: "error" }, text: "Partial answer." },
    openai: { expected: { channel: "error-part", error: "string", finishReason: "error" }, text: "Partial answer." },
    bedrock: { expected: { channel: "throw", exception: "throttlingException" }, text: "Partial answer." },
    openrouter: { expected: { channel: "error-part", error: "object", finishReason: "error" }, text: "Partial answer." },
    responses: { expected: { channel: "error-part", error: "object", finishReason: "error" }, text: "Partial answer." },
    google: { expected: { channel: "throw", errorName: "GoogleStreamError", status: "RESOURCE_EXHAUSTED" }, text: "Partial answer." },
  },
  "stream-server-error-after-text": {
    anthropic: { expected: { channel: "error-part", error: "object", finishReason: "error" }, text: "Partial answer." },
    openai: { expected: { channel: "error-part", error: "string", finishReason: "error" }, text: "Partial answer." },
    bedrock: { expected: { channel: "throw", exception: "modelStreamErrorException" }, text: "Partial answer." },
    openrouter: { expected: { channel: "error-part", error: "object", finishReason: "error" }, text: "Partial answer." },
    responses: { expected: { channel: "error-part", error: "object", finishReason: "error" }, text: "Partial answer." },
    google: { expected: { channel: "throw", errorName: "GoogleStreamError", status: "INTERNAL" }, text: "Partial answer." },
  },
};

describe("fault matrix: how each fault reaches a streamText caller", () => {
  test("every catalog fault has an expectation for each of its wires, and nothing else", () => {
    const catalogued = FAULT_CATALOG.flatMap((entry) => entry.wires.map((wire) => `${entry.name}/${wire}`)).sort();
    const expected = Object.entries(expectations).flatMap(([name, byWire]) => Object.keys(byWire).map((wire) => `${name}/${wire}`)).sort();
    expect(catalogued).toEqual(expected);
    expect(new Set(FAULT_CATALOG.map((entry) => entry.name)).size).toBe(FAULT_CATALOG.length);
  });

  for (const entry of FAULT_CATALOG) {
    for (const wire of entry.wires) {
      const { expected, text } = expectations[entry.name]![wire]!;
      test(`${entry.name} on ${wire} → ${expected.channel}`, async () => {
        sim.script(providerFor[wire], [{ text: "Partial answer.", fault: entry.fault }]);
        // Hangs and stalls end only through this signal; everything else finishes long before it.
        const started = Date.now();
        const seen = await observe(stream(wire, { abortSignal: AbortSignal.timeout(250) }));
        const elapsed = Date.now() - started;

        expect(seen.text).toBe(text);
        expect(sim.requests(providerFor[wire])).toHaveLength(1);
        switch (expected.channel) {
          case "error-part": {
            expect(seen.thrown).toBeUndefined();
            expect(seen.aborted).toBe(false);
            expect(seen.errors).toHaveLength(1);
            const error = seen.errors[0];
            if (expected.error === "APICallError") {
              expect(APICallError.isInstance(error)).toBe(true);
              expect(error).toMatchObject({ statusCode: expected.statusCode, isRetryable: expected.retryable });
              // HTTP errors end the stream without a finish part.
              expect(seen.finishReason).toBeUndefined();
            } else {
              expect(APICallError.isInstance(error)).toBe(false);
              expect(typeof error === "string" ? "string" : typeof error).toBe(expected.error);
              expect(seen.finishReason).toBe(expected.finishReason);
            }
            expect(elapsed).toBeLessThan(200);
            break;
          }
          case "throw":
            expect(seen.errors).toHaveLength(0);
            expect(seen.thrown).toBeInstanceOf(Error);
            if ("code" in expected) expect(seen.thrown).toMatchObject({ code: expected.code });
            else if ("errorName" in expected)
              expect(GoogleStreamError.isInstance(seen.thrown) && seen.thrown.body.error.status).toBe(expected.status);
            else expect(BedrockStreamException.isInstance(seen.thrown) && seen.thrown.exceptionType).toBe(expected.exception);
            expect(APICallError.isInstance(seen.thrown)).toBe(false);
            expect(seen.finishReason).toBeUndefined();
            break;
          case "abort":
            expect(seen).toMatchObject({ aborted: true, errors: [], thrown: undefined, finishReason: undefined });
            expect(elapsed).toBeGreaterThanOrEqual(240);
            expect(elapsed).toBeLessThan(600);
            break;
          case "finish":
            expect(seen).toMatchObject({ aborted: false, errors: [], thrown: undefined, finishReason: expected.finishReason });
            break;
        }
        // Nothing is left running on the server once the client is done (hangs end when the client aborts).
        await waitFor(() => sim.inFlight() === 0);
      });
    }
  }
});

describe("fault details the classifier reads", () => {
  async function firstError(wire: TestedWire, fault: (typeof FAULT_CATALOG)[number]["fault"]): Promise<APICallError> {
    sim.script(providerFor[wire], [{ fault }]);
    const seen = await observe(stream(wire));
    const error = seen.errors[0];
    if (!APICallError.isInstance(error)) throw new Error(`expected an APICallError, got ${String(error)}`);
    return error;
  }

  for (const wire of wires) {
    test(`${wire}: retry-after and retry-after-ms reach responseHeaders`, async () => {
      expect((await firstError(wire, faults.rateLimit({ retryAfter: 7 }))).responseHeaders).toMatchObject({ "retry-after": "7" });
      expect((await firstError(wire, faults.rateLimit({ retryAfterMs: 1500 }))).responseHeaders).toMatchObject({ "retry-after-ms": "1500" });
      expect((await firstError(wire, faults.rateLimit())).responseHeaders).not.toHaveProperty("retry-after");
    });
  }

  test("anthropic: error bodies have the real shape and parse into `data`", async () => {
    const cases = [
      [faults.rateLimit(), "rate_limit_error", /rate limit/],
      [faults.overloaded(), "overloaded_error", /^Overloaded$/],
      [faults.serverError(), "api_error", /Internal server error/],
      [faults.auth(), "authentication_error", /x-api-key/],
      [faults.forbidden(), "permission_error", /permission/],
      [faults.contextLength(), "invalid_request_error", /^prompt is too long: 210000 tokens > 200000 maximum$/],
      [faults.quota({ wire: "anthropic" }), "invalid_request_error", /credit balance is too low/],
    ] as const;
    for (const [fault, type, message] of cases) {
      const error = await firstError("anthropic", fault);
      expect(error.data).toMatchObject({ type: "error", error: { type } });
      expect(error.message).toMatch(message);
      expect(JSON.parse(error.responseBody ?? "")).toMatchObject({ type: "error", error: { type } });
    }
  });

  test("anthropic: an error as the first event becomes APICallError 529 whose body is the error object", async () => {
    const error = await firstError("anthropic", faults.streamErrorFirst("overloaded"));
    expect(error).toMatchObject({ statusCode: 529, isRetryable: true, message: "Overloaded" });
    expect(JSON.parse(error.responseBody ?? "")).toEqual({ type: "overloaded_error", message: "Overloaded" });
    // Any other error type in the first event is a 500 that the SDK calls not retryable.
    const other = await firstError("anthropic", faults.streamErrorFirst("server_error"));
    expect(other).toMatchObject({ statusCode: 500, isRetryable: false });
  });

  test("anthropic: an error event after text is a plain object with no status code", async () => {
    sim.script("anthropic", [{ text: "Partial answer.", fault: faults.streamErrorAfterText("overloaded") }]);
    const seen = await observe(stream("anthropic"));
    expect(seen.errors).toEqual([{ type: "overloaded_error", message: "Overloaded" }]);
  });

  test("openai: error bodies have OpenAI's shape; insufficient_quota and context_length_exceeded are told by code", async () => {
    const quota = await firstError("openai", faults.quota({ wire: "openai" }));
    expect(quota).toMatchObject({ statusCode: 429, isRetryable: true, data: { error: { type: "insufficient_quota", code: "insufficient_quota" } } });
    const context = await firstError("openai", faults.contextLength());
    expect(context).toMatchObject({ statusCode: 400, data: { error: { code: "context_length_exceeded", param: "messages" } } });
    expect(context.message).toMatch(/maximum context length/);
    const limited = await firstError("openai", faults.rateLimit());
    expect(limited.data).toMatchObject({ error: { code: "rate_limit_exceeded" } });
  });

  test("cut before the first byte: APICallError without status, the ECONNRESET is its cause", async () => {
    const error = await firstError("openai", faults.cut("before-first-byte"));
    expect(error.statusCode).toBeUndefined();
    expect(error.message).toMatch(/Cannot connect to API/);
    expect(error.cause).toMatchObject({ code: "ECONNRESET" });
  });
});

describe("hangs, stalls and shutdown", () => {
  for (const wire of wires) {
    async function abortStall(reason?: unknown): Promise<Observation> {
      sim.script(providerFor[wire], [{ text: "Partial answer.", fault: faults.stall() }]);
      const controller = new AbortController();
      const seen = observe(stream(wire, { abortSignal: controller.signal }));
      await waitFor(() => sim.inFlight() === 1 && sim.requests(providerFor[wire]).length === 1);
      await Bun.sleep(30);
      controller.abort(reason);
      const observed = await seen;
      // The simulator notices the client going away and ends the stalled response.
      await waitFor(() => sim.inFlight() === 0);
      return observed;
    }

    test(`${wire}: a user abort (default reason) of a stall is an abort part, and the server side is cleaned up`, async () => {
      expect(await abortStall()).toMatchObject({ text: "Partial answer.", aborted: true, errors: [], thrown: undefined });
    });

    test(`${wire}: an abort with a custom Error reason is not an abort part: the iterator throws that reason`, async () => {
      // The SDK recognises aborts by error name (AbortError / TimeoutError); any other reason surfaces as itself.
      const reason = new Error("user pressed escape");
      const seen = await abortStall(reason);
      if (wire === "openrouter") {
        // @openrouter/ai-sdk-provider turns any abort of its request into an abort part, whatever the reason.
        expect(seen).toMatchObject({ text: "Partial answer.", aborted: true, errors: [], thrown: undefined });
        return;
      }
      expect(seen).toMatchObject({ text: "Partial answer.", aborted: false, errors: [] });
      expect(seen.thrown).toBe(reason);
    });
  }

  test("stop() finishes while a request hangs, and the client sees the connection go", async () => {
    const own = await startSimulator();
    own.addProvider("anthropic", "anthropic");
    own.script("anthropic", [{ fault: faults.hang("before-first-byte") }]);
    const result = streamText({ model: modelFor("anthropic", own), prompt: "hi", maxRetries: 0, onError: () => {} });
    const seen = observe(result);
    await waitFor(() => own.requests("anthropic").length === 1);
    const started = Date.now();
    await own.stop();
    expect(Date.now() - started).toBeLessThan(200);
    const observed = await seen;
    // Before the first byte the reset is a fetch failure: an error part, wrapped as APICallError without status.
    expect(observed.errors).toHaveLength(1);
    expect(APICallError.isInstance(observed.errors[0])).toBe(true);
    await own.stop(); // idempotent
  });

  test("await using stops the simulator at the end of the scope", async () => {
    let url = "";
    {
      await using scoped = await startSimulator();
      scoped.addProvider("openrouter", "openai");
      url = scoped.baseURL("openrouter");
      expect((await fetch(`${url}/models`)).status).toBe(200);
    }
    expect(await fetch(`${url}/models`).then(() => "answered", () => "refused")).toBe("refused");
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 500): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("waitFor: condition not met in time");
    await Bun.sleep(5);
  }
}

describe("copilot: one provider, three APIs", () => {
  test("Messages, Responses and chat completions each answer in their own shape, from one script and one request log", async () => {
    const own = await startSimulator();
    try {
      own.addProvider("github-copilot", "copilot");
      const base = own.baseURL("github-copilot");
      own.script("github-copilot", [{ text: "Claude on Copilot." }, { text: "GPT on Copilot." }, { text: "Chat on Copilot." }]);
      const claude = createAnthropic({ baseURL: base, apiKey: "gho-secret" })("claude-sonnet-4.5");
      const gpt = createOpenAI({ baseURL: base, apiKey: "gho-secret" }).responses("gpt-5.2");
      const chat = createOpenAICompatible({ name: "github-copilot", baseURL: base, apiKey: "gho-secret" })("gpt-4.1");
      for (const [model, text] of [
        [claude, "Claude on Copilot."],
        [gpt, "GPT on Copilot."],
        [chat, "Chat on Copilot."],
      ] as const) {
        const seen = await observe(streamText({ model, prompt: "hi", maxRetries: 0, onError: () => {} }));
        expect(seen).toMatchObject({ text, finishReason: "stop", errors: [] });
      }
      expect(own.requests("github-copilot").map((request) => request.path)).toEqual([
        "/github-copilot/v1/messages",
        "/github-copilot/v1/responses",
        "/github-copilot/v1/chat/completions",
      ]);
    } finally {
      await own.stop();
    }
  });
});
