/**
 * Durations, one parser and one formatter for the whole engine: config values (`"30s"`, `"5m"`, `1500`), the
 * Go-style durations OpenAI and Groq send in headers and bodies (`"6m0s"`, `"2m59.56s"`, `"20ms"`), and Gemini's
 * `retryDelay` (`"17s"`), read by `parseDuration`; everything shown to a person written by `formatDuration`.
 */

const UNITS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const
type Unit = keyof typeof UNITS
const ORDER: readonly Unit[] = ["d", "h", "m", "s", "ms"]
/** One `<number><unit>` part; `m` never eats the `m` of `ms`. */
const PART = /(\d+(?:\.\d+)?)\s*(ms|d|h|m(?!s)|s)/y

/**
 * Milliseconds for `"30s"`, `"1h2m3s"`, `"2m59.56s"`, `"250ms"`, `"1d"`; a number is milliseconds already. Parts
 * come largest unit first, each at most once. Undefined for anything else (negative, empty, `"5 minutes"`).
 */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === "number") return Number.isFinite(input) && input >= 0 ? input : undefined
  const text = input.trim()
  if (text === "") return undefined
  let total = 0
  let at = 0
  let lastUnit = -1
  PART.lastIndex = 0
  while (at < text.length) {
    PART.lastIndex = at
    const match = PART.exec(text)
    if (!match) return undefined
    const unit = match[2] as Unit
    const rank = ORDER.indexOf(unit)
    if (rank <= lastUnit) return undefined
    lastUnit = rank
    total += Number(match[1]) * UNITS[unit]
    at = PART.lastIndex
    while (text[at] === " ") at++
  }
  return total
}

/** `0.5 s`, `30 s`, `2 min`, `1 h 30 min`: tenths only where they matter, because a countdown to the ms is noise. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "until re-authenticated"
  if (ms < 9_950) return `${Math.max(0, Math.round(ms / 100) / 10)} s`
  const seconds = Math.max(0, Math.ceil(ms / 1000))
  if (seconds < 60) return `${seconds} s`
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `${minutes} min`
  const hours = Math.floor(minutes / 60)
  const rest = minutes % 60
  return rest ? `${hours} h ${rest} min` : `${hours} h`
}
