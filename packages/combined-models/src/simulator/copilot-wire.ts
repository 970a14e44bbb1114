import { anthropicWire } from "./anthropic-wire.ts";
import { openaiWire } from "./openai-wire.ts";
import { responsesWire } from "./responses-wire.ts";
import type { WireFormat } from "./wire.ts";

/**
 * GitHub Copilot serves three APIs under one base URL, and OpenCode's Copilot plugin picks one per model: Claude
 * models that list `/v1/messages` go to `@ai-sdk/anthropic` (`<base>/v1/messages`), GPT-5 models to OpenCode's
 * `@ai-sdk/github-copilot` Responses model (`<base>/responses`), the rest to its chat model (`<base>/chat/completions`).
 * Each path here answers in its API's own shape; scripts and request logs are shared, as they are one provider.
 */
export const copilotWire: WireFormat = {
  ...openaiWire,
  select(path) {
    if (path === anthropicWire.chatPath) return anthropicWire;
    if (path === responsesWire.chatPath) return responsesWire;
    return undefined;
  },
};
