/**
 * Whether this OpenCode is a combined-models build, and what to do instead of upgrading it in place. Upstream's
 * autoupdate treats a binary under `~/.local/bin` as a curl install and replaces it with the stock release on a patch
 * bump; `opencode upgrade` does the same on request. Either would silently drop the patches, so a combined-models build
 * only says that a release is out and how to rebuild on it.
 */

/** The semver build metadata `patch prepare --binary` / `patch build` give the version (`1.18.18+combined-models.<tip>`). */
export const BUILD_METADATA = "+combined-models."

export function isCombinedBuild(version: unknown): boolean {
  return typeof version === "string" && version.includes(BUILD_METADATA)
}

/** What `opencode upgrade` prints for a combined-models build instead of replacing it with stock OpenCode. */
export function rebuildAdvice(target?: string): string {
  const release = target ? `v${target.replace(/^v/, "")}` : "the new release"
  return [
    "This OpenCode is built with the combined-models patches: upgrading it would replace it with stock OpenCode.",
    `To move to ${release}, in your opencode-combined-models checkout:`,
    "  bun run patch check --opencode <checkout of the release>   # do the patches apply there?",
    "  bun run patch build --opencode <checkout of the release> --install <path of this binary>",
    "docs/maintaining.md says what to do when a patch no longer applies.",
  ].join("\n")
}
