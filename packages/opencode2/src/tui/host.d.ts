/**
 * The modules OpenCode 2 serves to a TUI plugin (its own copies; a plugin's own are refused), typed by us for the
 * few functions the TUI entry uses: Solid's universal renderer as OpenTUI exports it, and Solid's signals.
 */
declare module "@opentui/solid" {
  export type Node = object
  export function createElement(tag: string): Node
  export function setProp(node: Node, name: string, value: unknown, previous?: unknown): unknown
  export function insert(parent: Node, accessor: (() => unknown) | Node | string): void
  export function effect<T>(fn: (previous: T | undefined) => T, initial?: T): void
}

declare module "solid-js" {
  export function createSignal<T>(value: T): [() => T, (next: T | ((previous: T) => T)) => T]
  export function onCleanup(fn: () => void): void
}
